import type { Db } from './knex.ts';
import { isMysql } from './knex.ts';
import { arrayRows, int64Text } from './array-rows.ts';
import { requireRun } from './runs.ts';
import { groupBy } from './tx.ts';
import { notFound } from '../core/errors.ts';
import { int64Bind, int64Col, wireValue, type Int64 } from '../core/codecs.ts';
import type { Metric } from '../core/entities.ts';
import type { DbInt64, DbMetricRow, DbRunRow } from './tables.ts';

/**
 * Metric history reads. The `metrics` primary key (run_id, key, timestamp, step, value, is_nan) is the index for
 * all of them: a run's history of one key comes out in (timestamp, step, value) order straight from it.
 */

export interface MetricWithRunId extends Metric {
  run_id: string;
}

/** MLflow's `MAX_RESULTS_GET_METRIC_HISTORY`: the most points a run contributes to a bulk-interval answer. */
export const MAX_POINTS_PER_RUN = 25000;

const toMetric = (r: Pick<DbMetricRow, 'key' | 'value' | 'timestamp' | 'step' | 'is_nan'>): Metric => ({
  key: r.key,
  value: wireValue(r.value, r.is_nan),
  timestamp: int64Col(r.timestamp),
  step: int64Col(r.step),
});

/**
 * metrics/get-history: one page of a run's history of `key`, ordered (timestamp, step, value) as MLflow's SQL store
 * orders it. `maxResults` undefined means everything from `offset` on. `more` tells whether rows follow the page
 * (limit + 1 probe). An unknown run, or one of another project, is 404.
 */
export async function getMetricHistory(
  db: Db,
  projectId: number,
  runUuid: string,
  key: string,
  page: { offset: number; maxResults?: number },
): Promise<{ metrics: Metric[]; more: boolean }> {
  const run = await requireRun(db, projectId, runUuid);
  // the same statement as the streamed answer's (exact doubles on MySQL), one row past the page telling whether more follow
  const rows = await historyArrays(db, run.id, key, null, page.maxResults === undefined ? Number.MAX_SAFE_INTEGER : page.maxResults + 1, page.offset);
  const more = page.maxResults !== undefined && rows.length > page.maxResults;
  if (more) rows.length = page.maxResults!;
  return { metrics: rows.map((r) => ({ key, value: wireValue(r[0] as number, r[3]), timestamp: int64Col(r[1]), step: int64Col(r[2]) })), more };
}

export type HistoryRow = Pick<DbMetricRow, 'key' | 'value' | 'timestamp' | 'step' | 'is_nan'>;

/** Where a page of a history left off: its last row's (timestamp, step, value, is_nan), as stored. */
export interface HistoryCursor {
  timestamp: Int64;
  step: Int64;
  value: number;
  is_nan: boolean;
}

/**
 * One page of a run's history of `key`, in the primary key's order (timestamp, step, value, is_nan), after `cursor`.
 * Keyset paging: `timestamp >= t` leads so both databases seek straight to the cursor in the index (MariaDB 10.11 scans
 * a row constructor `(timestamp, step, value, is_nan) > (…)` from the start of the key: EXPLAIN type ref, not range).
 */
export async function historyPage(
  db: Db,
  runId: number,
  key: string,
  cursor: HistoryCursor | null,
  limit: number,
  offset = 0,
): Promise<HistoryRow[]> {
  const rows = await historyArrays(db, runId, key, cursor, limit, offset);
  const out: HistoryRow[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    out[i] = { key, value: r[0] as number, timestamp: r[1] as DbInt64, step: r[2] as DbInt64, is_nan: r[3] as number };
  }
  return out;
}

/** Off only for the bench's same-run baseline (scripts/bench/history-ab.ts): MySQL reads the history as text then. */
export const historyBinary = { enabled: true };

/**
 * historyPage's rows as the driver's arrays [value, timestamp, step, is_nan]: no object a row. MySQL: a prepared
 * statement (binary protocol; int64 bounds bound as digit strings): the stored 8 bytes of each double instead of
 * text the server prints and this process parses (100k points 262 → 156 ms, same run, history-ab.ts). Text reads
 * are exact too (db/knex.ts exactDoubles), only slower.
 */
