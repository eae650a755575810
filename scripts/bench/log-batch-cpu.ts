// npx tsx scripts/bench/log-batch-cpu.ts sqlite|mysql — the server's own CPU per log-batch of 1000 points (issue 11
// item 2, goal ≤ 3 ms) and of 10 points: the built server (`node dist/server/main.js`) in its own process, one
// client, the process's CPU (all threads, /proc/<pid>/task/*/schedstat) over the window.
// Env: DISTS=dist,.tmp/dist-old (or MLTRACK_BENCH_DIST=<dir>): each build's server is started (its own database) and
// measured in turn, ROUNDS rounds (default 5, order reversed every other round), so that the load other processes
// put on this shared machine falls on every build alike; prints each build's median and the median paired
// difference to the first build. A copy of an old build needs package.json one level above it (cp package.json .tmp/).
// NODE_ARGS_<i>: node options for the i-th build's server. CPU_PROF=<dir> writes a --cpu-prof profile of the first
// build's server (then one round); CPU_BATCHES (default 100) 1000-point batches a round (6× as many of 10); CPU_SIZES=1000 or 10 measures one only (for a profile of one);
// CPU_CLIENTS=4 (or 20) clients at once: 1000-point batches each into its own run, 10-point ones all into one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { execFileSync, spawn } from 'node:child_process';
import { scratchMysqlDatabase, median } from './common.ts';
import { Client, systemMs, threadCpuMs, type SpawnedServer } from './procs.ts';
import { profileTop } from './create.ts';

const kind = (process.argv[2] ?? 'sqlite') as 'sqlite' | 'mysql';
const ROOT = path.resolve(import.meta.dirname, '../..');
const distList = process.env.DISTS || process.env.MLTRACK_BENCH_DIST;
const dists = (distList || 'dist').split(',').map((d) => path.resolve(ROOT, d));
if (!distList) execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-server.mjs')], { stdio: 'inherit', cwd: ROOT });
const N = Number(process.env.CPU_BATCHES || 100);
const PROF = process.env.CPU_PROF ? path.resolve(process.env.CPU_PROF) : undefined;
const ROUNDS = PROF ? 1 : Number(process.env.ROUNDS || 5);
/** CPU_CLIENTS (1): clients at once; wall is then per batch of all of them (the inverse of the rate) */
const CLIENTS = Number(process.env.CPU_CLIENTS || 1);

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

const ts0 = Date.now();
/** A body as a client library sends it: 10 keys, `size / 10` steps. */
const body = (runId: string, b: number, size: number) =>
  Buffer.from(
    `{"run_id":"${runId}","metrics":[${Array.from({ length: size }, (_, i) => `{"key":"metric_${i % 10}","value":${Math.sin(b * size + i)},"timestamp":${ts0 + b},"step":${b * (size / 10) + Math.floor(i / 10)}}`).join(',')}]}`,
  );

