/**
 * log-batch on SQLite, any batch: one write transaction of cached prepared statements on knex's (single) connection,
 * as db/hot.ts runs runs/create's: BEGIN IMMEDIATE (the write lock up front, so another process's writer makes it wait
 * on busy_timeout), retried whole on a busy database. No knex transaction or query builder: they were ~0.3 ms of a
 * 10-point batch (--cpu-prof), and about 0.2 ms of seeding's 30-item batch (10 metrics, 10 params, 10 tags), where
 * knex's own code was 6.7% of the process against 24.6% for the statements it ran.
 *
 * The same rules as the knex way (db/log-batch.ts logBatchInTransaction, still MySQL's way for params and tags):
 * params first, a conflicting value refuses the batch before anything is written; tags last write wins, and
 * `mlflow.runName` renames the run unless empty.
 */
import type { Db } from './knex.ts';
import { notFound } from '../core/errors.ts';
import type { LifecycleStage } from '../core/entities.ts';
import { gatedWrite, requireActiveStage, retryTransaction } from './tx.ts';
import { RUN_NAME_TAG } from './runs.ts';
import { batchTags, paramChanged, type Batch } from './batch-rules.ts';
import { rollupDeltas } from './rollups.ts';
import { batchRows, ResendSeen, sqliteWrite, type SqliteConn } from './metric-rows.ts';

type KeyValue = { key: string; value: string };

/** The run a batch goes to, read by its MLflow id within the project (`runs_run_uuid_unique`). */
const RUN_SQL = 'SELECT id, experiment_id, lifecycle_stage FROM runs WHERE run_uuid = ? AND project_id = ?';
interface RunCheck {
  id: number | bigint;
  experiment_id: number | bigint;
  lifecycle_stage: LifecycleStage;
}

/** requireActiveRun's answers: 404 for a run not in the project, 400 for one not active. */
function activeRun(row: RunCheck | undefined, runUuid: string): { id: number; experimentKey: number } {
  if (!row) throw notFound(`Run with id=${runUuid} not found`);
  requireActiveStage(row, 'run', runUuid);
  return { id: Number(row.id), experimentKey: Number(row.experiment_id) };
}

interface Statements {
  begin: any;
  commit: any;
  rollback: any;
  run: any;
  param: any;
  addParam: any;
  putTag: any;
  rename: any;
}
const fixed = new WeakMap<SqliteConn, Statements>();

function statements(conn: SqliteConn): Statements {
  let st = fixed.get(conn);
  if (!st) {
    st = {
      begin: conn.prepare('BEGIN IMMEDIATE'),
      commit: conn.prepare('COMMIT'),
      rollback: conn.prepare('ROLLBACK'),
      run: conn.prepare(RUN_SQL),
      param: conn.prepare('SELECT value FROM params WHERE run_id = ? AND "key" = ?').pluck(),
      addParam: conn.prepare('INSERT INTO params (run_id, "key", value) VALUES (?, ?, ?)'),
      putTag: conn.prepare('INSERT INTO tags (run_id, "key", value) VALUES (?, ?, ?) ON CONFLICT (run_id, "key") DO UPDATE SET value = excluded.value'),
      rename: conn.prepare('UPDATE runs SET name = ? WHERE id = ?'),
    };
    fixed.set(conn, st);
  }
  return st;
}

export async function sqliteLogBatch(db: Db, projectId: number, runUuid: string, batch: Batch): Promise<void> {
  const metrics = batch.metrics.length ? batchRows(batch.metrics) : undefined;
  const tags = batch.tags.length ? batchTags(batch.tags) : undefined;
  const once = (careful: boolean) =>
    gatedWrite(db, async () => {
      const conn = (await db.client.acquireConnection()) as SqliteConn;
      try {
        const st = statements(conn);
        st.begin.run();
        try {
          const run = activeRun(st.run.get(runUuid, projectId) as RunCheck | undefined, runUuid);
          // params first: a conflicting value refuses the batch before any write
          const fresh: KeyValue[] = [];
          for (const p of batch.params) {
            const prev = st.param.get(run.id, p.key) as string | undefined;
            if (prev === undefined) fresh.push(p);
            else if (prev !== p.value) throw paramChanged(p, prev, runUuid);
          }
          if (metrics) sqliteWrite(conn, run.id, run.experimentKey, metrics.rows, metrics.latest, rollupDeltas, careful);
          for (const p of fresh) st.addParam.run(run.id, p.key, p.value);
          if (tags) {
            for (const [key, value] of tags) st.putTag.run(run.id, key, value);
            const name = tags.get(RUN_NAME_TAG);
            if (name !== undefined) st.rename.run(name, run.id);
          }
          st.commit.run();
        } catch (err) {
          if (conn.inTransaction) st.rollback.run();
          throw err;
        }
      } finally {
        await db.client.releaseConnection(conn);
      }
    });
  // SQLite runs in this process: no connection to lose. A batch that met stored points: again, point by point
  // (sqliteWrite: its multi-row INSERTs cannot say which points were new).
  try {
    return await retryTransaction(() => once(false), () => false, 10);
  } catch (err) {
    if (!(err instanceof ResendSeen)) throw err;
  }
  return retryTransaction(() => once(true), () => false, 10);
}
