/**
 * How mltrack scales out (issue 12 item 7): log-batch requests of 100 metric points from 64 concurrent writers, for
 * BENCH_SECONDS (default 15) each, through the app load balancer of scripts/cluster/galera-start.sh with 1, 2 and 4
 * servers on the 3-node Galera cluster (the database haproxy in its default mode: one writer node, the others
 * backups), next to one server on a single MariaDB in the same run (scripts/db/mysql-start.sh on its own port and
 * folder, same InnoDB flush setting as the Galera nodes; the load goes to that server directly). Prints throughput
 * (points/s, batches/s), p50/p99 latency and non-200 answers for each, and the CPU each kind of process used, in
 * cores (the machine has `nproc` of them): that is what says where the limit is.
 *   npm run bench:scale     (root: it starts the Galera cluster if needed and leaves it running, without servers)
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import http from 'node:http';
import { API, byStatus, percentile, request, runLoad } from '../cluster/load.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SECONDS = Number(process.env.BENCH_SECONDS || 15);
const WRITERS = 64;
const POINTS = 100;
const APP_PORT = 5370;
const GALERA_DIR = process.env.MLTRACK_GALERA_DIR || '/tmp/mltrack-galera';
const SINGLE_DIR = '/tmp/mltrack-scale-mariadb';
const SINGLE_PORT = Number(process.env.MLTRACK_SCALE_MYSQL_PORT || 3390);
const SINGLE_APP_PORT = 5380;
const token = `scale-${crypto.randomBytes(6).toString('hex')}`;
const database = `mltrack_scale_${crypto.randomBytes(3).toString('hex')}`;
const sh = (script: string, args: string[], env: Record<string, string> = {}) =>
  execFileSync('bash', [path.join(ROOT, script), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] }).toString();

/** CPU seconds (user + system) of each process, by pid, from /proc. */
function cpuTimes(): Map<number, { name: string; s: number }> {
  const out = new Map<number, { name: string; s: number }>();
  const tick = 100; // USER_HZ
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const f = stat.slice(close + 2).split(' ');
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      out.set(Number(d), { name: classify(Number(d), cmd), s: (Number(f[11]) + Number(f[12])) / tick });
    } catch {
      // gone
    }
  }
  return out;
}
function classify(pid: number, cmd: string): string {
  if (pid === process.pid) return 'load generator';
  if (/mariadbd/.test(cmd)) return 'mariadbd';
  if (/haproxy/.test(cmd)) return 'haproxy';
  if (/dist\/server\/main\.js/.test(cmd)) return 'mltrack servers';
  return 'other (other developers, the OS)';
}
function cpuBetween(a: Map<number, { name: string; s: number }>, b: Map<number, { name: string; s: number }>, seconds: number) {
  const by: Record<string, number> = {};
  for (const [pid, v] of b) by[v.name] = (by[v.name] ?? 0) + v.s - (a.get(pid)?.s ?? 0);
  return Object.fromEntries(Object.entries(by).map(([k, v]) => [k, +(v / seconds).toFixed(2)]));
}

async function createRuns(port: number, n: number): Promise<string[]> {
  const agent = new http.Agent();
  const runs: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await request(agent, port, token, 'POST', `${API}/runs/create`, { experiment_id: '0' }, 30_000);
    if (r.status !== 200) throw new Error(`runs/create ${r.status} ${r.body}`);
    runs.push(JSON.parse(r.body).run.info.run_id);
  }
  return runs;
}

interface Row {
  setup: string;
  pointsPerSec: number;
  batchesPerSec: number;
  p50: number;
  p99: number;
  non200: Record<string, number>;
  cores: Record<string, number>;
}

async function measure(setup: string, port: number): Promise<Row> {
  const runs = await createRuns(port, 8);
  // warm-up: connections, JIT, buffer pool
  await runLoad({ port, token, runs, writers: WRITERS, durationMs: 2000, batchesPerWriter: 1000, metricsPerBatch: POINTS, retry: false });
  const before = cpuTimes();
  const res = await runLoad({ port, token, runs, writers: WRITERS, durationMs: SECONDS * 1000, batchesPerWriter: 1_000_000, metricsPerBatch: POINTS, retry: false });
  const cores = cpuBetween(before, cpuTimes(), res.elapsedMs / 1000);
  const ok = res.attempts.filter((a) => a.status === 200);
  const { '200': _, ...non200 } = byStatus(res.attempts);
  const row: Row = {
    setup,
    pointsPerSec: (ok.length * POINTS) / (res.elapsedMs / 1000),
    batchesPerSec: ok.length / (res.elapsedMs / 1000),
    p50: percentile(ok.map((a) => a.ms), 50),
    p99: percentile(ok.map((a) => a.ms), 99),
    non200,
    cores,
  };
  console.error(`bench:scale: ${setup}: ${Math.round(row.pointsPerSec)} points/s, p99 ${Math.round(row.p99)} ms`);
  return row;
}

