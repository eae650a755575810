/**
 * The server's CPU per request at 1 client (issue 11): runs/create, runs/get, a 10-metric runs/log-batch, seeding's
 * create + 30-item batch (OPS=seed: not in the default set) and GET /health
 * (the HTTP floor), each build's server (`node <dist>/server/main.js`, its own fresh database) measured in turn, round
 * after round, so that what other processes on this shared machine do falls on every build alike. Prints each build's
 * median CPU ms per request (all the server's threads' time on a CPU, /proc/<pid>/task/<tid>/schedstat, over the window;
 * the system share from /proc/<pid>/stat's 10 ms ticks) and its wall ms, and each build's median paired difference to
 * the first build (round by round: the load other processes put on the machine changes from round to round).
 *   DISTS=dist,.tmp/dist-old KIND=sqlite|mysql ROUNDS=5 N=1500 npx tsx scripts/bench/request-cpu.ts
 * NODE_ARGS_0, NODE_ARGS_1…: node options for each build's server (the same build twice with two flags is an A/B too).
 * DISTS defaults to dist (built first); CPU_PROF=<dir> runs the first build under --cpu-prof and prints its profile's top
 * items (self time) per operation (OPS=create,get,batch10,health picks some).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createRunBody, fmt, median, requestJson, scratchMysqlDatabase } from './common.ts';
import { profileTop } from './create.ts';
import { systemMs, threadCpuMs } from './procs.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const kind = (process.env.KIND || 'sqlite') as 'sqlite' | 'mysql';
const mysqlUrl = process.env.MLTRACK_BENCH_MYSQL_URL || process.env.MLTRACK_TEST_MYSQL_URL;
const dists = (process.env.DISTS || 'dist').split(',').map((d) => path.resolve(ROOT, d));
const ROUNDS = Number(process.env.ROUNDS || 5);
const N = Number(process.env.N || 1500);
const OPS = (process.env.OPS || 'create,get,batch10,health').split(',');
/** NODE_ARGS_<i>: node options of the i-th build's server (e.g. NODE_ARGS_1=--max-semi-space-size=32), for A/B of flags */
const nodeArgs = (i: number) => process.env[`NODE_ARGS_${i}`]?.split(' ').filter(Boolean) ?? [];
const PROF = process.env.CPU_PROF ? path.resolve(process.env.CPU_PROF) : undefined;
const BASE = '/api/v4/projects/1/ml/mlflow/api/2.0/mlflow';

if (!process.env.DISTS) execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-server.mjs')], { stdio: 'inherit', cwd: ROOT });

interface Server {
  dist: string;
  proc: ChildProcess;
  port: number;
  token: string;
  base: string;
  agent: http.Agent;
  experimentId: string;
  runId: string;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function start(dist: string, prof: boolean, args: string[] = []): Promise<Server> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mltrack-reqcpu-'));
  const scratch = kind === 'mysql' ? await scratchMysqlDatabase(mysqlUrl!, 'mltrack_reqcpu') : undefined;
  const port = await freePort();
  const token = 'mltpat-reqcpu-bench-0123456789abcdef';
  const proc = spawn(process.execPath, [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${PROF}`] : []), ...args, path.join(dist, 'server/main.js')], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: scratch?.url ?? '', MLTRACK_INITIAL_TOKEN: token, MLTRACK_ACCESS_LOG: '0', MLTRACK_WORKERS: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  const until = Date.now() + 120_000;
  while (!/listening on/.test(out)) {
    if (proc.exitCode !== null) throw new Error(`server exited: ${out}`);
    if (Date.now() > until) throw new Error(`server of ${dist} did not start in 120 s: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const s = { dist, proc, port, token, base: BASE, agent } as Server;
  s.experimentId = (await requestJson(s, agent, 'POST', '/experiments/create', { name: 'cpu' })).experiment_id;
  s.runId = (await requestJson(s, agent, 'POST', '/runs/create', createRunBody(s.experimentId, 0))).run.info.run_id;
  await requestJson(s, agent, 'POST', '/runs/log-batch', { run_id: s.runId, params: [{ key: 'p', value: '1' }], metrics: [{ key: 'm', value: 1, timestamp: 1, step: 0 }] });
  s.close = async () => {
    agent.destroy();
    proc.kill('SIGTERM');
    await exited;
    await scratch?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  return s;
}

function health(s: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: s.port, path: '/health', agent: s.agent }, (res) => {
      res.resume();
      res.on('end', resolve);
    }).on('error', reject);
  });
}