async function historyArrays(db: Db, runId: number, key: string, cursor: HistoryCursor | null, limit: number, offset = 0): Promise<unknown[][]> {
  const mysql = isMysql(db) && historyBinary.enabled;
  const binds: unknown[] = [runId, key];
  // int64 bounds: a digit string the database reads as an integer (mysql2 would send a JS number as a DOUBLE)
  const i64 = mysql ? 'CAST(? AS SIGNED)' : '?';
  const i64Bind = (v: Int64) => (mysql ? String(v) : int64Bind(v));
  let sql = `SELECT value, ${int64Text(db, '`timestamp`')}, ${int64Text(db, 'step')}, is_nan FROM metrics WHERE run_id = ? AND \`key\` = ?`;
  if (cursor) {
    const t = i64Bind(cursor.timestamp);
    const st = i64Bind(cursor.step);
    sql += ` AND \`timestamp\` >= ${i64} AND (\`timestamp\` > ${i64} OR (\`timestamp\` = ${i64} AND (step > ${i64} OR (step = ${i64} AND (value > ? OR (value = ? AND is_nan > ?))))))`;
    binds.push(t, t, t, st, st, cursor.value, cursor.value, cursor.is_nan ? 1 : 0);
  }
  sql += ' ORDER BY `timestamp`, step, value, is_nan LIMIT ?';
  binds.push(limit);
  if (!cursor && offset > 0) {
    sql += ' OFFSET ?';
    binds.push(offset);
  }
  return arrayRows(db, sql, binds, { numbers: true, text: !historyBinary.enabled });
}

/** Rows a page of a streamed history reads: ~80 kB of JSON. 100k points: 1,000 a page kept the server RSS rise at 7.5-7.8 MB,
 * 2,000 at 11 MB, 5,000 at 12-15 MB (young-generation growth), at the same time to the last byte within noise. On
 * MySQL, 2,000-5,000 a page: 8-11 MB, no faster beyond noise (0.67-0.90 s against 0.83 s, the machine loaded). */
export const STREAM_PAGE = 1000;

/**
 * metrics/get-history as pages read one after another (keyset on the primary key, so each page is one index seek):
 * the same rows, in the same order, as getMetricHistory, for an answer written while it is read. The run is checked
 * first (404 before anything is written). `more` is known once the last page is read.
 */
export async function streamMetricHistory(
  db: Db,
  projectId: number,
  runUuid: string,
  key: string,
  page: { offset: number; maxResults?: number },
): Promise<{ pages: AsyncGenerator<Metric[]>; more: () => boolean }> {
  const run = await requireRun(db, projectId, runUuid);
  let more = false;
  async function* pages(): AsyncGenerator<Metric[]> {
    let left = page.maxResults ?? Infinity;
    let cursor: HistoryCursor | null = null;
    for (;;) {
      // one row past maxResults tells whether more follow
      const want = Math.min(STREAM_PAGE, left + 1);
      const rows = await historyArrays(db, run.id, key, cursor, want, cursor ? 0 : page.offset);
      if (rows.length > left) {
        more = true;
        rows.length = left;
      }
      if (rows.length) {
        const out: Metric[] = new Array(rows.length);
        for (let i = 0; i < rows.length; i++) {
          const r = rows[i]!;
          out[i] = { key, value: wireValue(r[0] as number, r[3]), timestamp: int64Col(r[1]), step: int64Col(r[2]) };
        }
        yield out;
      }
      left -= rows.length;
      if (more || rows.length < want) return; // left 0 after a full page: the next round reads the one-row probe
      const last = rows[rows.length - 1]!;
      cursor = { value: last[0] as number, timestamp: int64Col(last[1]), step: int64Col(last[2]), is_nan: Number(last[3]) !== 0 };
    }
  }
  return { pages: pages(), more: () => more };
}

export const cursorOf = (r: HistoryRow): HistoryCursor => ({
  timestamp: int64Col(r.timestamp),
  step: int64Col(r.step),
  value: Number(r.value),
  is_nan: Number(r.is_nan) !== 0,
});

const cmpStep = (a: Int64, b: Int64) => (a < b ? -1 : a > b ? 1 : 0);

