/**
 * experiments/search in SQL, with keyset pagination like runs (see runs.ts and sql.ts).
 * Default order `creation_time DESC, experiment_id ASC`; `experiment_id DESC` is appended as the
 * tie-breaker when experiment_id is not ordered (MLflow's rule). experiment_id is the per-project
 * number, unique within the project, so it always ends the sort key. The token is returned only
 * when more rows exist (limit + 1 probe), as MLflow does for experiments.
 */
import type { Knex } from 'knex';
import { isMysql } from '../knex.ts';
import type { ExperimentKey } from '../tables.ts';
import { parseExperimentFilter, parseExperimentOrderBy, type ExperimentClause, type ExperimentOrderKey } from './parse.ts';
import { lifecycleStages, type ViewType } from '../../core/entities.ts';
import {
  and,
  intOrDouble,
  joinFrags,
  orderByKeys,
  raw,
  keysetPage,
  pageCursor,
  seekAfter,
  selectRows,
  selectSortKeys,
  sortStr,
  sql,
  strCmp,
  strEq,
  type Frag,
  type SortTerm,
} from './sql.ts';
import { LIMITS } from '../../core/validation.ts';
import { sortSignature } from '../../core/page-token.ts';

export interface SearchExperimentsQuery {
  projectId: number;
  filter?: string;
  orderBy?: string[];
  /** 1..LIMITS.SEARCH_MAX_RESULTS_THRESHOLD, validated by the caller. */
  maxResults: number;
  pageToken?: string;
  viewType: ViewType;
}

export interface SearchExperimentsResult {
  /** Internal experiments.id values, in page order. */
  experimentIds: ExperimentKey[];
  nextPageToken?: string;
}

const DEFAULT_ORDER = ['creation_time DESC', 'experiment_id ASC'];

function filterFrag(mysql: boolean, c: ExperimentClause): Frag {
  if (c.kind === 'tag') {
    return sql`EXISTS (SELECT 1 FROM experiment_tags f WHERE f.experiment_id = e.id AND ${strEq(mysql, 'f.key', c.key)} AND ${strCmp(mysql, 'f.value', c.op, c.value)})`;
  }
  if (c.key === 'name') return strCmp(mysql, 'e.name', c.op, c.value);
  return sql`${raw(`e.${c.key}`)} ${raw(c.op === '!=' ? '<>' : c.op)} ${intOrDouble(mysql, c.value)}`;
}

function term(mysql: boolean, key: ExperimentOrderKey, ascending: boolean): SortTerm {
  const desc = !ascending;
  if (key === 'name') return { expr: raw(sortStr(mysql, 'e.name')), type: 'str', desc };
  return { expr: raw(`e.${key}`), type: 'int', desc };
}

export async function searchExperiments(db: Knex, q: SearchExperimentsQuery): Promise<SearchExperimentsResult> {
  if (!Number.isInteger(q.maxResults) || q.maxResults < 1 || q.maxResults > LIMITS.SEARCH_MAX_RESULTS_THRESHOLD) {
    throw new Error(`searchExperiments: maxResults must be 1..${LIMITS.SEARCH_MAX_RESULTS_THRESHOLD} (validated by the caller), got ${q.maxResults}`);
  }
  if (!Number.isSafeInteger(q.projectId)) throw new Error(`searchExperiments: bad project id ${q.projectId}`);
  const mysql = isMysql(db);
  const clauses = parseExperimentFilter(q.filter);
  const orderBy = parseExperimentOrderBy(q.orderBy && q.orderBy.length > 0 ? q.orderBy : DEFAULT_ORDER);
  const terms: SortTerm[] = [];
  for (const o of orderBy) {
    terms.push(term(mysql, o.key, o.ascending));
    if (o.key === 'experiment_id') break; // unique within the project: later keys never matter
  }
  if (!orderBy.some((o) => o.key === 'experiment_id')) terms.push(term(mysql, 'experiment_id', false));
  const signature = sortSignature(['experiments', orderBy.map((o) => [o.key, o.ascending])]);
  const after = pageCursor(q.pageToken, 'experiments', signature, terms);

  const stages = lifecycleStages(q.viewType);
  const where: Frag[] = [
    sql`e.project_id = ${q.projectId}`,
    sql`e.lifecycle_stage IN (${joinFrags(stages.map((s) => sql`${s}`), ', ')})`,
    ...clauses.map((c) => filterFrag(mysql, c)),
  ];
  if (after) where.push(seekAfter(mysql, terms, after));

  const query = sql`SELECT e.id AS id, ${selectSortKeys(terms)} FROM experiments e WHERE ${and(where)} ORDER BY ${raw(orderByKeys(terms))} LIMIT ${raw(String(q.maxResults + 1))}`;
  const rows = await selectRows<Record<string, unknown>>(db, query);
  const { ids, nextPageToken } = keysetPage(rows, q.maxResults, 'experiments', signature, terms);
  const experimentIds = ids as ExperimentKey[];
  return nextPageToken ? { experimentIds, nextPageToken } : { experimentIds };
}