let step = 1;
const ts0 = Date.now();
const ops: Record<string, (s: Server, i: number) => Promise<unknown>> = {
  create: (s, i) => requestJson(s, s.agent, 'POST', '/runs/create', createRunBody(s.experimentId, i)),
  get: (s) => requestJson(s, s.agent, 'GET', `/runs/get?run_id=${s.runId}`),
  batch10: (s) => {
    const st = step++;
    return requestJson(s, s.agent, 'POST', '/runs/log-batch', {
      run_id: s.runId,
      metrics: Array.from({ length: 10 }, (_, k) => ({ key: `metric_${k}`, value: Math.sin(st * 10 + k), timestamp: ts0 + st, step: st })),
    });
  },
  // seeding's pair (scripts/bench/write.ts): a create, then one 30-item batch (10 metrics, params, tags) into it
  seed: async (s, i) => {
    const runId = (await requestJson(s, s.agent, 'POST', '/runs/create', createRunBody(s.experimentId, i))).run.info.run_id;
    return requestJson(s, s.agent, 'POST', '/runs/log-batch', {
      run_id: runId,
      metrics: Array.from({ length: 10 }, (_, j) => ({ key: `m${j}`, value: i * 0.001 + j, timestamp: ts0, step: 0 })),
      params: Array.from({ length: 10 }, (_, j) => ({ key: `p${j}`, value: String((i + j) % 7) })),
      tags: Array.from({ length: 10 }, (_, j) => ({ key: `t${j}`, value: `v${(i * j) % 13}` })),
    });
  },
  health: (s) => health(s),
};

/** n calls of op, one at a time: server CPU ms and wall ms per call. */
async function measure(s: Server, op: string, n: number): Promise<{ cpu: number; sys: number; wall: number }> {
  const f = ops[op]!;
  const c0 = systemMs(s.proc.pid!);
  const ns0 = threadCpuMs(s.proc.pid!);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await f(s, i);
  const ns1 = threadCpuMs(s.proc.pid!);
  const c1 = systemMs(s.proc.pid!);
  return { cpu: (ns1 - ns0) / n, sys: (c1 - c0) / n, wall: (performance.now() - t0) / n };
}

if (PROF) {
  fs.mkdirSync(PROF, { recursive: true });
  for (const op of OPS) {
    const s = await start(dists[0]!, true, nodeArgs(0));
    await measure(s, op, N * 2);
    await s.close();
    const newest = fs.readdirSync(PROF).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(PROF, f))
      .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0]!;
    console.log(`[${kind}] ${op}: profile ${newest} (${N * 2} calls after start), top self time:\n  ${profileTop(newest, 40).join('\n  ')}`);
  }
  process.exit(0);
}

const servers: Server[] = [];
for (const [i, d] of dists.entries()) servers.push(await start(d, false, nodeArgs(i)));
for (const s of servers) for (const op of OPS) await measure(s, op, 500); // warm-up: JIT, caches
const results = new Map<string, { cpu: number[]; sys: number[]; wall: number[] }>();
for (let r = 0; r < ROUNDS; r++) {
  for (const op of OPS) {
    for (const s of r % 2 ? [...servers].reverse() : servers) {
      const m = await measure(s, op, N);
      const key = `${servers.indexOf(s)}\t${op}`;
      const l = results.get(key) ?? { cpu: [], sys: [], wall: [] };
      l.cpu.push(m.cpu);
      l.sys.push(m.sys);
      l.wall.push(m.wall);
      results.set(key, l);
    }
  }
}
for (const op of OPS) {
  const paired = servers.slice(1).map((s) => {
    const a = results.get(`0\t${op}`)!.cpu;
    const b = results.get(`${servers.indexOf(s)}\t${op}`)!.cpu;
    return ` | ${servers.indexOf(s)}−0 paired median ${fmt(median(b.map((x, i) => x - a[i]!)), 3)} ms`;
  });
  console.log(
    `[${kind}] ${op.padEnd(8)} 1 client, median of ${ROUNDS}×${N}: ` +
      servers.map((s) => {
        const l = results.get(`${servers.indexOf(s)}\t${op}`)!;
        return `${path.relative(ROOT, s.dist)}${nodeArgs(servers.indexOf(s)).join(' ') ? ` (${nodeArgs(servers.indexOf(s)).join(' ')})` : ''} ${fmt(median(l.cpu), 3)} ms CPU (min ${fmt(Math.min(...l.cpu), 3)}; system ${fmt(median(l.sys), 3)}; wall ${fmt(median(l.wall), 3)} ms)`;
      }).join(' | ') + paired.join(''),
  );
}
for (const s of servers) await s.close();
