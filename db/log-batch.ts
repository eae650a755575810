import type { Db, Trx } from './knex.ts';
import { isMysql } from './knex.ts';
import { cmpInt64, int64Bind, int64Col } from '../core/codecs.ts';
import { chunk, INSERT_CHUNK, isDuplicateKey, retryOnDuplicateKey, withTransaction } from './tx.ts';
import { requireActiveRun, RUN_NAME_TAG, upsertTags } from './runs.ts';
import { batchTags, paramChanged, type Batch } from './batch-rules.ts';
import { rollupDeltas } from './rollups.ts';
import { ScriptOutcomeUnknown } from './hot.ts';
import { scriptTransaction } from './script.ts';
import { sqliteLogBatch } from './sqlite-batch.ts';
import {
  batchRows, latestUpsertSql, metricsInsertSql, ResendSeen, rollupUpsertSqls, sqlText, type MetricIn, type RowIn,
} from './metric-rows.ts';
import type { DbRunKeyValueRow, DbRunRow } from './tables.ts';

export type { MetricIn } from './metric-rows.ts';


/**
 * log-batch, and the single-item endpoints through it: one transaction, multi-row inserts, all or nothing.
 * A param already logged with another value rejects the whole batch before anything is written. Metrics that
 * were logged before (same key, timestamp, step and value) are not duplicated, so a retried batch is harmless.
 *
 * On SQLite every batch is one transaction of cached prepared statements on the driver's connection, without knex's
 * transaction and query builder (db/sqlite-batch.ts). On MySQL a batch is the run's check and the whole write as one
 * multi-statement round trip (db/script.ts) instead of 6-8; what that way cannot decide goes the careful way.
 */
export async function logBatch(db: Db, projectId: number, runUuid: string, batch: Batch): Promise<void> {
  if (!isMysql(db)) return sqliteLogBatch(db, projectId, runUuid, batch);
  if (await mysqlScriptBatch(db, projectId, runUuid, batch)) return;
  return logBatchInTransaction(db, projectId, runUuid, batch, false);
}

// ---- MySQL: any batch, one round trip ----

/**
 * The whole write as one query: BEGIN, the run's row into session variables, the history rows, the latest values,
 * the rollups, the params, the tags, COMMIT. Every statement's run_id is the run's id from that SELECT, which is NULL
 * when the run is not in the project or not active: the first INSERT then fails (1048, a NULL run_id; 1452 where a
 * lax sql_mode made it 0). A point already stored (1062: a client's retry, or a point repeated in the request; the
 * INSERT has no ON DUPLICATE clause) fails it too, and so does a param already stored, with the same value or another
 * one (a plain INSERT: MLflow's rule needs the stored value, so only the careful way answers it). Then the transaction
 * is rolled back and the batch goes the careful way (logBatchInTransaction: the run's answer, 404 or 400; params
 * compared with the stored ones; the stored points read first, so that rollups count each point once). A connection
 * lost while the script was out leaves its outcome unknown: the careful way is right either way (it finds the points
 * and params if they were committed and adds nothing twice). False where there is no script pool (Galera), or for a
 * batch that writes nothing (its only answer is the run's check).
 *
 * Seeding's 30-item batch (10 metrics, 10 params, 10 tags) was 8 round trips through knex's transaction.
 */
