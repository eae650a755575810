import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import crypto from 'node:crypto';
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { requestJson, scratchMysqlDatabase } from './common.ts';

/**
 * The real server as a separate process (`node dist/server/main.js`, as `npm start` runs it), with its process tree's
 * resident memory and CPU read from /proc, and the MariaDB server's CPU: what the write bench and the soak measure.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const TICK_MS = 1000 / 100; // CLK_TCK is 100 on Linux
const PAGE = 4096;

/** pids of `root` and all its descendants. */
export function treePids(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const l = children.get(ppid);
      if (l) l.push(Number(d));
      else children.set(ppid, [Number(d)]);
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(root);
  return out;
}

/** Resident memory of the processes, bytes (statm's second field). */
export function rssBytes(pids: number[]): number {
  let sum = 0;
  for (const p of pids) {
    try {
      sum += Number(fs.readFileSync(`/proc/${p}/statm`, 'utf8').split(' ')[1]) * PAGE;
    } catch {
      // gone
    }
  }
  return sum;
}

/** CPU ms of all of a process's threads so far, from schedstat (ns on a CPU; /proc/<pid>/stat counts 10 ms ticks). */
export function threadCpuMs(pid: number): number {
  let sum = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      sum += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended
    }
  }
  return sum / 1e6;
}

/** The kernel's share of a process's CPU so far, ms (/proc/<pid>/stat, 10 ms ticks): socket reads and writes, fsync. */
export function systemMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[12]) * TICK_MS;
}

/** CPU time (user + system) used so far by the processes, ms. */
export function cpuMs(pids: number[]): number {
  let sum = 0;
  for (const p of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      sum += (Number(f[11]) + Number(f[12])) * TICK_MS; // utime, stime (fields 14 and 15)
    } catch {
      // gone
    }
  }
  return sum;
}

/** The process listening on TCP `port` on this machine (the MariaDB server), found by its socket's inode. */
export function databasePid(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local address "ADDR:PORT" in hex, state 0A = LISTEN, inode in field 9
      if (f.length > 9 && f[3] === '0A' && parseInt(f[1]!.split(':')[1]!, 16) === port) inodes.add(f[9]!);
    }
  }
  if (!inodes.size) return undefined;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      for (const fd of fs.readdirSync(`/proc/${d}/fd`)) {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${d}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return Number(d);
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return undefined;
}

export interface SpawnedServer {
  kind: 'sqlite' | 'mysql';
  workers: number;
  port: number;
  token: string;
  base: string;
  pid: number;
  /** the server's processes now (the primary and its workers) */
  pids(): number[];
  /** the database server's pid (MySQL on this machine), for its CPU */
  dbPid: number | undefined;
  /** where its database is (db/knex.ts createDb's arguments), for a bench's own connection to it */
  database: { url: string | undefined; dataDir: string };
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = http.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

let built = false;

/** A fresh database (SQLite in a temp dir, or a new database on the MySQL server) and the server on it. */
export async function spawnServer(kind: 'sqlite' | 'mysql', mysqlUrl: string | undefined, workers: number | undefined): Promise<SpawnedServer> {
  if (!built && !process.env.MLTRACK_BENCH_DIST) {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-server.mjs')], { stdio: 'inherit', cwd: ROOT });
    built = true;
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mltrack-wbench-'));
  const token = `mltpat-bench-${crypto.randomBytes(12).toString('hex')}`;
  const env: Record<string, string> = { DATA_DIR: dataDir, MLTRACK_INITIAL_TOKEN: token, MLTRACK_ACCESS_LOG: '0', HOST: '127.0.0.1' };
  if (workers) env.MLTRACK_WORKERS = String(workers);
  let dropDb = async () => {};
  let dbPid: number | undefined;
  if (kind === 'mysql') {
    const scratch = await scratchMysqlDatabase(mysqlUrl!, 'mltrack_wbench');
    env.DATABASE_URL = scratch.url;
    dbPid = ['127.0.0.1', 'localhost'].includes(scratch.conn.host) ? databasePid(scratch.conn.port) : undefined;
    dropDb = scratch.drop;
  }
  const port = await freePort();
  env.PORT = String(port);
  // MLTRACK_BENCH_DIST: another build's dist/ (an A/B against an older build), used as it is
  const proc: ChildProcess = spawn(process.execPath, [path.resolve(ROOT, process.env.MLTRACK_BENCH_DIST || 'dist', 'server/main.js')], {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (c) => (out += c));
  proc.stderr!.on('data', (c) => (out += c));
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  const until = Date.now() + 120_000;
  while (!/listening on/.test(out)) {
    if (proc.exitCode !== null) throw new Error(`server exited: ${out}`);
    if (Date.now() > until) throw new Error(`server did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = /, (\d+) workers/.exec(out);
  return {
    kind,
    workers: m ? Number(m[1]) : 1,
    port,
    token,
    base: '/api/v4/projects/1/ml/mlflow/api/2.0/mlflow',
    pid: proc.pid!,
    pids: () => treePids(proc.pid!),
    dbPid,
    database: { url: env.DATABASE_URL, dataDir },
    async close() {
      proc.kill('SIGTERM');
      await exited;
      if (/died unexpectedly|drain time over/.test(out)) console.log(`  (server log: ${out.split('\n').filter((l) => /died|drain time/.test(l)).join('; ')})`);
      await dropDb();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One client: its own keep-alive connection (the cluster hands a connection to one worker). */
export class Client {
  private agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  constructor(private s: SpawnedServer) {}

  /** POST/GET JSON; resolves the parsed answer, throws on a non-200 answer. */
  call(method: string, p: string, body?: unknown): Promise<any> {
    return requestJson(this.s, this.agent, method, p, body);
  }

  close() {
    this.agent.destroy();
  }
}

/** Samples the server's resident memory every `everyMs` while running; `peak()` is the highest seen. */
export function rssSampler(s: SpawnedServer, everyMs = 100) {
  let peak = rssBytes(s.pids());
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(s.pids()));
  }, everyMs);
  return {
    peak: () => peak,
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

export const MB = 1024 * 1024;

/**
 * bare-http.ts in its own process: the bare driver behind node:http, the floor of any Node HTTP server doing the
 * same writes (create.ts, log-batch.ts). `clients`: the concurrency it will see (its MySQL pools' size).
 * BENCH_BARE_PROF=<dir>: it runs under --cpu-prof (its profile is written there when it stops).
 */
export async function startBareHttp(o: { kind: 'sqlite' | 'mysql'; token: string; clients: number; sqliteFile?: string; mysqlUrl?: string }) {
  const proc = fork(path.join(import.meta.dirname, 'bare-http.ts'), [], {
    execArgv: [...(process.env.BENCH_BARE_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_BARE_PROF}`] : []), '--import', 'tsx'],
    env: { ...process.env, BARE_KIND: o.kind, BARE_TOKEN: o.token, BARE_CLIENTS: String(o.clients), BARE_SQLITE_FILE: o.sqliteFile ?? '', BARE_MYSQL_URL: o.mysqlUrl ?? '' },
  });
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    proc.once('message', (m) => resolve(m as { port: number }));
    proc.once('exit', (code) => reject(new Error(`bare-http exited (${code})`)));
  });
  return {
    proc,
    port,
    async stop() {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.send('stop');
      await exited;
    },
  };
}
