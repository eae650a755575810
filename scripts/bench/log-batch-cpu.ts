// npx tsx scripts/bench/log-batch-cpu.ts sqlite|mysql — the server's own CPU per log-batch of 1000 points (issue 11
// item 2, goal ≤ 3 ms) and of 10 points: the built server (`node dist/server/main.js`) in its own process, one
// client, the process's utime+stime from /proc over the window.
// Env: MLTRACK_BENCH_DIST=<dir> runs another build's server/main.js (A/B: copy an old dist/ to .tmp/dist-old, then
// alternate); CPU_PROF=<dir> writes a --cpu-prof profile of the server; CPU_BATCHES (default 350) 1000-point batches
// (6× as many of 10); CPU_SIZES=1000 or 10 measures one only (for a profile of one).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { execFileSync, spawn } from 'node:child_process';
import { scratchMysqlDatabase } from './common.ts';
import { Client, cpuMs, type SpawnedServer } from './procs.ts';
import { profileTop } from './create.ts';

const kind = (process.argv[2] ?? 'sqlite') as 'sqlite' | 'mysql';
const ROOT = path.resolve(import.meta.dirname, '../..');
const dist = path.resolve(ROOT, process.env.MLTRACK_BENCH_DIST || 'dist');
if (!process.env.MLTRACK_BENCH_DIST) execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-server.mjs')], { stdio: 'inherit', cwd: ROOT });
const N = Number(process.env.CPU_BATCHES || 350);

const port = await new Promise<number>((resolve) => {
  const s = http.createServer().listen(0, '127.0.0.1', () => {
    const p = (s.address() as { port: number }).port;
    s.close(() => resolve(p));
  });
});
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mltrack-cpu-'));
const token = 'mltpat-cpu-bench-0123456789abcdef';
const scratch = kind === 'mysql' ? await scratchMysqlDatabase(process.env.MLTRACK_BENCH_MYSQL_URL || process.env.MLTRACK_TEST_MYSQL_URL!, 'mltrack_cpu') : undefined;
const prof = process.env.CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.CPU_PROF)}`] : [];
const proc = spawn(process.execPath, [...prof, ...(process.env.CPU_NODE_ARGS?.split(' ').filter(Boolean) ?? []), path.join(dist, 'server/main.js')], {
  cwd: ROOT,
  env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: scratch?.url ?? '', MLTRACK_INITIAL_TOKEN: token, MLTRACK_ACCESS_LOG: '0', MLTRACK_WORKERS: '1' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
proc.stdout!.on('data', (d) => {
  out += d;
  if (process.env.CPU_NODE_ARGS) process.stdout.write(d);
});
const exited = new Promise<void>((r) => proc.on('exit', () => r()));
while (!/listening on/.test(out)) {
  if (proc.exitCode !== null) throw new Error(`server exited: ${out}`);
  await new Promise((r) => setTimeout(r, 50));
}
const s = { port, token, base: '/api/v4/projects/1/ml/mlflow/api/2.0/mlflow' } as SpawnedServer;
const c = new Client(s);
const cpu = () => cpuMs([proc.pid!]);

const { experiment_id } = await c.call('POST', '/experiments/create', { name: 'cpu' });
const newRun = async () => (await c.call('POST', '/runs/create', { experiment_id, start_time: Date.now() })).run.info.run_id as string;
const ts0 = Date.now();
/** A body as a client library sends it: 10 keys, `size / 10` steps. */
const body = (runId: string, b: number, size: number) =>
  Buffer.from(
    `{"run_id":"${runId}","metrics":[${Array.from({ length: size }, (_, i) => `{"key":"metric_${i % 10}","value":${Math.sin(b * size + i)},"timestamp":${ts0 + b},"step":${b * (size / 10) + Math.floor(i / 10)}}`).join(',')}]}`,
  );

async function measure(size: number, batches: number, warm: number): Promise<{ cpu: number; wall: number }> {
  const runId = await newRun();
  const bodies = Array.from({ length: warm + batches }, (_, b) => body(runId, b, size));
  for (let b = 0; b < warm; b++) await c.call('POST', '/runs/log-batch', bodies[b]);
  const c0 = cpu();
  const t0 = performance.now();
  for (let b = warm; b < warm + batches; b++) await c.call('POST', '/runs/log-batch', bodies[b]);
  return { cpu: (cpu() - c0) / batches, wall: (performance.now() - t0) / batches };
}

const sizes = (process.env.CPU_SIZES || '1000,10').split(',');
const none = { cpu: NaN, wall: NaN };
const big = sizes.includes('1000') ? await measure(1000, N, 50) : none;
const small = sizes.includes('10') ? await measure(10, N * 6, 300) : none;
console.log(
  `[${kind}] server CPU per log-batch (${path.relative(ROOT, dist)}): 1000 points ${big.cpu.toFixed(2)} ms (goal ≤ 3; wall ${big.wall.toFixed(2)} ms) · ` +
    `10 points ${small.cpu.toFixed(3)} ms (wall ${small.wall.toFixed(3)} ms), 1 client`,
);
c.close();
proc.kill('SIGTERM');
await exited;
await scratch?.drop();
if (process.env.CPU_PROF) {
  // the newest profile in the directory: the server's, written at its exit
  const dir = path.resolve(process.env.CPU_PROF);
  const newest = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  if (newest) for (const line of profileTop(newest, Number(process.env.CPU_PROF_TOP || 30))) console.log(line);
}
fs.rmSync(dataDir, { recursive: true, force: true });
process.exit(0);
