/**
 * runs/search in SQL: filter, MLflow's ordering and keyset pagination in one SELECT (a few, each bounded, when the
 * order starts with a metric or start_time: the value band, db/search/run-band.ts).
 *
 * Ordering (MLflow's SQL store): for each order_by item, runs with a value first, then (metrics)
 * NaN, then runs lacking the key — for ASC and DESC alike — then the value; then `start_time DESC`
 * unless start_time was ordered already; then `run_uuid ASC`. Default: start_time DESC, run_uuid ASC.
 * Each item becomes non-null sort terms (a has-value/NaN flag, COALESCE'd value), so the page
 * token can carry the last row's terms and the next page starts strictly after them: a run
 * created while a client pages never shifts the others (no OFFSET).
 *
 * A next_page_token is returned only when more rows exist (limit + 1 probe); MLflow's own SQL
 * store returns one whenever the page is full, which can cost clients a final empty request.
 *
 * Filters follow MLflow: a run lacking the metric/param/tag never matches (also not for `!=`);
 * metric comparisons use the latest value and never match NaN; attributes.run_name compares
 * runs.name; dataset clauses match when any of the run's dataset inputs matches.
 */
import type { Knex } from 'knex';
import { lifecycleStages, type ViewType } from '../../core/entities.ts';
import { isMysql } from '../knex.ts';
import type { ExperimentKey } from '../tables.ts';
import { parseRunFilter, parseRunOrderBy, type RunAttribute, type RunClause, type RunOrderBy } from './parse.ts';
import {
  and,
  dbl,
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
import { bandRows, type Band } from './run-band.ts';


export interface SearchRunsQuery {
  /** ExperimentKey values (experiments.id), already access-checked; typed `number` so fixtures may pass plain ids. */
  experimentIds: readonly (ExperimentKey | number)[];
  filter?: string;
  orderBy?: string[];
  /** 1..LIMITS.SEARCH_MAX_RESULTS_THRESHOLD, validated by the caller. */
  maxResults: number;
  pageToken?: string;
  viewType: ViewType;
}

export interface SearchRunsResult {
  /** Internal runs.id values, in page order. */
  runIds: number[];
  nextPageToken?: string;
}

const ATTRIBUTE_COLUMNS: Record<RunAttribute, string> = {
  run_id: 'r.run_uuid',
  run_name: 'r.name',
  status: 'r.status',
  user_id: 'r.user_id',
  artifact_uri: 'r.artifact_uri',
  start_time: 'r.start_time',
  end_time: 'r.end_time',
};

const DATASET_CONTEXT_TAG = 'mlflow.data.context';


/**
 * SQLite evaluates these EXISTS once per run, so the row's primary key (run_id, key) is the index to read; `+f.value`
 * keeps its planner from reading (key, value) instead (003's indexes, which ignore the run): with statistics on some
 * tables and not others it did, and checked every run's filter against all 25,000 values of the key (a page: 7.6 s
 * instead of 15 ms). MariaDB turns EXISTS into a semi-join, which 003's indexes serve, so it keeps the plain column.
 */
function filterFrag(mysql: boolean, c: RunClause): Frag {
  const value = mysql ? 'f.value' : '+f.value';
  switch (c.kind) {
    case 'metric':
      return sql`EXISTS (SELECT 1 FROM latest_metrics f WHERE f.run_id = r.id AND ${strEq(mysql, 'f.key', c.key)} AND f.is_nan = 0 AND ${raw(value)} ${raw(c.op === '!=' ? '<>' : c.op)} ${dbl(mysql, c.value.value)})`;
    case 'param':
    case 'tag': {
      const table = c.kind === 'param' ? 'params' : 'tags';
      return sql`EXISTS (SELECT 1 FROM ${raw(table)} f WHERE f.run_id = r.id AND ${strEq(mysql, 'f.key', c.key)} AND ${strCmp(mysql, value, c.op, c.value)})`;
    }
    case 'attribute': {
      const col = ATTRIBUTE_COLUMNS[c.key];
      if (c.key === 'start_time' || c.key === 'end_time') {
        // end_time IS NULL never matches, as in MLflow
        return sql`${raw(col)} ${raw(c.op === '!=' ? '<>' : c.op)} ${intOrDouble(mysql, c.value as { text: string; value: number })}`;
      }
      return strCmp(mysql, col, c.op as Parameters<typeof strCmp>[2], c.value as string | string[]);
    }
    case 'dataset': {
      if (c.key === 'context') {
        return sql`EXISTS (SELECT 1 FROM input_tags f WHERE f.run_id = r.id AND ${strEq(mysql, 'f.key', DATASET_CONTEXT_TAG)} AND ${strCmp(mysql, 'f.value', c.op, c.value)})`;
      }
      return sql`EXISTS (SELECT 1 FROM run_inputs ri JOIN datasets d ON d.id = ri.dataset_id WHERE ri.run_id = r.id AND ${strCmp(mysql, `d.${c.key}`, c.op, c.value)})`;
    }
  }
}

interface Plan {
  joins: Frag[];
  terms: SortTerm[];
  band?: Band;
}

/** runs (experiment_id, lifecycle_stage, start_time) */
const startTimeBand: Band = {
  term: 0,
  expr: 'r.start_time',
  source: (ids, stages) => ({
    table: 'runs b',
    column: 'b.start_time',
    where: sql`b.experiment_id IN (${raw(ids)}) AND b.lifecycle_stage IN (${joinFrags(stages.map((st) => sql`${st}`), ', ')})`,
  }),
};

function orderPlan(mysql: boolean, orderBy: RunOrderBy[]): Plan {
  const joins: Frag[] = [];
  const terms: SortTerm[] = [];
  let band: Band | undefined;
  let startTimeOrdered = false;
  let unique = false;
  orderBy.forEach((o, i) => {
    if (unique) return; // everything after run_id is already decided
    const desc = !o.ascending;
    if (o.kind === 'attribute') {
      const col = ATTRIBUTE_COLUMNS[o.key];
      switch (o.key) {
        case 'start_time':
          startTimeOrdered = true;
          if (i === 0) band = startTimeBand;
          terms.push({ expr: raw(col), type: 'int', desc });
          break;
        case 'end_time':
          terms.push({ expr: raw(`CASE WHEN ${col} IS NULL THEN 1 ELSE 0 END`), type: 'flag', desc: false });
          terms.push({ expr: raw(`COALESCE(${col}, 0)`), type: 'int', desc });
          break;
        case 'run_id':
          unique = true;
          terms.push({ expr: raw(col), type: 'str', desc });
          break;
        default:
          terms.push({ expr: raw(sortStr(mysql, col)), type: 'str', desc });
      }
      return;
    }
    const alias = `o${i}`;
    const table = o.kind === 'metric' ? 'latest_metrics' : o.kind === 'param' ? 'params' : 'tags';
    joins.push(sql`LEFT JOIN ${raw(table)} ${raw(alias)} ON ${raw(alias)}.run_id = r.id AND ${strEq(mysql, `${alias}.key`, o.key)}`);
    if (o.kind === 'metric') {
      if (i === 0) {
        band = {
          term: 1,
          flag: 0,
          expr: `${alias}.value`,
          // rows that have the key, read in the band index's order: the join order is fixed, as SQLite's planner,
          // once ANALYZE had run, started from runs and checked the filters on every run of the experiment
          // (measured: a first page at 5.5 s instead of 14 ms, a filter's EXISTS on params then read by its value)
          from: sql`latest_metrics ${raw(alias)} ${raw(mysql ? 'STRAIGHT_JOIN' : 'CROSS JOIN')} runs r ON r.id = ${raw(alias)}.run_id AND ${strEq(mysql, `${alias}.key`, o.key)}`,
          // latest_metrics (experiment_id, key, is_nan, value, run_id), migration 008: the page query reads the band
          // from the index (experiment_id is set on every row, see 008), not the value range of every experiment
          inSegment: (ids) => raw(`${alias}.experiment_id IN (${ids}) AND ${alias}.is_nan = 0`),
          after: {
            nan: (ids) => raw(`${alias}.experiment_id IN (${ids}) AND ${alias}.is_nan <> 0`),
            missing: raw(`${alias}.run_id IS NULL`),
            complete: async (db, ids) => {
              // runs never change experiment and (run_id, key) is latest_metrics' primary key: equal counts ⇒ every run
              // of these experiments (of any lifecycle stage) has the key
              const [[runs], [values]] = await Promise.all([
                selectRows<{ n: unknown }>(db, raw(`SELECT COUNT(*) AS n FROM runs WHERE experiment_id IN (${ids})`)),
                selectRows<{ n: unknown }>(db, sql`SELECT COUNT(*) AS n FROM latest_metrics c WHERE c.experiment_id IN (${raw(ids)}) AND ${strEq(mysql, 'c.key', o.key)}`),
              ]);
              return Number(runs!.n) === Number(values!.n);
            },
          },
          source: (ids) => ({
            table: 'latest_metrics b',
            column: 'b.value',
            where: sql`b.experiment_id IN (${raw(ids)}) AND ${strEq(mysql, 'b.key', o.key)} AND b.is_nan = 0`,
          }),
        };
      }
      // 0 = has a value, 1 = NaN, 2 = missing; NaN rows store value 0 but do not rely on it
      terms.push({ expr: raw(`CASE WHEN ${alias}.run_id IS NULL THEN 2 WHEN ${alias}.is_nan <> 0 THEN 1 ELSE 0 END`), type: 'flag', desc: false });
      terms.push({ expr: raw(`CASE WHEN ${alias}.is_nan = 0 THEN ${alias}.value ELSE 0 END`), type: 'num', desc });
    } else {
      terms.push({ expr: raw(`CASE WHEN ${alias}.run_id IS NULL THEN 1 ELSE 0 END`), type: 'flag', desc: false });
      terms.push({ expr: raw(`COALESCE(${sortStr(mysql, `${alias}.value`)}, '')`), type: 'str', desc });
    }
  });
  if (!unique) {
    if (!startTimeOrdered) {
      if (terms.length === 0) band = startTimeBand;
      terms.push({ expr: raw('r.start_time'), type: 'int', desc: true });
    }
    terms.push({ expr: raw('r.run_uuid'), type: 'str', desc: false });
  }
  return { joins, terms, band };
}

export async function searchRuns(db: Knex, q: SearchRunsQuery): Promise<SearchRunsResult> {
  if (!Number.isInteger(q.maxResults) || q.maxResults < 1 || q.maxResults > LIMITS.SEARCH_MAX_RESULTS_THRESHOLD) {
    throw new Error(`searchRuns: maxResults must be 1..${LIMITS.SEARCH_MAX_RESULTS_THRESHOLD} (validated by the caller), got ${q.maxResults}`);
  }
  const mysql = isMysql(db);
  // Parse everything (and validate the token) before deciding there is nothing to search.
  const clauses = parseRunFilter(q.filter);
  const orderBy = parseRunOrderBy(q.orderBy);
  const plan = orderPlan(mysql, orderBy);
  const { joins, terms } = plan;
  const signature = sortSignature(['runs', orderBy.map((o) => [o.kind, o.key, o.ascending])]);
  const after = pageCursor(q.pageToken, 'runs', signature, terms);
  const stages = lifecycleStages(q.viewType);
  const experimentIds = [...new Set(q.experimentIds)];
  if (experimentIds.length === 0) return { runIds: [] };
  for (const id of experimentIds) if (!Number.isSafeInteger(id)) throw new Error(`searchRuns: bad experiment id ${id}`);

  const where: Frag[] = [
    raw(`r.experiment_id IN (${experimentIds.join(', ')})`),
    sql`r.lifecycle_stage IN (${joinFrags(stages.map((s) => sql`${s}`), ', ')})`,
    ...clauses.map((c) => filterFrag(mysql, c)),
  ];
  const limit = q.maxResults + 1;
  // `from`: the metric band's (its join is the first), for rows that have the key
  const select = (conditions: Frag[], n = limit, from?: Frag) =>
    selectRows<Record<string, unknown>>(
      db,
      sql`SELECT r.id AS id, ${selectSortKeys(terms)} FROM ${from ? joinFrags([from, ...joins.slice(1)], ' ') : sql`runs r ${joinFrags(joins, ' ')}`} WHERE ${and(conditions)} ORDER BY ${raw(orderByKeys(terms))} LIMIT ${raw(String(n))}`,
    );
  if (after) where.push(seekAfter(mysql, terms, after));
  const band = plan.band;
  const banded = band && (await bandRows({ db, mysql, terms, band, after, ids: experimentIds.join(', '), stages, limit, select: (c, n, from) => select([...where, c], n, from) }));
  const rows = banded || (await select(where));
  const { ids, nextPageToken } = keysetPage(rows, q.maxResults, 'runs', signature, terms);
  return nextPageToken ? { runIds: ids, nextPageToken } : { runIds: ids };
}