async function singleMariadb(label: string): Promise<Row> {
  const url = sh('scripts/db/mysql-start.sh', [], { MLTRACK_MYSQL_DIR: SINGLE_DIR, MLTRACK_MYSQL_PORT: String(SINGLE_PORT) }).trim().split('\n').pop()!;
  const dbUrl = url.replace(/\/[^/]*$/, `/${database}`);
  execFileSync('mariadb', ['--no-defaults', '-h127.0.0.1', `-P${SINGLE_PORT}`, '-umltrack', '-pmltrack', '-e', `CREATE DATABASE \`${database}\``]);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mltrack-scale-'));
  const server = spawn(process.execPath, ['dist/server/main.js'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: dbUrl, PORT: String(SINGLE_APP_PORT), HOST: '127.0.0.1', DATA_DIR: dataDir, MLTRACK_INITIAL_TOKEN: token, MLTRACK_ACCESS_LOG: '0', MLTRACK_METRICS_PORT: String(SINGLE_APP_PORT + 100) }, // metrics on, as servers.sh's
    stdio: 'ignore',
  });
  try {
    for (let i = 0; ; i++) {
      const r = await request(new http.Agent(), SINGLE_APP_PORT, token, 'GET', '/ready', undefined, 2000);
      if (r.status === 200) break;
      if (i > 200) throw new Error('the single-MariaDB server did not get ready');
      await new Promise((r) => setTimeout(r, 200));
    }
    return await measure(`1 server, single MariaDB (${label})`, SINGLE_APP_PORT);
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.on('exit', r));
    execFileSync('mariadb', ['--no-defaults', '-h127.0.0.1', `-P${SINGLE_PORT}`, '-umltrack', '-pmltrack', '-e', `DROP DATABASE IF EXISTS \`${database}\``]);
    sh('scripts/db/mysql-stop.sh', [], { MLTRACK_MYSQL_DIR: SINGLE_DIR });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

// The machine is shared: the baseline runs before and after the cluster, and the table shows both.
const rows: Row[] = [await singleMariadb('before')];
const env = { MLTRACK_CLUSTER_DB: database, MLTRACK_CLUSTER_TOKEN: token, MLTRACK_ACCESS_LOG: '0' };
try {
  for (const n of [1, 2, 4]) {
    sh('scripts/cluster/galera-start.sh', ['--servers', String(n)], env);
    rows.push(await measure(`${n} server${n > 1 ? 's' : ''}, Galera (3 nodes)`, APP_PORT));
  }
} finally {
  sh('scripts/cluster/galera-start.sh', ['--servers', '0'], env);
  execFileSync('mariadb', ['--no-defaults', '-uroot', `--socket=${GALERA_DIR}/n1/mysqld.sock`, '-e', `DROP DATABASE IF EXISTS \`${database}\``]);
}
rows.push(await singleMariadb('after'));

console.log(`\nlog-batch, ${POINTS} points per batch, ${WRITERS} writers, ${SECONDS} s each, ${os.cpus().length} CPUs (baseline: 1 server on a single MariaDB, mean of before and after)`);
console.log('| setup | points/s | batches/s | vs baseline | p50 ms | p99 ms | non-200 | CPU ms per batch: mltrack / mariadbd (all nodes) / haproxy | CPU used, cores |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
const base = { pointsPerSec: (rows[0]!.pointsPerSec + rows[rows.length - 1]!.pointsPerSec) / 2 };
// cores x 1000 / batches per second = CPU milliseconds one batch costs that kind of process
const perBatch = (r: Row, kind: string) => (((r.cores[kind] ?? 0) * 1000) / r.batchesPerSec).toFixed(1);
for (const r of rows) {
  const cores = Object.entries(r.cores).filter(([, v]) => v >= 0.01).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  console.log(
    `| ${r.setup} | ${Math.round(r.pointsPerSec)} | ${r.batchesPerSec.toFixed(0)} | ${(r.pointsPerSec / base.pointsPerSec).toFixed(2)} | ${Math.round(r.p50)} | ${Math.round(r.p99)} | ${JSON.stringify(r.non200)} | ` +
      `${perBatch(r, 'mltrack servers')} / ${perBatch(r, 'mariadbd')} / ${perBatch(r, 'haproxy')} | ${cores} |`,
  );
}
