import type { Db, Trx } from './knex.ts';
import { isMysql } from './knex.ts';
import { invalidParam } from '../core/errors.ts';
import { cmpInt64, int64Bind, int64Col, storedValue, type Int64 } from '../core/codecs.ts';
import { chunk, INSERT_CHUNK, retryOnDuplicateKey, withTransaction } from './tx.ts';
import { requireActiveRun, RUN_NAME_TAG, upsertTags, type RunRow } from './runs.ts';
import type { DbLatestMetricRow, DbMetricRow, DbRunKeyValueRow, DbRunRow } from './tables.ts';

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

      if (batch.metrics.length) await insertMetrics(trx, run, batch.metrics, mysql);
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
  await retryOnDuplicateKey(attempt);
}

async function insertMetrics(trx: Trx, run: RunRow, metrics: MetricIn[], mysql: boolean) {
  const runId = run.id;
  // History rows, deduplicated within the request; the primary key makes re-sends no-ops.
  const seen = new Set<string>();
  const rows: DbMetricRow[] = [];
  const latest = new Map<string, { value: number; is_nan: boolean; timestamp: Int64; step: Int64 }>();
  for (const m of metrics) {
    const sv = storedValue(m.value);
    const id = `${m.key}\u0000${m.timestamp}\u0000${m.step}\u0000${sv.value}\u0000${sv.is_nan}`;
    if (!seen.has(id)) {
      seen.add(id);
      rows.push({ run_id: runId, key: m.key, timestamp: int64Bind(m.timestamp), step: int64Bind(m.step), value: sv.value, is_nan: sv.is_nan });
    }
    const cand = { ...sv, timestamp: m.timestamp, step: m.step };
    const cur = latest.get(m.key);
    if (!cur || isNewer(cand, cur)) latest.set(m.key, cand);
  }
  for (const part of chunk(rows, INSERT_CHUNK)) {
    await trx<DbMetricRow>('metrics')
      .insert(part)
      .onConflict(['run_id', 'key', 'timestamp', 'step', 'value', 'is_nan'])
      .merge(['is_nan']);
  }

  // Latest value per key, MLflow's rule: the greatest (step, timestamp, value) wins.
  const keys = [...latest.keys()];
  const q = trx<DbLatestMetricRow>('latest_metrics').where('run_id', runId).whereIn('key', keys).select('key', 'value', 'timestamp', 'step', 'is_nan');
  if (mysql) q.forUpdate();
  const current = await q;
  for (const c of current) {
    const cand = latest.get(c.key)!;
    const stored = { value: c.value, is_nan: Boolean(c.is_nan), timestamp: int64Col(c.timestamp), step: int64Col(c.step) };
    if (!isNewer(cand, stored)) latest.delete(c.key);
  }
  if (!latest.size) return;
  const upserts = [...latest].map(([key, m]): DbLatestMetricRow => ({
    run_id: runId, experiment_id: run.experiment_key, key, value: m.value, timestamp: int64Bind(m.timestamp), step: int64Bind(m.step), is_nan: m.is_nan,
  }));
  for (const part of chunk(upserts, INSERT_CHUNK)) {
    await trx<DbLatestMetricRow>('latest_metrics').insert(part).onConflict(['run_id', 'key']).merge(['value', 'timestamp', 'step', 'is_nan']);
  }
}

function isNewer(a: { value: number; timestamp: Int64; step: Int64 }, b: { value: number; timestamp: Int64; step: Int64 }) {
  const s = cmpInt64(a.step, b.step);
  if (s !== 0) return s > 0;
  const t = cmpInt64(a.timestamp, b.timestamp);
  if (t !== 0) return t > 0;
  return a.value >= b.value;
}

