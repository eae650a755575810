import type BetterSqlite3 from 'better-sqlite3';
import type { Db, Trx } from './knex.ts';
import { isMysql } from './knex.ts';
import { invalidParam } from '../core/errors.ts';
import { cmpInt64, int64Bind, int64Col, storedDouble, type Int64 } from '../core/codecs.ts';
import { chunk, INSERT_CHUNK, retryOnDuplicateKey, withTransaction } from './tx.ts';
import { requireActiveRun, RUN_NAME_TAG, upsertTags, type RunRow } from './runs.ts';
import { rollupBinds, rollupDeltas, rollupMergeSql, ROLLUP_COLUMNS, type Pt } from './rollups.ts';
import type { DbRunKeyValueRow, DbRunRow } from './tables.ts';

export interface MetricIn {
  key: string;
  value: number;
  timestamp: Int64;
  step: Int64;
}

/**
 * log-batch, and the single-item endpoints through it: one transaction, multi-row inserts, all or nothing.
 * A param already logged with another value rejects the whole batch before anything is written. Metrics that
 * were logged before (same key, timestamp, step and value) are not duplicated, so a retried batch is harmless.
 */
export async function logBatch(
  db: Db,
  projectId: number,
  runUuid: string,
  batch: { metrics: MetricIn[]; params: { key: string; value: string }[]; tags: { key: string; value: string }[] },
): Promise<void> {
  const mysql = isMysql(db);
  let careful = false;
  const attempt = () =>
    withTransaction(db, async (trx) => {
      const run = await requireActiveRun(trx, projectId, runUuid);
      const runId = run.id;

      // Params first: a conflicting value refuses the batch before any write.
      let newParams = batch.params;
      if (batch.params.length) {
        const existing = await trx<DbRunKeyValueRow>('params')
          .where('run_id', runId)
          .whereIn('key', batch.params.map((p) => p.key))
          .select('key', 'value');
        if (existing.length) {
          const old = new Map<string, string>(existing.map((p) => [p.key, p.value]));
          for (const p of batch.params) {
            const prev = old.get(p.key);
            if (prev !== undefined && prev !== p.value) {
              throw invalidParam(
                `Changing param values is not allowed. Param with key='${p.key}' was already logged with ` +
                  `value='${prev}' for run ID='${runUuid}'. Attempted logging new value '${p.value}'.`,
              );
            }
          }
          newParams = batch.params.filter((p) => !old.has(p.key));
        }
      }

      if (batch.metrics.length) await insertMetrics(trx, run, batch.metrics, mysql, careful);
      for (const part of chunk(newParams, INSERT_CHUNK)) {
        await trx<DbRunKeyValueRow>('params').insert(part.map((p) => ({ run_id: runId, key: p.key, value: p.value })));
      }
      if (batch.tags.length) {
        const tags = new Map<string, string>();
        for (const t of batch.tags) tags.set(t.key, t.value); // last write wins within a request
        // MLflow sets mlflow.runName through update_run_info, which ignores an empty name: nothing changes
        if (tags.get(RUN_NAME_TAG) === '') tags.delete(RUN_NAME_TAG);
        if (tags.size) await upsertTags(trx, runId, [...tags].map(([key, value]) => ({ key, value })));
        const name = tags.get(RUN_NAME_TAG);
        if (name !== undefined) await trx<DbRunRow>('runs').where({ id: runId }).update({ name });
      }
    });
  // Two requests racing to insert the same new param: the loser runs again and sees the other's row.
  for (let i = 0; ; i++) {
    try {
      return await retryOnDuplicateKey(attempt);
    } catch (err) {
      // MySQL: the batch met points already stored; again, reading them first (they are then locked: once is enough)
      if (!(err instanceof ResendSeen) || i >= 2) throw err;
      careful = true;
    }
  }
}

/** A history point of the request, with its stored value. */
interface RowIn extends Pt {
  key: string;
}

/**
 * History rows, latest values and rollups of one batch, written with the driver's own connection of the transaction
 * (knex builds and compiles every statement anew: the profile put it at most of a 1000-point batch's CPU). SQLite: one
 * cached prepared statement per row (`changes` says which points are new, so the rollups count each point once);
 * MySQL: one multi-row statement per table, its text built here. Latest values and rollups are upserts that merge in
 * SQL (no read first). One object per point and no per-point strings: the first profile had a dedup key string per
 * point (a double formatted each time) and garbage collection at 17% of the process.
 */