async function mysqlScriptBatch(db: Db, projectId: number, runUuid: string, batch: Batch): Promise<boolean> {
  if (!Number.isSafeInteger(projectId)) throw new Error(`project id ${projectId}`);
  const tags = batchTags(batch.tags);
  if (!batch.metrics.length && !batch.params.length && !tags.size) return false;
  try {
    return await scriptTransaction(db, (escape) => {
      const t = sqlText(escape);
      // short variable names: the run's is in every row's text (@mltrack_run was 10 more bytes a row)
      const statements = [
        'SET @mlr = NULL, @mle = NULL',
        `SELECT IF(lifecycle_stage = 'active', id, NULL), experiment_id FROM runs WHERE run_uuid = ${escape(runUuid)} AND project_id = ${projectId} ` +
          'INTO @mlr, @mle',
      ];
      if (batch.metrics.length) {
        const { rows, latest } = batchRows(batch.metrics);
        for (const part of chunk(rows, MYSQL_ROWS)) statements.push(metricsInsertSql(t, '@mlr', part));
        statements.push(latestUpsertSql(t, '@mlr', '@mle', latest));
        for (const sql of rollupUpsertSqls(t, '@mlr', rollupDeltas(rows))) statements.push(sql);
      }
      if (batch.params.length) {
        statements.push('INSERT INTO params (run_id, `key`, value) VALUES ' + batch.params.map((p) => `(@mlr,${t.key(p.key)},${escape(p.value)})`).join(','));
      }
      if (tags.size) {
        let sql = 'INSERT INTO tags (run_id, `key`, value) VALUES ';
        let i = 0;
        for (const [key, value] of tags) sql += `${i++ ? ',' : ''}(@mlr,${t.key(key)},${escape(value)})`;
        statements.push(sql + ' ON DUPLICATE KEY UPDATE value = VALUES(value)');
        const name = tags.get(RUN_NAME_TAG);
        if (name !== undefined) statements.push(`UPDATE runs SET name = ${escape(name)} WHERE id = @mlr`);
      }
      return statements;
    });
  } catch (err) {
    const errno = (err as { errno?: number }).errno;
    if (!isDuplicateKey(err) && errno !== 1048 && errno !== 1452 && !(err instanceof ScriptOutcomeUnknown)) throw err;
  }
  await logBatchInTransaction(db, projectId, runUuid, batch, true);
  return true;
}

// ---- MySQL, the careful way: one knex transaction ----

async function logBatchInTransaction(db: Db, projectId: number, runUuid: string, batch: Batch, careful: boolean): Promise<void> {
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
            if (prev !== undefined && prev !== p.value) throw paramChanged(p, prev, runUuid);
          }
          newParams = batch.params.filter((p) => !old.has(p.key));
        }
      }

      if (batch.metrics.length) {
        const { rows, latest } = batchRows(batch.metrics);
        const conn = await (trx as unknown as { client: { acquireConnection(): Promise<unknown> } }).client.acquireConnection();
        await mysqlWrite(conn as MysqlConn, runId, Number(run.experiment_key), rows, latest, careful);
      }
      for (const part of chunk(newParams, INSERT_CHUNK)) {
        await trx<DbRunKeyValueRow>('params').insert(part.map((p) => ({ run_id: runId, key: p.key, value: p.value })));
      }
      if (batch.tags.length) {
        const tags = batchTags(batch.tags);
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

// ---- MySQL within a knex transaction: its mysql2 connection, one multi-row statement per table ----

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


const MYSQL_ROWS = 4000; // ~60 bytes a row: a statement stays far below max_allowed_packet (16 MB)

async function mysqlWrite(conn: MysqlConn, runId: number, experimentKey: number, rows: RowIn[], latest: Map<string, RowIn>, careful: boolean) {
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
  const t = sqlText((k) => conn.escape(k));
  for (const part of chunk(fresh, MYSQL_ROWS)) {
    const res = await q(conn, metricsInsertSql(t, String(runId), part) + ' ON DUPLICATE KEY UPDATE is_nan = is_nan');
    const dups = /Duplicates:\s*(\d+)/.exec(String(res?.info ?? ''));
    if (!dups && part.length > 1) throw new Error('MySQL did not report duplicates for a multi-row INSERT');
    if (dups && Number(dups[1]) > 0) throw new ResendSeen();
  }
  await q(conn, latestUpsertSql(t, String(runId), String(experimentKey), latest));
  for (const sql of rollupUpsertSqls(t, String(runId), rollupDeltas(fresh))) await q(conn, sql);
}
