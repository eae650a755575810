// What migration 008's index costs the write path: log-batch through HTTP with 004's latest_metrics index (before) and
// with 008's (after), on the same database in the same run, alternating rounds (the index is swapped in between).
// Two batch shapes: the log-batch bench's 1000 points (10 keys × 100 steps: 10 latest values a batch) and 1000 keys
// × 1 step (1000 latest values a batch, each moving in both indexes: the worst case for them).
// Usage: [MLTRACK_TEST_MYSQL_URL=...] KIND=sqlite|mysql npx tsx scripts/bench/latest-index.ts
import { call, fmt, median, now, startTarget, type BenchTarget } from './common.ts';

const kind = (process.env.KIND ?? 'sqlite') as 'sqlite' | 'mysql';
const BATCHES = Number(process.env.BATCHES ?? 30);
const ts0 = Date.now();
const shapes = {
  '10 keys × 100 steps': (b: number) => Array.from({ length: 1000 }, (_, i) => ({ key: `m${i % 10}`, value: Math.sin(b * 1000 + i), timestamp: ts0 + b, step: b * 100 + Math.floor(i / 10) })),
  '1000 keys × 1 step': (b: number) => Array.from({ length: 1000 }, (_, i) => ({ key: `k${i}`, value: Math.sin(b * 1000 + i), timestamp: ts0 + b, step: b })),
};

async function useIndex(t: BenchTarget, which: 'before' | 'after') {
  const has = async (name: string) =>
    kind === 'mysql'
      ? ((await t.db.raw('SHOW INDEX FROM latest_metrics WHERE Key_name = ?', [name])) as any)[0].length > 0
      : ((await t.db.raw("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", [name])) as unknown[]).length > 0;
  const [add, drop, cols] =
    which === 'before'
      ? ['latest_metrics_experiment_key_value_idx', 'latest_metrics_experiment_band_idx', ['experiment_id', 'key', 'value']]
      : ['latest_metrics_experiment_band_idx', 'latest_metrics_experiment_key_value_idx', ['experiment_id', 'key', 'is_nan', 'value', 'run_id']];
  if (!(await has(add as string))) await t.db.schema.alterTable('latest_metrics', (tb) => tb.index(cols as string[], add as string));
  if (await has(drop as string)) await t.db.schema.alterTable('latest_metrics', (tb) => tb.dropIndex([], drop as string));
}

const t = await startTarget(kind, process.env.MLTRACK_TEST_MYSQL_URL);
try {
  const { experiment_id } = await call(t, 'POST', '/experiments/create', { name: 'latest-index' });
  const results: Record<string, { rate: number[]; ms: number[] }> = {};
  for (let round = 0; round < 3; round++) {
    for (const which of ['before', 'after'] as const) {
      await useIndex(t, which);
      for (const [shape, rows] of Object.entries(shapes)) {
        const { run } = await call(t, 'POST', '/runs/create', { experiment_id, start_time: Date.now() });
        const bodies = Array.from({ length: BATCHES + 2 }, (_, b) => Buffer.from(JSON.stringify({ run_id: run.info.run_id, metrics: rows(b) })));
        for (let b = 0; b < 2; b++) await call(t, 'POST', '/runs/log-batch', bodies[b]); // warm-up
        const times: number[] = [];
        const s = now();
        for (let b = 2; b < BATCHES + 2; b++) {
          const b0 = now();
          await call(t, 'POST', '/runs/log-batch', bodies[b]);
          times.push(now() - b0);
        }
        const r = (results[`${which}|${shape}`] ??= { rate: [], ms: [] });
        r.rate.push((BATCHES * 1000) / ((now() - s) / 1000));
        r.ms.push(median(times));
      }
    }
  }
  for (const shape of Object.keys(shapes)) {
    const line = (['before', 'after'] as const).map((w) => {
      const r = results[`${w}|${shape}`]!;
      return `${w === 'before' ? "004's index" : "008's index"} ${fmt(median(r.rate))} points/s (batch median ${fmt(median(r.ms), 1)} ms)`;
    });
    console.log(`[${kind}] log-batch ${shape}, 1 client, median of 3 rounds: ${line.join(' | ')}`);
  }
} finally {
  await t.close();
}
process.exit(0);