async function insertMetrics(trx: Trx, run: RunRow, metrics: MetricIn[], mysql: boolean, careful: boolean) {
  const rows: RowIn[] = new Array(metrics.length);
  // latest value per key, MLflow's rule: the greatest (step, timestamp, value) wins
  const latest = new Map<string, RowIn>();
  for (let i = 0; i < metrics.length; i++) {
    const m = metrics[i]!;
    const r: RowIn = { key: m.key, step: m.step, ts: m.timestamp, value: storedDouble(m.value), nan: Number.isNaN(m.value) };
    rows[i] = r;
    const cur = latest.get(m.key);
    if (!cur || isNewer(r, cur)) latest.set(m.key, r);
  }
  const conn = await (trx as unknown as { client: { acquireConnection(): Promise<unknown> } }).client.acquireConnection();
  if (mysql) await mysqlWrite(conn as MysqlConn, run, rows, latest, careful);
  else sqliteWrite(conn as SqliteConn, run, rows, latest);
}

// ---- SQLite: cached prepared statements on the transaction's connection ----

type SqliteConn = BetterSqlite3.Database;
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

function sqliteWrite(conn: SqliteConn, run: RunRow, rows: RowIn[], latest: Map<string, RowIn>) {
  let st = sqliteStatements.get(conn);
  if (!st) sqliteStatements.set(conn, (st = prepareSqlite(conn)));
  const runId = run.id;
  const fresh: RowIn[] = [];
  for (const r of rows) {
    if (st.insMetric.run(runId, r.key, r.ts, r.step, r.value, r.nan ? 1 : 0).changes) fresh.push(r);
  }
  for (const [key, m] of latest) st.putLatest.run(runId, run.experiment_key, key, m.value, m.ts, m.step, m.nan ? 1 : 0);
  for (const d of rollupDeltas(fresh)) st.putRollup.run(rollupBinds(runId, d.key, d.lvl, d.bucket, d.agg, sqliteInt64));
}

// ---- MySQL: the transaction's mysql2 connection, one multi-row statement per table ----

interface MysqlConn {
  query(opts: { sql: string; values: unknown[] | null }, values: undefined, cb: (err: Error | null, result: any) => void): void;
  /** the driver's own string escaper (the one its placeholders use) */
  escape(value: string): string;
}

/**
 * The three-argument form: db/knex.ts bounds each statement by wrapping exactly that call (a frozen server). Without
 * values, `values: null` tells mysql2 there is nothing to format (undefined still scans the whole text for `?`).
 */
function q(conn: MysqlConn, sql: string, values?: unknown[]): Promise<any> {
  return new Promise((resolve, reject) => conn.query({ sql, values: values ?? null }, undefined, (err, result) => (err ? reject(err) : resolve(result))));
}

/** A point's identity, MLflow's dedup rule (the history's primary key): key, timestamp, step, value, NaN. */
const pointId = (r: RowIn) => `${r.key}\u0000${r.ts}\u0000${r.step}\u0000${r.value}\u0000${r.nan}`;

/** A batch that met points already stored, on MySQL: run again reading them first (see mysqlWrite). */
export class ResendSeen extends Error {}

const MYSQL_ROWS = 4000; // ~60 bytes a row: a statement stays far below max_allowed_packet (16 MB)

/**
 * SQL text of a value the request gave: int64s and stored doubles are numbers (validated, finite: their JS text is
 * what mysql2's placeholders would send), strings (metric keys) go through the driver's escaper, once per key.
 * Building the text here instead of 6 placeholders a row: mysql2's format was 6% of the process, and the values
 * array and its pieces, alive across the round trip, made the young-generation collections copy megabytes.
 */
function sqlText(conn: MysqlConn) {
  const keys = new Map<string, string>();
  // the last int64 written and its text: a batch repeats its timestamps and steps (one step for all its keys)
  let last: Int64 = NaN;
  let lastText = '';
  return {
    key(k: string): string {
      let e = keys.get(k);
      if (e === undefined) keys.set(k, (e = conn.escape(k)));
      return e;
    },
    int(v: Int64): string {
      if (v !== last) lastText = String((last = v));
      return lastText;
    },
    num: (v: number | null): string => (v === null ? 'NULL' : String(storedDouble(v))),
  };
}

