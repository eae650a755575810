/**
 * Group commit of log-batch (db/batch-group.ts) against its same-run baseline: two servers in their own processes
 * (scripts/bench/server-child.ts), one grouping and one with BENCH_NO_GROUP=1 (each batch its own transaction, as
 * before), measured in alternating rounds so that the noise of a shared machine falls on both. Per round and server:
 * 10-metric batches into one run from 20 clients (req/s, p50/p99 latency, server CPU per request, on MySQL the
 * MariaDB process's CPU per request: shared with whatever else runs on it), and 1000-point batches at 1 and 4 clients
 * (each client its own run: nothing to group, so these must not move). Prints each round and the medians.
 *
 * npx tsx scripts/bench/batch-group.ts   (env: MLTRACK_BENCH_MYSQL_URL or MLTRACK_TEST_MYSQL_URL adds MySQL;
 * MLTRACK_BENCH_KINDS=sqlite,mysql; BENCH_GROUP_ROUNDS (3); BENCH_GROUP_PER (75 batches per client a round))
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fmt, scratchMysqlDatabase } from './common.ts';
import { cpuMs, databasePid } from './procs.ts';

type Kind = 'sqlite' | 'mysql';
const ROUNDS = Number(process.env.BENCH_GROUP_ROUNDS || 3);
const PER = Number(process.env.BENCH_GROUP_PER || 75);
const BASE = '/api/v4/projects/1/ml/mlflow/api/2.0/mlflow';

interface Server {
  label: string;
  proc: ChildProcess;
  port: number;
  token: string;
  drop(): Promise<void>;
}

async function start(kind: Kind, mysqlUrl: string | undefined, grouped: boolean): Promise<Server> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mltrack-bench-group-'));
  const scratch = kind === 'mysql' ? await scratchMysqlDatabase(mysqlUrl!, 'mltrack_gbench') : undefined;
  const proc = fork(fileURLToPath(new URL('./server-child.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_DATA_DIR: dataDir, BENCH_DATABASE_URL: scratch?.url ?? '', BENCH_NO_GROUP: grouped ? '0' : '1' },
  });
  const { port, token } = await new Promise<{ port: number; token: string }>((resolve, reject) => {
    proc.once('message', (m) => resolve(m as { port: number; token: string }));
    proc.once('exit', (code) => reject(new Error(`bench server exited (${code})`)));
  });
  return {
    label: grouped ? 'grouped' : 'one tx per batch',
    proc, port, token,
    async drop() {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.send('stop');
      await exited;
      await scratch?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One client: its own keep-alive connection. */
function client(s: Server) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const call = (p: string, body: unknown): Promise<any> => {
    const data = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1', port: s.port, method: 'POST', path: BASE + p, agent,
          headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json', 'content-length': data.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode === 200) resolve(JSON.parse(text));
            else reject(new Error(`${p} → ${res.statusCode} ${text.slice(0, 200)}`));
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  };
  return { call, close: () => agent.destroy() };
}

const ts = Date.now();
const batch = (runId: string, count: number, step: number) => ({
  run_id: runId,
  metrics: Array.from({ length: count }, (_, i) => ({ key: `metric_${i % 10}`, value: Math.sin(step + i), timestamp: ts, step: step + Math.floor(i / 10) })),
});

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? 0;
const median = (xs: number[]) => quantile(xs, 0.5);

interface Round { rps: number; p50: number; p99: number; cpu: number; dbCpu?: number; big1: number; big4: number }

