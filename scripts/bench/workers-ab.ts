// How the default of MLTRACK_WORKERS was chosen (server/workers.ts): servers with different worker counts on fresh
// databases, all started at once, then loaded in turn, 2.5 s each, round after round, so that the load other
// processes put on a shared machine falls on every setting alike; prints each setting's median rate, p99 and server
// CPU per request. `npx tsx scripts/bench/workers-ab.ts` with KIND=sqlite|mysql (mysql: MLTRACK_TEST_MYSQL_URL),
// WORKERS=1,2 (settings), ROUNDS=5, FIGS=create,b10,b1000,w64.
import { Client, cpuMs, spawnServer, type SpawnedServer } from './procs.ts';
import { fmt, median } from './common.ts';

const kind = (process.env.KIND || 'sqlite') as 'sqlite' | 'mysql';
const mysqlUrl = process.env.MLTRACK_BENCH_MYSQL_URL || process.env.MLTRACK_TEST_MYSQL_URL;
const settings = (process.env.WORKERS || '1,2').split(',').map(Number);
const servers: SpawnedServer[] = [];
for (const w of settings) servers.push(await spawnServer(kind, mysqlUrl, w));
const ts = Date.now();
const ctx = await Promise.all(
  servers.map(async (s) => {
    const c = new Client(s);
    const e = (await c.call('POST', '/experiments/create', { name: 'ab' })).experiment_id as string;
    const run = (await c.call('POST', '/runs/create', { experiment_id: e, start_time: ts })).run.info.run_id as string;
    c.close();
    return { e, run };
  }),
);

let step = 0;
/** One turn of one figure on one server: closed-loop clients for `ms`. */
async function turn(i: number, fig: string, ms: number) {
  const s = servers[i]!;
  const { e, run } = ctx[i]!;
  const clients = fig === 'w64' ? 64 : fig === 'b1000' ? 4 : 20;
  const lat: number[] = [];
  const cpu0 = cpuMs(s.pids());
  const t0 = performance.now();
  const until = t0 + ms;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new Client(s);
      while (performance.now() < until) {
        const t = performance.now();
        if (fig === 'create') await c.call('POST', '/runs/create', { experiment_id: e, start_time: ts, run_name: 'x', tags: [{ key: 'mlflow.user', value: 'b' }] });
        else {
          const size = fig === 'b1000' ? 1000 : 10;
          await c.call('POST', '/runs/log-batch', { run_id: run, metrics: Array.from({ length: size }, (_, k) => ({ key: `m${k % 10}`, value: k, timestamp: ts, step: step++ })) });
        }
        lat.push(performance.now() - t);
      }
      c.close();
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { rate: lat.length / secs, p99: lat[Math.floor(lat.length * 0.99)]!, cpu: (cpuMs(s.pids()) - cpu0) / lat.length };
}

for (const fig of (process.env.FIGS || 'create,b10,b1000,w64').split(',')) {
  const res: { rate: number; p99: number; cpu: number }[][] = settings.map(() => []);
  for (let i = 0; i < servers.length; i++) await turn(i, fig, 500); // warm-up
  for (let r = 0; r < Number(process.env.ROUNDS || 5); r++) for (let i = 0; i < servers.length; i++) res[i]!.push(await turn(i, fig, 2500));
  console.log(
    `${kind} ${fig}: ` +
      settings
        .map((w, i) => `w=${w} ${fmt(median(res[i]!.map((x) => x.rate)))} req/s [${res[i]!.map((x) => fmt(x.rate)).join(' ')}], p99 ${fmt(median(res[i]!.map((x) => x.p99)))} ms, CPU ${fmt(median(res[i]!.map((x) => x.cpu)), 2)} ms/req`)
        .join(' | '),
  );
}
for (const s of servers) await s.close();
process.exit(0);
