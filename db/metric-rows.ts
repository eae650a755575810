import type BetterSqlite3 from 'better-sqlite3';
import { cmpInt64, storedDouble, type Int64 } from '../core/codecs.ts';
import { rollupBinds, rollupMergeSql, ROLLUP_COLUMNS, type RollupDelta, type Pt } from './rollups.ts';

/**
 * The rows one log-batch writes — history points, the latest value per key, the rollup deltas — and the statements
 * that write them, on the driver's own connection: knex builds and compiles every statement anew (the profile put it
 * at most of a 1000-point batch's CPU). SQLite: cached prepared statements, one run per row (`changes` says which
 * points are new, so the rollups count each point once); MySQL: one multi-row statement per table, its text built
 * here. Latest values and rollups are upserts that merge in SQL (no read first). One object per point and no
 * per-point strings: the first profile had a dedup key string per point and garbage collection at 17% of the process.
 */

export interface MetricIn {
  key: string;
  value: number;
  timestamp: Int64;
  step: Int64;
}

/** A history point of the request, with its stored value. */
export interface RowIn extends Pt {
  key: string;
}

/** The batch's points as stored, and the latest of them per key by MLflow's rule: the greatest (step, timestamp, value). */
export function batchRows(metrics: MetricIn[]): { rows: RowIn[]; latest: Map<string, RowIn> } {
  const rows: RowIn[] = new Array(metrics.length);
  const latest = new Map<string, RowIn>();
  for (let i = 0; i < metrics.length; i++) {
    const m = metrics[i]!;
    const r: RowIn = { key: m.key, step: m.step, ts: m.timestamp, value: storedDouble(m.value), nan: Number.isNaN(m.value) };
    rows[i] = r;
    const cur = latest.get(m.key);
    if (!cur || isNewer(r, cur)) latest.set(m.key, r);
  }
  return { rows, latest };
}

function isNewer(a: Pt, b: Pt) {
  const s = cmpInt64(a.step, b.step);
  if (s !== 0) return s > 0;
  const t = cmpInt64(a.ts, b.ts);
  if (t !== 0) return t > 0;
  return a.value >= b.value;
}

// ---- SQLite: cached prepared statements on the connection ----

export type SqliteConn = BetterSqlite3.Database;
const sqliteStatements = new WeakMap<SqliteConn, ReturnType<typeof prepareSqlite>>();

