/**
 * logged-models/search in SQL: active models of some MLflow experiments of one project, filtered with the
 * logged-model vocabulary (filter-logged-models.ts), ordered, one OFFSET page (MLflow's own store pages by offset).
 */
import type { Knex } from 'knex';
import { isMysql, type Db } from '../knex.ts';
import { int64Bind } from '../../core/codecs.ts';
import { experimentNumbers } from '../experiments.ts';
import { LOGGED_MODEL_COLUMNS, toLoggedModelRow, WIRE_STATUS, type DbLoggedModelViewRow, type LoggedModelRow } from '../logged-models.ts';
import type { LoggedModelAttribute, LoggedModelClause } from './filter-logged-models.ts';
import { strCmp, strEq } from './sql.ts';

/** The stored status as its wire name, for LIKE filters on status. */
const WIRE_STATUS_SQL = `CASE m.status ${Object.entries(WIRE_STATUS).map(([k, v]) => `WHEN '${k}' THEN '${v}'`).join(' ')} END`;

/**
 * Active models of the given MLflow experiment ids (unknown ids are ignored) in this project, filtered and ordered
 * (ties: newest first, then model id), one page of `limit` starting at `offset`.
 */
export async function searchLoggedModels(
  db: Db,
  projectId: number,
  q: { experimentIds: string[]; clauses: LoggedModelClause[]; order: [LoggedModelAttribute, 'asc' | 'desc'][]; limit: number; offset: number },
): Promise<{ rows: LoggedModelRow[]; more: boolean }> {
  const numbers = experimentNumbers(q.experimentIds);
  if (!numbers.length) return { rows: [], more: false };
  const query = db('logged_models as m')
    .join('experiments as e', 'e.id', 'm.experiment_id')
    .where('m.project_id', projectId)
    .andWhere('e.project_id', projectId)
    .whereIn('e.experiment_id', numbers)
    .andWhere('m.lifecycle_stage', 'active');
  // String comparisons are the run search's (db/search/sql.ts): exact (case, trailing spaces), LIKE with `\` escapes.
  const mysql = isMysql(db);
  for (const c of q.clauses) {
    if (c.kind === 'attr') {
      // LIKE on status sees the wire names (LOGGED_MODEL_READY …); = and != were normalised by the parser
      const col = c.column === 'status' && (c.op === 'LIKE' || c.op === 'ILIKE') ? WIRE_STATUS_SQL : `m.${c.column}`;
      const f = strCmp(mysql, col, c.op, c.value);
      query.whereRaw(f.sql, f.bindings as Knex.RawBinding[]);
    } else if (c.kind === 'time') {
      query.where(`m.${c.column}`, c.op === '!=' ? '<>' : c.op, int64Bind(c.value));
    } else {
      const table = c.kind === 'tag' ? 'logged_model_tags' : 'logged_model_params';
      const key = strEq(mysql, 'x.key', c.key);
      const value = strCmp(mysql, 'x.value', c.op, c.value);
      query.whereExists(function (this: Knex.QueryBuilder) {
        this.select(db.raw('1'))
          .from(`${table} as x`)
          .whereRaw('?? = ??', ['x.model_id', 'm.id'])
          .whereRaw(key.sql, key.bindings as Knex.RawBinding[])
          .whereRaw(value.sql, value.bindings as Knex.RawBinding[]);
      });
    }
  }
  for (const [attr, dir] of q.order) query.orderBy(`m.${attr}`, dir);
  query.orderBy('m.creation_time', 'desc').orderBy('m.model_id', 'asc');
  const found: DbLoggedModelViewRow[] = await query.limit(q.limit + 1).offset(q.offset).select(LOGGED_MODEL_COLUMNS);
  const rows = found.map(toLoggedModelRow);
  const more = rows.length > q.limit;
  return { rows: more ? rows.slice(0, q.limit) : rows, more };
}