async function start(dist: string, prof: boolean, extra: string[]) {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mltrack-cpu-'));
  const token = 'mltpat-cpu-bench-0123456789abcdef';
  const scratch = kind === 'mysql' ? await scratchMysqlDatabase(process.env.MLTRACK_BENCH_MYSQL_URL || process.env.MLTRACK_TEST_MYSQL_URL!, 'mltrack_cpu') : undefined;
  const args = [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${PROF}`] : []), ...(process.env.CPU_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...extra];
  const proc = spawn(process.execPath, [...args, path.join(dist, 'server/main.js')], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: scratch?.url ?? '', MLTRACK_INITIAL_TOKEN: token, MLTRACK_ACCESS_LOG: '0', MLTRACK_WORKERS: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => {
    out += d;
    if (process.env.CPU_NODE_ARGS) process.stdout.write(d); // e.g. --trace-gc
  });
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  while (!/listening on/.test(out)) {
    if (proc.exitCode !== null) throw new Error(`server exited: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const target = { port, token, base: '/api/v4/projects/1/ml/mlflow/api/2.0/mlflow' } as SpawnedServer;
  const c = new Client(target);
  const pool = Array.from({ length: CLIENTS }, () => new Client(target));
  const { experiment_id } = await c.call('POST', '/experiments/create', { name: 'cpu' });
  let batch = 0;
  const newRun = async () => (await c.call('POST', '/runs/create', { experiment_id, start_time: Date.now() })).run.info.run_id as string;
  /**
   * n batches of `size` points, one at a time from each of CLIENTS clients: 1000-point batches each client into its
   * own new run, 10-point ones all into one new run (issue 11's figures); CPU ms and wall ms per batch.
   */
  const measure = async (size: number, n: number) => {
    const one = await newRun();
    const runs = size === 10 ? pool.map(() => one) : [one, ...(await Promise.all(pool.slice(1).map(() => newRun())))];
    const per = Math.ceil(n / CLIENTS);
    const bodies = runs.map((runId) => Array.from({ length: per }, () => body(runId, batch++, size)));
    const c0 = threadCpuMs(proc.pid!);
    const s0 = systemMs(proc.pid!);
    const t0 = performance.now();
    await Promise.all(pool.map(async (client, i) => {
      for (const b of bodies[i]!) await client.call('POST', '/runs/log-batch', b);
    }));
    const done = per * CLIENTS;
    return { cpu: (threadCpuMs(proc.pid!) - c0) / done, sys: (systemMs(proc.pid!) - s0) / done, wall: (performance.now() - t0) / done };
  };
  const close = async () => {
    c.close();
    for (const x of pool) x.close();
    proc.kill('SIGTERM');
    await exited;
    await scratch?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  return { dist: dist + (extra.length ? ` (${extra.join(' ')})` : ''), measure, close };
}

const sizes = (process.env.CPU_SIZES || '1000,10').split(',').map(Number);
if (PROF) fs.mkdirSync(PROF, { recursive: true });
const servers = [];
/** NODE_ARGS_<i>: node options of the i-th build's server (the same build twice with two flags is an A/B too) */
const nodeArgs = (i: number) => process.env[`NODE_ARGS_${i}`]?.split(' ').filter(Boolean) ?? [];
for (const [i, d] of dists.entries()) servers.push(await start(d, !!PROF && i === 0, nodeArgs(i)));
for (const s of servers) for (const size of sizes) await s.measure(size, size === 1000 ? 30 : 300); // warm-up: JIT, caches
const results = new Map<string, { cpu: number[]; sys: number[]; wall: number[] }>();
for (let r = 0; r < ROUNDS; r++) {
  for (const size of sizes) {
    for (const s of r % 2 ? [...servers].reverse() : servers) {
      const m = await s.measure(size, size === 1000 ? N : N * 6);
      const key = `${servers.indexOf(s)}\t${size}`;
      const l = results.get(key) ?? { cpu: [], sys: [], wall: [] };
      l.cpu.push(m.cpu);
      l.sys.push(m.sys);
      l.wall.push(m.wall);
      results.set(key, l);
    }
  }
}
for (const size of sizes) {
  const of = (i: number) => results.get(`${i}\t${size}`)!;
  console.log(
    `[${kind}] server CPU per log-batch of ${size} points, ${CLIENTS} client(s)${size === 10 && CLIENTS > 1 ? ' into one run' : ''}, median of ${ROUNDS}×${size === 1000 ? N : N * 6}: ` +
      servers.map((s, i) => `${path.relative(ROOT, s.dist) || '.'} ${median(of(i).cpu).toFixed(3)} ms (system ${median(of(i).sys).toFixed(2)}; wall ${median(of(i).wall).toFixed(2)})`).join(' | ') +
      servers.slice(1).map((_, j) => ` | ${j + 1}−0 paired median ${median(of(j + 1).cpu.map((x, k) => x - of(0).cpu[k]!)).toFixed(3)} ms`).join('') +
      (size === 1000 ? ' (goal ≤ 3)' : ''),
  );
}
for (const s of servers) await s.close();
if (PROF) {
  // the newest profile in the directory: the server's, written at its exit
  const newest = fs.readdirSync(PROF).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(PROF, f)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  if (newest) for (const line of profileTop(newest, Number(process.env.CPU_PROF_TOP || 30))) console.log(line);
}
process.exit(0);
