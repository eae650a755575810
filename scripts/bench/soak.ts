// npm run bench:soak — a bounded soak of mixed traffic against the real server in its own process (issue 11, item 6):
// prints the server's resident memory (summed over its processes) every 30 s and the growth from the first minute to
// the last (mean of the samples in each). Env: MLTRACK_SOAK_SECONDS (300), MLTRACK_SOAK_CLIENTS (8),
// MLTRACK_SOAK_DB (sqlite | mysql; mysql needs MLTRACK_BENCH_MYSQL_URL or MLTRACK_TEST_MYSQL_URL), MLTRACK_SOAK_WORKERS
// (unset: the server's default).
import { Client, cpuMs, MB, rssBytes, spawnServer } from './procs.ts';
import { fmt } from './common.ts';

const SECONDS = Number(process.env.MLTRACK_SOAK_SECONDS || 300);
const CLIENTS = Number(process.env.MLTRACK_SOAK_CLIENTS || 8);
const kind = (process.env.MLTRACK_SOAK_DB || 'sqlite') as 'sqlite' | 'mysql';
const mysqlUrl = process.env.MLTRACK_BENCH_MYSQL_URL || process.env.MLTRACK_TEST_MYSQL_URL;
const workers = process.env.MLTRACK_SOAK_WORKERS ? Number(process.env.MLTRACK_SOAK_WORKERS) : undefined;

const s = await spawnServer(kind, mysqlUrl, workers);
console.log(`soak: ${SECONDS} s of mixed traffic, ${CLIENTS} clients, ${kind}, ${s.workers} worker(s); server pids ${s.pids().join(' ')}`);
const admin = new Client(s);
const experimentId: string = (await admin.call('POST', '/experiments/create', { name: `soak-${Date.now()}` })).experiment_id;

const counts = new Map<string, number>();
let errors = 0;
let firstError: string | undefined;
let stop = false;

/**
 * One client: a run of its own, replaced every 200 batches (so no history grows without bound), and in each round
 * a 10-metric batch, every 10th round a 1000-point batch, a runs/get, a history read, a runs/search, and every 20th
 * round a new run with params and tags, a set-tag and an experiments/search.
 */
async function client(i: number) {
  const c = new Client(s);
  const op = async (name: string, method: string, p: string, body?: unknown) => {
    try {
      const r = await c.call(method, p, body);
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return r;
    } catch (err) {
      errors++;
      firstError ??= (err as Error).message;
      return undefined;
    }
  };
  const newRun = async () =>
    (await op('runs/create', 'POST', '/runs/create', { experiment_id: experimentId, start_time: Date.now(), run_name: `soak-${i}` }))?.run.info.run_id as string | undefined;
  let runId = await newRun();
  for (let round = 0; !stop; round++) {
    if (!runId || round % 200 === 199) runId = (await newRun()) ?? runId;
    if (!runId) continue;
    const ts = Date.now();
    await op('log-batch 10', 'POST', '/runs/log-batch', {
      run_id: runId,
      metrics: Array.from({ length: 10 }, (_, k) => ({ key: `m${k}`, value: Math.random(), timestamp: ts, step: round })),
    });
    if (round % 10 === 0) {
      await op('log-batch 1000', 'POST', '/runs/log-batch', {
        run_id: runId,
        metrics: Array.from({ length: 1000 }, (_, k) => ({ key: `big${k % 10}`, value: k, timestamp: ts, step: round * 100 + Math.floor(k / 10) })),
      });
    }
    await op('runs/get', 'GET', `/runs/get?run_id=${runId}`);
    await op('get-history', 'GET', `/metrics/get-history?run_id=${runId}&metric_key=m${round % 10}`);
    await op('runs/search', 'POST', '/runs/search', { experiment_ids: [experimentId], max_results: 50, filter: 'metrics.m0 > 0.5', order_by: ['metrics.m1 DESC'] });
    if (round % 20 === 0) {
      const r = await op('runs/create', 'POST', '/runs/create', { experiment_id: experimentId, start_time: ts, run_name: `side-${i}-${round}` });
      if (r) {
        const id = r.run.info.run_id;
        await op('log-batch params', 'POST', '/runs/log-batch', {
          run_id: id,
          params: Array.from({ length: 10 }, (_, k) => ({ key: `p${k}`, value: String(round + k) })),
          tags: [{ key: 'client', value: String(i) }],
        });
        await op('set-tag', 'POST', '/runs/set-tag', { run_id: id, key: 'note', value: 'x'.repeat(200) });
        await op('runs/update', 'POST', '/runs/update', { run_id: id, status: 'FINISHED', end_time: Date.now() });
      }
      await op('experiments/search', 'POST', '/experiments/search', { max_results: 100 });
    }
  }
  c.close();
}

const samples: { at: number; rss: number }[] = [];
const t0 = Date.now();
const cpu0 = cpuMs(s.pids());
const sample = () => samples.push({ at: (Date.now() - t0) / 1000, rss: rssBytes(s.pids()) });
sample();
console.log(`  t=0 s: RSS ${fmt(samples[0]!.rss / MB, 1)} MB (idle, before the traffic)`);
const sampler = setInterval(sample, 5000);
let lastTotal = 0;
const printer = setInterval(() => {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  sample();
  const last = samples[samples.length - 1]!;
  console.log(`  t=${fmt(last.at)} s: RSS ${fmt(last.rss / MB, 1)} MB | ${fmt((total - lastTotal) / 30)} req/s over the last 30 s | ${errors} errors so far`);
  lastTotal = total;
}, 30_000);
const running = Array.from({ length: CLIENTS }, (_, i) => client(i));
await new Promise((r) => setTimeout(r, SECONDS * 1000));
stop = true;
await Promise.all(running);
clearInterval(sampler);
clearInterval(printer);
sample();

const secs = (Date.now() - t0) / 1000;
const total = [...counts.values()].reduce((a, b) => a + b, 0);
const mean = (xs: { rss: number }[]) => xs.reduce((a, b) => a + b.rss, 0) / Math.max(1, xs.length);
const window = Math.min(60, secs / 3);
const first = samples.filter((x) => x.at > 0 && x.at <= window);
const last = samples.filter((x) => x.at >= secs - window);
console.log(`soak done: ${fmt(total)} requests in ${fmt(secs)} s (${fmt(total / secs)} req/s), ${errors} not 200${firstError ? ` (first: ${firstError})` : ''}`);
console.log(`  by operation: ${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')}`);
console.log(`  server CPU ${fmt((cpuMs(s.pids()) - cpu0) / total, 2)} ms/req; RSS peak ${fmt(Math.max(...samples.map((x) => x.rss)) / MB, 1)} MB`);
console.log(
  `  RSS mean over the first ${fmt(window)} s ${fmt(mean(first) / MB, 1)} MB → last ${fmt(window)} s ${fmt(mean(last) / MB, 1)} MB: ` +
    `growth ${fmt((mean(last) - mean(first)) / MB, 1)} MB (${fmt((100 * (mean(last) - mean(first))) / mean(first), 1)}%)`,
);
if (secs >= 180) {
  // the first minute includes the warm-up (code compiled, caches and pools filled): the second minute is the plateau
  const second = samples.filter((x) => x.at > 60 && x.at <= 120);
  console.log(`  after warm-up: RSS mean over the second minute ${fmt(mean(second) / MB, 1)} MB → last minute ${fmt(mean(last) / MB, 1)} MB: growth ${fmt((mean(last) - mean(second)) / MB, 1)} MB`);
}
admin.close();
await s.close();
process.exit(errors ? 1 : 0);
