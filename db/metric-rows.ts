import type BetterSqlite3 from 'better-sqlite3';
import { cmpInt64, storedDouble, type Int64 } from '../core/codecs.ts';
import { rollupBinds, rollupMergeSql, ROLLUP_COLUMNS, type RollupDelta, type Pt } from './rollups.ts';

/**
 * The rows one log-batch writes — history points, the latest value per key, the rollup deltas — and the statements
 * that write them, on the driver's own connection: knex builds and compiles every statement anew (the profile put it
 * at most of a 1000-point batch's CPU). SQLite: cached prepared statements, the history's rows key by key in
 * multi-row INSERTs (a batch that met stored points again one row per statement, whose `changes` says which points
 * are new, so the rollups count each point once); MySQL: one multi-row statement per table, its text built here.
 * Latest values and rollups are upserts that merge in SQL (no read first). One object per point and no per-point
 * strings: the first profile had a dedup key string per point and garbage collection at 17% of the process.
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
    /** multi-row INSERTs of one key's rows by their number (sqliteWrite) */
    insMetrics: new Map<number, MultiInsert>(),
    putRollup: conn.prepare(
      `INSERT INTO metric_rollups (${cols}) VALUES (${ROLLUP_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (run_id, "key", lvl, bucket) DO UPDATE SET ` +
        rollupMergeSql((c) => `"${c}"`, (c) => `excluded."${c}"`),
    ),
  };
}

/** better-sqlite3 binds a BigInt as an INTEGER exactly. */
const sqliteInt64 = (v: Int64) => v;

/** A batch that met points already stored (or repeated within it): written again `careful`, point by point. */
export class ResendSeen extends Error {}

/**
 * Rows of one key per multi-row INSERT on SQLite, at most this many. One statement per row costs a call into the
 * driver each (~1 µs on the bench machine, as much as SQLite's own insert); a multi-row statement that may abort
 * (the run's foreign key) keeps a statement journal of the pages it changes, in memory up to 64 kB
 * (SQLITE_STMTJRNL_SPILL) and in a temporary file beyond, for the rest of the transaction. Rows of one key are
 * neighbours in the history's B-tree, so 50 of them change a few pages and the journal stays in memory; 50 rows of
 * 10 keys spilled it and were slower than row by row (1000 points: 1.9 → 1.66 ms one key at a time, 2.7 mixed).
 */
const SQLITE_KEY_ROWS = 50;

interface MultiInsert {
  st: BetterSqlite3.Statement;
  /** its values, refilled for each run (SQLite is synchronous: one user at a time) */
  binds: unknown[];
}

function multiInsert(conn: SqliteConn, cache: Map<number, MultiInsert>, n: number): MultiInsert {
  let m = cache.get(n);
  if (!m) {
    const st = conn.prepare(
      'INSERT INTO metrics (run_id, "key", "timestamp", step, value, is_nan) VALUES ' + Array(n).fill('(?, ?, ?, ?, ?, ?)').join(', ') + ' ON CONFLICT DO NOTHING',
    );
    cache.set(n, (m = { st, binds: new Array(n * 6) }));
  }
  return m;
}

/**
 * The batch's rows on SQLite, inside the caller's transaction. `deltas` sums up the points that were new. Rows go
 * key by key, in multi-row statements; one that inserts fewer rows than it has met stored points (a client's retry,
 * or a point repeated in the request), which it cannot name: ResendSeen, and the caller runs the transaction again
 * `careful`, one statement per row, whose `changes` says which points are new (the rollups count each point once).
 */
