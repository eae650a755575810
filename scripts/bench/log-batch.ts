import { chunk, INSERT_CHUNK } from '../../db/tx.ts';
import { call, fmt, median, now, type BenchTarget } from './common.ts';

/**
 * log-batch throughput: batches of 1000 metric points through HTTP (validation, auth, one transaction with
 * multi-row inserts and the latest-metric upsert), against the baseline of the raw multi-row INSERT of the same
 * rows into the same `metrics` table, measured in the same run on the same database.
 */
export async function benchLogBatch(t: BenchTarget, batches = 60): Promise<{ pointsPerSec: number; rawPerSec: number; ratio: number }> {
  const { experiment_id } = await call(t, 'POST', '/experiments/create', { name: `bench-${Date.now()}` });
  const { run } = await call(t, 'POST', '/runs/create', { experiment_id, start_time: Date.now() });
  const runId = run.info.run_id;
  const ts = Date.now();
  const batch = (b: number) => ({
    run_id: runId,
    metrics: Array.from({ length: 1000 }, (_, i) => ({ key: `metric_${i % 10}`, value: Math.sin(b * 1000 + i), timestamp: ts + b, step: b * 100 + Math.floor(i / 10) })),
  });
  // warm-up
  for (let b = 0; b < 3; b++) await call(t, 'POST', '/runs/log-batch', batch(b));

  const httpTimes: number[] = [];
  for (let b = 3; b < batches + 3; b++) {
    const body = batch(b);
    const t0 = now();
    await call(t, 'POST', '/runs/log-batch', body);
    httpTimes.push(now() - t0);
  }

  // Baseline: the raw multi-row INSERT of 1000 rows into the same table (a second run, so no conflicts), in the
  // same statement sizes the server uses (SQLite caps a multi-row insert at 500 rows).
  const { run: run2 } = await call(t, 'POST', '/runs/create', { experiment_id, start_time: Date.now() });
  const internal = (await t.db('runs').where({ run_uuid: run2.info.run_id }).first('id')).id;
  const rawTimes: number[] = [];
  for (let b = 0; b < batches; b++) {
    const rows = Array.from({ length: 1000 }, (_, i) => ({
      run_id: internal, key: `metric_${i % 10}`, timestamp: ts + b, step: b * 100 + Math.floor(i / 10), value: Math.sin(b * 1000 + i), is_nan: false,
    }));
    const t0 = now();
    for (const part of chunk(rows, INSERT_CHUNK)) await t.db('metrics').insert(part);
    rawTimes.push(now() - t0);
  }
  const pointsPerSec = 1000 / (median(httpTimes) / 1000);
  const rawPerSec = 1000 / (median(rawTimes) / 1000);
  const ratio = pointsPerSec / rawPerSec;
  console.log(
    `[${t.name}] log-batch 1000 points: median ${fmt(median(httpTimes), 1)} ms → ${fmt(pointsPerSec)} points/s | ` +
      `raw INSERT of 1000 rows: median ${fmt(median(rawTimes), 1)} ms → ${fmt(rawPerSec)} rows/s | ratio ${fmt(ratio, 2)}`,
  );
  return { pointsPerSec, rawPerSec, ratio };
}