/** Python's `bisect_left` / `bisect_right` on a sorted list of steps. */
function bisect(steps: Int64[], x: Int64, right: boolean): number {
  let lo = 0;
  let hi = steps.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const s = steps[mid]!;
    if (right ? x < s : s < x) {
      if (right) hi = mid;
      else lo = mid + 1;
    } else if (right) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The steps MLflow's `AbstractStore.get_metric_history_bulk_interval` samples: the distinct steps of all runs in
 * [start, end] (start 0 and end the greatest step when neither is given); all of them when there are at most
 * `maxResults`, else `maxResults` evenly spaced ones (index start + int(i * n / maxResults)) plus the last; and
 * always each run's own smallest and greatest step when they fall in the range. Sorted ascending.
 */
export function sampleSteps(
  allSteps: Int64[],
  runMinMax: Int64[],
  maxResults: number,
  range: { start: Int64; end: Int64 },
): Int64[] {
  const { start, end } = range;
  const startIdx = bisect(allSteps, start, false);
  const endIdx = bisect(allSteps, end, true);
  const sampled = new Set<Int64>();
  if (endIdx - startIdx <= maxResults) {
    for (let i = startIdx; i < endIdx; i++) sampled.add(allSteps[i]!);
  } else {
    const interval = (endIdx - startIdx) / maxResults;
    for (let i = 0; i < maxResults; i++) {
      const idx = startIdx + Math.trunc(i * interval);
      if (idx < endIdx) sampled.add(allSteps[idx]!);
    }
    sampled.add(allSteps[endIdx - 1]!);
  }
  for (const s of runMinMax) if (start <= s && s <= end) sampled.add(s);
  return [...sampled].sort(cmpStep);
}

/**
 * metrics/get-history-bulk-interval: for each run (in the order asked, 404 for one not in the project), its points
 * of `key` at the sampled steps, ordered (step, timestamp, value), at most MAX_POINTS_PER_RUN of them.
 * Steps are read as DISTINCT values and per-run MIN/MAX rather than whole histories.
 */
export async function getMetricHistoryBulkInterval(
  db: Db,
  projectId: number,
  runUuids: string[],
  key: string,
  opts: { maxResults: number; startStep?: Int64; endStep?: Int64 },
): Promise<MetricWithRunId[]> {
  const found = await db<DbRunRow>('runs').where('project_id', projectId).whereIn('run_uuid', [...new Set(runUuids)]).select('id', 'run_uuid');
  const byUuid = new Map<string, number>(found.map((r) => [r.run_uuid, Number(r.id)]));
  const missing = runUuids.find((u) => !byUuid.has(u));
  if (missing !== undefined) throw notFound(`Run with id=${missing} not found`);
  const ids = [...byUuid.values()];

  const minMax: { run_id: number; lo: DbMetricRow['step']; hi: DbMetricRow['step'] }[] = await db<DbMetricRow>('metrics')
    .whereIn('run_id', ids)
    .andWhere('key', key)
    .groupBy('run_id')
    .select('run_id')
    .min({ lo: 'step' })
    .max({ hi: 'step' });
  const runMinMax: Int64[] = [];
  let greatest: Int64 | undefined;
  for (const r of minMax) {
    const lo = int64Col(r.lo);
    const hi = int64Col(r.hi);
    runMinMax.push(lo, hi);
    if (greatest === undefined || hi > greatest) greatest = hi;
  }

  let start: Int64;
  let end: Int64;
  if (opts.startStep === undefined && opts.endStep === undefined) {
    start = 0;
    end = greatest ?? 0;
  } else {
    start = opts.startStep!;
    end = opts.endStep!;
  }

  const distinct = await db<DbMetricRow>('metrics')
    .whereIn('run_id', ids)
    .andWhere('key', key)
    .andWhere('step', '>=', int64Bind(start))
    .andWhere('step', '<=', int64Bind(end))
    .distinct('step')
    .orderBy('step', 'asc');
  const allSteps = distinct.map((r) => int64Col(r.step));
  const steps = sampleSteps(allSteps, runMinMax, opts.maxResults, { start, end });
  if (!steps.length) return [];

  const rows: DbMetricRow[] = [];
  // one IN list per statement stays below the bind limits: at most maxResults (2500) + 2 per run steps
  const stepBinds = steps.map(int64Bind);
  for (let i = 0; i < stepBinds.length; i += 5000) {
    rows.push(
      ...(await db<DbMetricRow>('metrics')
        .whereIn('run_id', ids)
        .andWhere('key', key)
        .whereIn('step', stepBinds.slice(i, i + 5000))
        .select('run_id', 'key', 'value', 'timestamp', 'step', 'is_nan')),
    );
  }
  const byRun = groupBy(rows, (r) => Number(r.run_id));
  const out: MetricWithRunId[] = [];
  for (const uuid of runUuids) {
    const points = (byRun.get(byUuid.get(uuid)!) ?? []).map(toMetric);
    points.sort((a, b) => cmpStep(a.step, b.step) || cmpStep(a.timestamp, b.timestamp) || cmpValue(a.value, b.value));
    for (const m of points.slice(0, MAX_POINTS_PER_RUN)) out.push({ ...m, run_id: uuid });
  }
  return out;
}

/** Stored-value order: NaN is stored as 0, ±Infinity as ±DOUBLE_MAX. */
function cmpValue(a: Metric['value'], b: Metric['value']): number {
  const n = (v: Metric['value']) => (v === 'NaN' ? 0 : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v);
  return n(a) - n(b);
}