async function mysqlWrite(conn: MysqlConn, run: RunRow, rows: RowIn[], latest: Map<string, RowIn>, careful: boolean) {
  const runId = run.id;
  let fresh = rows;
  // The server's "Duplicates: n" tells whether a multi-row INSERT met stored points, not which: a batch that did (a
  // client's retry) is rolled back and run again with `careful`, which reads and locks the points of its time range
  // first. A single row says nothing (no info), so it is always careful.
  if (careful || rows.length === 1) {
    // points repeated within the request count once
    const seen = new Set<string>();
    rows = rows.filter((r) => {
      const id = pointId(r);
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    const keys = [...new Set(rows.map((r) => r.key))];
    let lo = rows[0]!.ts;
    let hi = lo;
    for (const r of rows) {
      if (cmpInt64(r.ts, lo) < 0) lo = r.ts;
      if (cmpInt64(r.ts, hi) > 0) hi = r.ts;
    }
    const stored: any[] = await q(
      conn,
      `SELECT \`key\`, \`timestamp\`, step, value, is_nan FROM metrics WHERE run_id = ? AND \`key\` IN (${keys.map(() => '?').join(',')}) ` +
        'AND `timestamp` BETWEEN ? AND ? FOR UPDATE',
      [runId, ...keys, int64Bind(lo), int64Bind(hi)],
    );
    const have = new Set(stored.map((s) => pointId({ key: s.key, ts: int64Col(s.timestamp), step: int64Col(s.step), value: Number(s.value), nan: Number(s.is_nan) !== 0 })));
    fresh = rows.filter((r) => !have.has(pointId(r)));
  }
  const t = sqlText(conn);
  for (const part of chunk(fresh, MYSQL_ROWS)) {
    let sql = 'INSERT INTO metrics (run_id, `key`, `timestamp`, step, value, is_nan) VALUES ';
    for (let i = 0; i < part.length; i++) {
      const r = part[i]!;
      sql += `${i ? ',' : ''}(${runId},${t.key(r.key)},${t.int(r.ts)},${t.int(r.step)},${t.num(r.value)},${r.nan ? 1 : 0})`;
    }
    const res = await q(conn, sql + ' ON DUPLICATE KEY UPDATE is_nan = is_nan');
    const dups = /Duplicates:\s*(\d+)/.exec(String(res?.info ?? ''));
    if (!dups && part.length > 1) throw new Error('MySQL did not report duplicates for a multi-row INSERT');
    if (dups && Number(dups[1]) > 0) throw new ResendSeen();
  }

  // isNewer in SQL, assigned is_nan first and step last: see rollupMergeSql for why that order decides right
  let sql = 'INSERT INTO latest_metrics (run_id, experiment_id, `key`, value, `timestamp`, step, is_nan) VALUES ';
  let i = 0;
  for (const [key, m] of latest) {
    sql += `${i++ ? ',' : ''}(${runId},${Number(run.experiment_key)},${t.key(key)},${t.num(m.value)},${t.int(m.ts)},${t.int(m.step)},${m.nan ? 1 : 0})`;
  }
  const newer = '(VALUES(step), VALUES(`timestamp`), VALUES(value)) >= (step, `timestamp`, value)';
  await q(conn, sql + ' ON DUPLICATE KEY UPDATE ' + ['is_nan', 'value', '`timestamp`', 'step'].map((c) => `${c} = IF(${newer}, VALUES(${c}), ${c})`).join(', '));

  const deltas = rollupDeltas(fresh);
  const cols = ROLLUP_COLUMNS.map((c) => `\`${c}\``).join(', ');
  const merge = rollupMergeSql((c) => `\`${c}\``, (c) => `VALUES(\`${c}\`)`);
  for (const part of chunk(deltas, 2000)) {
    let sql = `INSERT INTO metric_rollups (${cols}) VALUES `;
    for (let i = 0; i < part.length; i++) {
      const d = part[i]!;
      const a = d.agg;
      sql +=
        `${i ? ',' : ''}(${runId},${t.key(d.key)},${d.lvl},${t.int(d.bucket)},${a.n},${t.num(a.vmin)},${t.num(a.vmax)},` +
        `${t.int(a.first.step)},${t.int(a.first.ts)},${t.num(a.first.value)},${a.first.nan ? 1 : 0},` +
        `${t.int(a.last.step)},${t.int(a.last.ts)},${t.num(a.last.value)},${a.last.nan ? 1 : 0})`;
    }
    await q(conn, `${sql} ON DUPLICATE KEY UPDATE ${merge}`);
  }
}

function isNewer(a: { value: number; ts: Int64; step: Int64 }, b: { value: number; ts: Int64; step: Int64 }) {
  const s = cmpInt64(a.step, b.step);
  if (s !== 0) return s > 0;
  const t = cmpInt64(a.ts, b.ts);
  if (t !== 0) return t > 0;
  return a.value >= b.value;
}