/** `clients` loops, each with its own connection, each sending its bodies in order; latencies of every call. */
async function load(s: Server, bodies: unknown[][]): Promise<{ secs: number; lat: number[] }> {
  const cs = bodies.map(() => client(s));
  const lat: number[] = [];
  const t0 = performance.now();
  await Promise.all(cs.map(async (c, i) => {
    for (const b of bodies[i]!) {
      const a = performance.now();
      await c.call('/runs/log-batch', b);
      lat.push(performance.now() - a);
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  for (const c of cs) c.close();
  return { secs, lat };
}

async function round(s: Server, dbPid: number | undefined): Promise<Round> {
  const admin = client(s);
  const exp = (await admin.call('/experiments/create', { name: `g-${Date.now()}-${Math.random()}` })).experiment_id;
  const newRun = async () => (await admin.call('/runs/create', { experiment_id: exp, start_time: Date.now() })).run.info.run_id as string;
  const one = await newRun();
  const small = Array.from({ length: 20 }, (_, c) => Array.from({ length: PER }, (_, k) => Buffer.from(JSON.stringify(batch(one, 10, (c * PER + k) * 10)))));
  const cpu0 = cpuMs([s.proc.pid!]);
  const db0 = dbPid ? cpuMs([dbPid]) : 0;
  const r = await load(s, small);
  const n = 20 * PER;
  const cpu = (cpuMs([s.proc.pid!]) - cpu0) / n;
  const dbCpu = dbPid ? (cpuMs([dbPid]) - db0) / n : undefined;
  const big = async (clients: number, per: number) => {
    const runs = await Promise.all(Array.from({ length: clients }, () => newRun()));
    const b = runs.map((run) => Array.from({ length: per }, (_, k) => Buffer.from(JSON.stringify(batch(run, 1000, k * 100)))));
    const x = await load(s, b);
    return (clients * per * 1000) / x.secs;
  };
  const big1 = await big(1, 20);
  const big4 = await big(4, 10);
  admin.close();
  return { rps: n / r.secs, p50: quantile(r.lat, 0.5), p99: quantile(r.lat, 0.99), cpu, dbCpu, big1, big4 };
}

const show = (r: Round) =>
  `batch10x20 ${fmt(r.rps)} req/s (p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms), server CPU ${fmt(r.cpu, 2)} ms/req` +
  (r.dbCpu !== undefined ? `, MariaDB CPU ${fmt(r.dbCpu, 2)} ms/req` : '') +
  ` | 1000 points, 1 client ${fmt(r.big1)} points/s, 4 clients ${fmt(r.big4)} points/s`;

export async function benchBatchGroup(kind: Kind, mysqlUrl?: string): Promise<void> {
  const servers = [await start(kind, mysqlUrl, false), await start(kind, mysqlUrl, true)];
  const dbPid = kind === 'mysql' ? databasePid(Number(new URL(mysqlUrl!).port || 3306)) : undefined;
  const results = new Map<Server, Round[]>(servers.map((s) => [s, []]));
  try {
    for (const s of servers) await round(s, undefined); // warm-up: JIT, pools
    for (let i = 0; i < ROUNDS; i++) {
      // alternate which goes first
      for (const s of i % 2 ? [...servers].reverse() : servers) {
        const r = await round(s, dbPid);
        results.get(s)!.push(r);
        console.log(`  [${kind}] round ${i + 1}, ${s.label}: ${show(r)}`);
      }
    }
  } finally {
    for (const s of servers) await s.drop();
  }
  for (const s of servers) {
    const rs = results.get(s)!;
    const m = (f: (r: Round) => number) => median(rs.map(f));
    const dbs = rs.map((r) => r.dbCpu).filter((x): x is number => x !== undefined);
    console.log(`[${kind}] median of ${rs.length}, ${s.label}: ${show({ rps: m((r) => r.rps), p50: m((r) => r.p50), p99: m((r) => r.p99), cpu: m((r) => r.cpu), dbCpu: dbs.length ? median(dbs) : undefined, big1: m((r) => r.big1), big4: m((r) => r.big4) })}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const mysqlUrl = process.env.MLTRACK_BENCH_MYSQL_URL || process.env.MLTRACK_TEST_MYSQL_URL;
  for (const kind of (process.env.MLTRACK_BENCH_KINDS || (mysqlUrl ? 'sqlite,mysql' : 'sqlite')).split(',') as Kind[]) await benchBatchGroup(kind, mysqlUrl);
  process.exit(0);
}