function prepareSqlite(conn: SqliteConn) {
  const cols = ROLLUP_COLUMNS.map((c) => `"${c}"`).join(', ');
  return {
    insMetric: conn.prepare(
      'INSERT INTO metrics (run_id, "key", "timestamp", step, value, is_nan) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    // isNewer in SQL: the stored row is replaced when (step, timestamp, value) is not greater than the candidate's
    putLatest: conn.prepare(
      'INSERT INTO latest_metrics (run_id, experiment_id, "key", value, "timestamp", step, is_nan) VALUES (?, ?, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT (run_id, "key") DO UPDATE SET value = excluded.value, "timestamp" = excluded."timestamp", step = excluded.step, is_nan = excluded.is_nan ' +
        'WHERE (excluded.step, excluded."timestamp", excluded.value) >= (latest_metrics.step, latest_metrics."timestamp", latest_metrics.value)',
    ),
    putRollup: conn.prepare(
      `INSERT INTO metric_rollups (${cols}) VALUES (${ROLLUP_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (run_id, "key", lvl, bucket) DO UPDATE SET ` +
        rollupMergeSql((c) => `"${c}"`, (c) => `excluded."${c}"`),
    ),
  };
}

/** better-sqlite3 binds a BigInt as an INTEGER exactly. */
const sqliteInt64 = (v: Int64) => v;

/** The batch's rows on SQLite, inside the caller's transaction. `deltas` sums up the points that were new. */
export function sqliteWrite(
  conn: SqliteConn,
  runId: number,
  experimentKey: number,
  rows: RowIn[],
  latest: Map<string, RowIn>,
  deltas: (fresh: RowIn[]) => RollupDelta[],
): void {
  let st = sqliteStatements.get(conn);
  if (!st) sqliteStatements.set(conn, (st = prepareSqlite(conn)));
  const fresh: RowIn[] = [];
  const ins = st.insMetric;
  for (const r of rows) {
    if (ins.run(runId, r.key, r.ts, r.step, r.value, r.nan ? 1 : 0).changes) fresh.push(r);
  }
  for (const [key, m] of latest) st.putLatest.run(runId, experimentKey, key, m.value, m.ts, m.step, m.nan ? 1 : 0);
  for (const d of deltas(fresh)) st.putRollup.run(rollupBinds(runId, d.key, d.lvl, d.bucket, d.agg, sqliteInt64));
}

// ---- MySQL: statement text ----

/**
 * SQL text of a stored double (finite: storedDouble made it so): 17 significant digits, which name exactly one double,
 * and MySQL's parser rounds correctly (test/log-batch-values.test.ts reads back random doubles, subnormals, ±DOUBLE_MAX
 * exactly). toPrecision(17) was ~2x faster than the shortest text (String(v)): 1000 values ~0.13 vs ~0.24 ms.
 * 0 and -0 as String gives them ("0": MySQL stores no -0 from a literal either way).
 */
export const doubleText = (v: number): string => (v !== 0 ? v.toPrecision(17) : String(v));

/**
 * SQL text of a value the request gave: int64s and stored doubles are numbers (validated, finite: their JS text is
 * what mysql2's placeholders would send), strings (metric keys) go through the driver's escaper, once per key.
 * Building the text here instead of 6 placeholders a row: mysql2's format was 6% of the process, and the values
 * array and its pieces, alive across the round trip, made the young-generation collections copy megabytes.
 */
export function sqlText(escape: (s: string) => string) {
  const keys = new Map<string, string>();
  // the last int64 written and its text: a batch repeats its timestamps and steps (one step for all its keys)
  let last: Int64 = NaN;
  let lastText = '';
  return {
    key(k: string): string {
      let e = keys.get(k);
      if (e === undefined) keys.set(k, (e = escape(k)));
      return e;
    },
    int(v: Int64): string {
      if (v !== last) lastText = String((last = v));
      return lastText;
    },
    /** a stored double (finite already) or NULL */
    num: (v: number | null): string => (v === null ? 'NULL' : doubleText(v)),
  };
}

export type SqlText = ReturnType<typeof sqlText>;

const METRICS_INSERT = 'INSERT INTO metrics (run_id, `key`, `timestamp`, step, value, is_nan) VALUES ';

/**
 * One multi-row INSERT of history rows (no ON DUPLICATE: a caller adds it, or lets a stored point fail the statement).
 * `runId` is the run's id as SQL: a number, or a session variable set by the statement before.
 * Per row the text of its run and key is one piece per key, and a timestamp's and a step's text is made when it
 * differs from the row before's (a batch is step after step, each for all its keys, at one timestamp): with one
 * cache for both, each alternating timestamp and step missed it. 1000 rows: ~0.55 → ~0.25 ms (.tmp microbench).
 */
export function metricsInsertSql(t: SqlText, runId: string, part: RowIn[]): string {
  const heads = new Map<string, string>();
  let ts: Int64 = NaN;
  let tsText = '';
  let step: Int64 = NaN;
  let stepText = '';
  let sql = METRICS_INSERT;
  for (let i = 0; i < part.length; i++) {
    const r = part[i]!;
    let head = heads.get(r.key);
    if (head === undefined) heads.set(r.key, (head = `(${runId},${t.key(r.key)},`));
    if (r.ts !== ts) tsText = String((ts = r.ts)) + ',';
    if (r.step !== step) stepText = String((step = r.step)) + ',';
    sql += (i ? ',' : '') + head + tsText + stepText + doubleText(r.value) + (r.nan ? ',1)' : ',0)');
  }
  return sql;
}

const LATEST_NEWER = '(VALUES(step), VALUES(`timestamp`), VALUES(value)) >= (step, `timestamp`, value)';
// isNewer in SQL, assigned is_nan first and step last: see rollupMergeSql for why that order decides right
const LATEST_MERGE = ' ON DUPLICATE KEY UPDATE ' + ['is_nan', 'value', '`timestamp`', 'step'].map((c) => `${c} = IF(${LATEST_NEWER}, VALUES(${c}), ${c})`).join(', ');

/** The upsert of the latest value per key. */
export function latestUpsertSql(t: SqlText, runId: string, experimentKey: string, latest: Map<string, RowIn>): string {
  let sql = 'INSERT INTO latest_metrics (run_id, experiment_id, `key`, value, `timestamp`, step, is_nan) VALUES ';
  let i = 0;
  for (const [key, m] of latest) {
    sql += `${i++ ? ',' : ''}(${runId},${experimentKey},${t.key(key)},${t.num(m.value)},${t.int(m.ts)},${t.int(m.step)},${m.nan ? 1 : 0})`;
  }
  return sql + LATEST_MERGE;
}

const ROLLUP_INSERT = `INSERT INTO metric_rollups (${ROLLUP_COLUMNS.map((c) => `\`${c}\``).join(', ')}) VALUES `;
const ROLLUP_MERGE = ` ON DUPLICATE KEY UPDATE ${rollupMergeSql((c) => `\`${c}\``, (c) => `VALUES(\`${c}\`)`)}`;

/** Rollup upserts, one statement per 2,000 deltas. */
export function rollupUpsertSqls(t: SqlText, runId: string, deltas: RollupDelta[]): string[] {
  const out: string[] = [];
  for (let at = 0; at < deltas.length; at += 2000) {
    let sql = ROLLUP_INSERT;
    const end = Math.min(deltas.length, at + 2000);
    for (let i = at; i < end; i++) {
      const d = deltas[i]!;
      const a = d.agg;
      sql +=
        `${i > at ? ',' : ''}(${runId},${t.key(d.key)},${d.lvl},${t.int(d.bucket)},${a.n},${t.num(a.vmin)},${t.num(a.vmax)},` +
        `${t.int(a.first.step)},${t.int(a.first.ts)},${t.num(a.first.value)},${a.first.nan ? 1 : 0},` +
        `${t.int(a.last.step)},${t.int(a.last.ts)},${t.num(a.last.value)},${a.last.nan ? 1 : 0})`;
    }
    out.push(sql + ROLLUP_MERGE);
  }
  return out;
}