export function sqliteWrite(
  conn: SqliteConn,
  runId: number,
  experimentKey: number,
  rows: RowIn[],
  latest: Map<string, RowIn>,
  deltas: (fresh: RowIn[]) => RollupDelta[],
  careful: boolean,
): void {
  let st = sqliteStatements.get(conn);
  if (!st) sqliteStatements.set(conn, (st = prepareSqlite(conn)));
  const ins = st.insMetric;
  let fresh: RowIn[];
  if (careful) {
    fresh = [];
    for (const r of rows) {
      if (ins.run(runId, r.key, r.ts, r.step, r.value, r.nan ? 1 : 0).changes) fresh.push(r);
    }
  } else {
    fresh = rows;
    const byKey = new Map<string, RowIn[]>();
    for (const r of rows) {
      const l = byKey.get(r.key);
      if (l) l.push(r);
      else byKey.set(r.key, [r]);
    }
    for (const [key, l] of byKey) {
      for (let at = 0; at < l.length; at += SQLITE_KEY_ROWS) {
        const n = Math.min(SQLITE_KEY_ROWS, l.length - at);
        let changes: number;
        if (n === 1) {
          const r = l[at]!;
          changes = ins.run(runId, key, r.ts, r.step, r.value, r.nan ? 1 : 0).changes;
        } else {
          const m = multiInsert(conn, st.insMetrics, n);
          const binds = m.binds;
          for (let j = 0, o = 0; j < n; j++, o += 6) {
            const r = l[at + j]!;
            binds[o] = runId;
            binds[o + 1] = key;
            binds[o + 2] = r.ts;
            binds[o + 3] = r.step;
            binds[o + 4] = r.value;
            binds[o + 5] = r.nan ? 1 : 0;
          }
          changes = m.st.run(binds).changes;
        }
        if (changes !== n) throw new ResendSeen();
      }
    }
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
 * cache for both, each alternating timestamp and step missed it. The pieces are joined once, into a flat string: a
 * `+=` per piece built a tree of ~300 kB for 1000 rows (flat: 60 kB), alive across the round trip, which the
 * young-generation collections copied. 1000 rows: ~0.55 → ~0.25 ms (.tmp microbench).
 */
export function metricsInsertSql(t: SqlText, runId: string, part: RowIn[]): string {
  const heads = new Map<string, string>();
  let ts: Int64 = NaN;
  let tsText = '';
  let step: Int64 = NaN;
  let stepText = '';
  const pieces: string[] = new Array(part.length * 4 + 1);
  pieces[0] = METRICS_INSERT;
  let o = 1;
  for (let i = 0; i < part.length; i++) {
    const r = part[i]!;
    let head = heads.get(r.key);
    if (head === undefined) heads.set(r.key, (head = `,(${runId},${t.key(r.key)},`));
    if (r.ts !== ts) tsText = String((ts = r.ts)) + ',';
    if (r.step !== step) stepText = String((step = r.step)) + ',';
    pieces[o++] = i ? head : head.slice(1);
    pieces[o++] = tsText;
    pieces[o++] = stepText;
    pieces[o++] = doubleText(r.value) + (r.nan ? ',1)' : ',0)');
  }
  return pieces.join('');
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

/** Rollup upserts, one statement per 2,000 deltas; rows joined once (see metricsInsertSql). */
export function rollupUpsertSqls(t: SqlText, runId: string, deltas: RollupDelta[]): string[] {
  const out: string[] = [];
  for (let at = 0; at < deltas.length; at += 2000) {
    const end = Math.min(deltas.length, at + 2000);
    const rows: string[] = new Array(end - at);
    for (let i = at; i < end; i++) {
      const d = deltas[i]!;
      const a = d.agg;
      rows[i - at] =
        `(${runId},${t.key(d.key)},${d.lvl},${t.int(d.bucket)},${a.n},${t.num(a.vmin)},${t.num(a.vmax)},` +
        `${t.int(a.first.step)},${t.int(a.first.ts)},${t.num(a.first.value)},${a.first.nan ? 1 : 0},` +
        `${t.int(a.last.step)},${t.int(a.last.ts)},${t.num(a.last.value)},${a.last.nan ? 1 : 0})`;
    }
    out.push(ROLLUP_INSERT + rows.join(',') + ROLLUP_MERGE);
  }
  return out;
}
