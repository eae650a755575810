// npx tsx scripts/bench/log-batch-cpu.ts sqlite|mysql — the server's own CPU per 1000-point log-batch (issue 11 item 2,
// goal ≤ 3 ms): a server in its own process (scripts/bench/history.ts spawnServer), 350 batches from one client, the
// process's utime+stime from /proc over the window. HISTORY_PROF=<dir> writes a --cpu-prof profile of the server.
import fs from 'node:fs';
import { spawnServer, ok, BASE } from './history.ts';
const kind = (process.argv[2] ?? 'sqlite') as 'sqlite' | 'mysql';
const s = await spawnServer(kind, process.env.MLTRACK_TEST_MYSQL_URL);
const cpu = () => { const f = fs.readFileSync(`/proc/${s.pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
const { experiment_id } = JSON.parse((await ok(s.port, 'POST', `${BASE}/experiments/create`, { name: 'cpu' })).text);
const runId = JSON.parse((await ok(s.port, 'POST', `${BASE}/runs/create`, { experiment_id, start_time: Date.now() })).text).run.info.run_id;
const ts0 = Date.now();
const body = (b: number) => `{"run_id":"${runId}","metrics":[${Array.from({ length: 1000 }, (_, i) => `{"key":"metric_${i % 10}","value":${Math.sin(b * 1000 + i)},"timestamp":${ts0 + b},"step":${b * 100 + Math.floor(i / 10)}}`).join(',')}]}`;
const bodies = Array.from({ length: 400 }, (_, b) => body(b));
for (let b = 0; b < 50; b++) await ok(s.port, 'POST', `${BASE}/runs/log-batch`, bodies[b]);
const c0 = cpu(); const t0 = performance.now();
for (let b = 50; b < 400; b++) await ok(s.port, 'POST', `${BASE}/runs/log-batch`, bodies[b]);
const c1 = cpu(); const w = performance.now() - t0;
console.log(`[${kind}] server process CPU per 1000-point batch: ${((c1 - c0) / 350).toFixed(2)} ms (wall ${(w / 350).toFixed(2)} ms/batch, 1 client)`);
await s.close(); process.exit(0);
