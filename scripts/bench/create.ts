/**
 * runs/create at 1 and 20 clients (issue 11, items 2 and 3): mltrack's server in a child process (so its CPU is read
 * from /proc/<pid>/stat apart from this load generator's), first as the request path was before the CPU work
 * (BENCH_PLAIN=1: every statement through knex's builder, no prepared-statement cache), then as it is; next to the
 * same minimal runs/create transaction (BEGIN, the INSERT … SELECT of the run, the INSERT of its tags, COMMIT: the
 * statements mltrack's create path issues) run by a bare driver on the same database in the same run
 * (better-sqlite3 prepared statements; raw mysql2 with as many connections as mltrack's pool, 10 at most).
 * Prints req/s, mltrack/bare, the server's CPU per request, and the HTTP floor: GET /health (no database, no auth)
 * through the same client at the same concurrency, which no HTTP request can beat. MLTRACK_BENCH_DB_PID (a MySQL
 * server's pid on this machine) adds the database server's CPU per request.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { INSERT_RUN, INSERT_RUN_FOLDED, insertScriptTagsSql, insertTagsSql } from '../../db/runs.ts';
import { foldedExperimentBindings, type FoldedAuth } from '../../db/create-auth.ts';
import { SQL_BY_ID } from '../../db/tokens.ts';
import { SCRIPT_POOL_SIZE } from '../../db/hot.ts';
import { createRunBody, fmt, mysqlSettings, scratchMysqlDatabase } from './common.ts';
import { startBareHttp } from './procs.ts';

const CLIENTS = [1, 20];
const N = Number(process.env.BENCH_CREATE_N || 1500);
const WARMUP = Number(process.env.BENCH_CREATE_WARMUP || 2000);
const MYSQL_POOL = 10; // db/knex.ts: pool.max
/** The MySQL server's pid (same machine), to report its CPU per request too; shared servers make this noisy. */
const DB_PID = Number(process.env.MLTRACK_BENCH_DB_PID || 0);

const body = (i: number) => createRunBody('0', i);
/** BENCH_CREATE_PROF=<dir>: the server runs under --cpu-prof; its profile's top items (self time) are printed. */
const PROF_DIR = process.env.BENCH_CREATE_PROF;

interface ProfNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }

/** The `n` functions with the most self time in a .cpuprofile, as % of the sampled time (idle and GC included). */
export function profileTop(file: string, n = 25): string[] {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: ProfNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(prof.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  let total = 0;
  prof.samples.forEach((id, i) => {
    const dt = prof.timeDeltas[i] ?? 0;
    const f = byId.get(id)!.callFrame;
    const where = f.url ? `${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(server|db|routers|core)\//, '$1/')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  const idle = (self.get('(idle) ') ?? 0);
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)}% (${((v / (total - idle)) * 100).toFixed(1).padStart(5)}% busy) ${k}`);
}

interface Child {
  proc: ChildProcess;
  port: number;
  token: string;
}

async function startChild(env: Record<string, string>): Promise<Child> {
  const proc = fork(fileURLToPath(new URL('./server-child.ts', import.meta.url)), [], {
    execArgv: [...(PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}`] : []), '--import', 'tsx'],
    env: { ...process.env, ...env },
  });
  const { port, token } = await new Promise<{ port: number; token: string }>((resolve, reject) => {
    proc.once('message', (m) => resolve(m as { port: number; token: string }));
    proc.once('exit', (code) => reject(new Error(`bench server exited (${code})`)));
  });
  return { proc, port, token };
}

async function stopChild(c: Child) {
  const exited = new Promise((r) => c.proc.once('exit', r));
  c.proc.send('stop');
  await exited;
}

/** CPU time (user + system) of a process so far, in ms. */
function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks: USER_HZ is 100 on Linux
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function createRun(c: Child, i: number): Promise<void> {
  const data = Buffer.from(JSON.stringify(body(i)));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1', port: c.port, method: 'POST', path: '/api/v4/projects/1/ml/mlflow/api/2.0/mlflow/runs/create', agent,
        headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json', 'content-length': data.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`runs/create → ${res.statusCode} ${Buffer.concat(chunks)}`))));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** `n` calls of `one` spread over `clients` loops; calls per second. */
async function drive(clients: number, n: number, one: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < n) await one(next++);
  }));
  return (n / (performance.now() - t0)) * 1000;
}

interface Figures { rps: number; cpu: number; health: number; healthCpu: number; dbCpu?: number }
interface Floor { rps: number; cpu: number }

function health(c: Child): Promise<void> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: c.port, path: '/health', agent }, (res) => {
      res.resume();
      res.on('end', resolve);
    }).on('error', reject);
  });
}

/** mltrack's runs/create at each concurrency: req/s and the server's CPU ms per request. */
async function measureServer(c: Child, kind: 'sqlite' | 'mysql'): Promise<Figures[]> {
  await drive(4, WARMUP, (i) => createRun(c, i)); // warm-up: JIT, pool, experiment lookup
  const out: Figures[] = [];
  for (const clients of CLIENTS) {
    const dbPid = kind === 'mysql' && DB_PID ? DB_PID : 0;
    const cpu0 = cpuMs(c.proc.pid!);
    const db0 = dbPid ? cpuMs(dbPid) : 0;
    const rps = await drive(clients, N, (i) => createRun(c, i));
    const cpu = (cpuMs(c.proc.pid!) - cpu0) / N;
    const dbCpu = dbPid ? (cpuMs(dbPid) - db0) / N : undefined;
    // the HTTP floor: GET /health (no database, no auth) through the same client at the same concurrency
    const h0 = cpuMs(c.proc.pid!);
    const healthRps = await drive(clients, N, () => health(c));
    out.push({ rps, cpu, dbCpu, health: healthRps, healthCpu: (cpuMs(c.proc.pid!) - h0) / N });
  }
  return out;
}

/**
 * The bare driver's runs/create: one function per call, on the database mltrack just used. `auth`: the same
 * statements mltrack issues, in the same round trips: on SQLite its one auth SELECT by token digest, then the
 * transaction; on MySQL the transaction as one multi-statement query whose run INSERT also checks the caller (as
 * db/hot.ts and db/create-auth.ts send it, server/create-fold.ts). Without: the transaction alone, statement by statement.
 */
export type CreateBody = ReturnType<typeof body>;
/** `one` writes the run of a request body and answers its MLflow id and artifact URI (bare-http.ts answers them). */
export type Bare = { one: (b: CreateBody) => Promise<{ uuid: string; artifactUri: string }>; close(): Promise<void> };

const digest = (token: string) => crypto.createHash('sha256').update(token, 'utf8').digest('hex');

export function bareSqlite(file: string, token: string, auth: boolean): Bare {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  const exp = db.prepare('SELECT id, artifact_location FROM experiments WHERE project_id = 1 AND experiment_id = 0').get() as { id: number; artifact_location: string };
  const authSt = db.prepare(SQL_BY_ID);
  const insertRun = db.prepare(INSERT_RUN);
  const insertTags = db.prepare(insertTagsSql(4));
  const tx = db.transaction((b: CreateBody) => {
    const uuid = crypto.randomUUID().replace(/-/g, '');
    const artifactUri = `${exp.artifact_location}/${uuid}/artifacts`;
    const r = insertRun.run(uuid, 1, b.run_name, 'bench', 1, b.start_time, artifactUri, exp.id, 1);
    const id = r.lastInsertRowid;
    insertTags.run(id, 'mlflow.runName', b.run_name, ...b.tags.flatMap((t) => [id, t.key, t.value]));
    return { uuid, artifactUri };
  });
  return {
    one: async (b) => {
      if (auth && !authSt.get(1, digest(token))) throw new Error('bare auth: no token row');
      return tx.immediate(b);
    },
    close: async () => void db.close(),
  };
}

export async function bareMysql(url: string, clients: number, token: string, auth: boolean): Promise<Bare> {
  const settings = mysqlSettings(url);
  const pool = mysql.createPool({ ...settings, connectionLimit: Math.min(clients, MYSQL_POOL) });
  const scripts = mysql.createPool({ ...settings, multipleStatements: true, connectionLimit: Math.min(clients, SCRIPT_POOL_SIZE) });
  const [[exp]] = (await pool.query('SELECT id, artifact_location FROM experiments WHERE project_id = 1 AND experiment_id = 0')) as any;
  const script = ['BEGIN', INSERT_RUN_FOLDED, insertScriptTagsSql(4), 'COMMIT'].join(';\n');
  // who the token is (mltrack's server used it a moment ago: its last_used_at is recent, as the folded check needs)
  const [[who]] = (await pool.query(
    'SELECT u.id, u.username, u.is_admin, t.scopes, p.path FROM access_tokens t JOIN users u ON u.id = t.user_id JOIN projects p ON p.id = 1 WHERE t.token_digest = ?',
    [digest(token)],
  )) as any;
  const caller: FoldedAuth = {
    tokenDigest: digest(token), userId: who.id, username: who.username, isAdmin: Boolean(who.is_admin), scopes: who.scopes, projectId: 1, projectPath: who.path,
  };
  return {
    one: async (b) => {
      const uuid = crypto.randomUUID().replace(/-/g, '');
      const artifactUri = `${exp.artifact_location}/${uuid}/artifacts`;
      const run = [uuid, 1, ...foldedExperimentBindings(caller, exp.id), b.run_name, 'bench', 1, b.start_time, artifactUri];
      const tags = ['mlflow.runName', b.run_name, ...b.tags.flatMap((t) => [t.key, t.value])];
      if (auth) {
        await scripts.query(script, [...run, ...tags]);
        return { uuid, artifactUri };
      }
      // the transaction alone, statement by statement (as mltrack sent it before the one-round-trip script)
      const conn = await pool.getConnection();
      try {
        await conn.query('BEGIN');
        const [r] = (await conn.query(INSERT_RUN, [uuid, 1, b.run_name, 'bench', 1, b.start_time, run[run.length - 1], exp.id, 1])) as any;
        const id = r.insertId;
        await conn.query(insertTagsSql(4), [id, 'mlflow.runName', b.run_name, ...b.tags.flatMap((t) => [id, t.key, t.value])]);
        await conn.query('COMMIT');
      } finally {
        conn.release();
      }
      return { uuid, artifactUri };
    },
    close: async () => {
      await pool.end();
      await scripts.end();
    },
  };
}

/** A fresh place for one server: a temp dir, and on MySQL a new database on the given server. */
async function freshStore(kind: 'sqlite' | 'mysql', mysqlUrl?: string) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mltrack-bench-create-'));
  if (kind === 'sqlite') return { dataDir, url: '', drop: async () => fs.rmSync(dataDir, { recursive: true, force: true }) };
  const scratch = await scratchMysqlDatabase(mysqlUrl!);
  return {
    dataDir,
    url: scratch.url,
    drop: async () => {
      await scratch.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function benchCreate(kind: 'sqlite' | 'mysql', mysqlUrl?: string) {
  const results: Record<'before' | 'after', Figures[]> = { before: [], after: [] };
  let bare: number[] = [];
  let bareTx: number[] = [];
  const floor: Floor[] = [];
  for (const mode of ['before', 'after'] as const) {
    const store = await freshStore(kind, mysqlUrl);
    try {
      const child = await startChild({ BENCH_DATA_DIR: store.dataDir, BENCH_DATABASE_URL: store.url, BENCH_PLAIN: mode === 'before' ? '1' : '0' });
      try {
        results[mode] = await measureServer(child, kind);
      } finally {
        await stopChild(child);
      }
      if (PROF_DIR) {
        const newest = fs.readdirSync(PROF_DIR).filter((f) => /\.0\.\d+\.cpuprofile$/.test(f)) // the main thread's (tsx's loader writes one too)
          .map((f) => path.join(PROF_DIR, f))
          .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
        if (newest) console.log(`[${kind}] ${mode}: server CPU profile ${newest}, top self time:\n  ${profileTop(newest).join('\n  ')}`);
      }
      if (mode === 'after') {
        bare = [];
        bareTx = [];
        // the bare driver behind node:http in its own process (bare-http.ts): the floor of an HTTP server
        for (const clients of CLIENTS) {
          const bh = await startBareHttp({ kind, token: child.token, clients, sqliteFile: path.join(store.dataDir, 'mltrack.sqlite'), mysqlUrl: store.url });
          const h: Child = { proc: bh.proc, port: bh.port, token: child.token };
          try {
            await drive(clients, WARMUP, (i) => createRun(h, i));
            const c0 = cpuMs(h.proc.pid!);
            const rps = await drive(clients, N, (i) => createRun(h, i));
            floor.push({ rps, cpu: (cpuMs(h.proc.pid!) - c0) / N });
          } finally {
            await bh.stop();
          }
        }
        for (const clients of CLIENTS) {
          for (const auth of [true, false]) {
            const b = kind === 'sqlite' ? bareSqlite(path.join(store.dataDir, 'mltrack.sqlite'), child.token, auth) : await bareMysql(store.url, clients, child.token, auth);
            try {
              const one = (i: number) => b.one(body(i)).then(() => {});
              await drive(clients, 100, one); // warm-up
              (auth ? bare : bareTx).push(await drive(clients, N, one));
            } finally {
              await b.close();
            }
          }
        }
      }
    } finally {
      await store.drop();
    }
  }
  CLIENTS.forEach((clients, i) => {
    const before = results.before[i]!;
    const after = results.after[i]!;
    console.log(
      `[${kind}] runs/create, ${String(clients).padStart(2)} client(s): mltrack ${fmt(after.rps)} req/s (before ${fmt(before.rps)}) | ` +
        `bare driver, same statements ${fmt(bare[i]!)}/s (transaction alone ${fmt(bareTx[i]!)}/s) | ` +
        `mltrack/bare ${fmt(after.rps / bare[i]!, 2)} (before ${fmt(before.rps / bare[i]!, 2)}; to the transaction alone ${fmt(after.rps / bareTx[i]!, 2)}) | ` +
        `server CPU ${fmt(after.cpu, 3)} ms/request (before ${fmt(before.cpu, 3)}) | ` +
        `bare driver behind node:http ${fmt(floor[i]!.rps)} req/s, ${fmt(floor[i]!.cpu, 3)} ms CPU/request (mltrack/it ${fmt(after.rps / floor[i]!.rps, 2)}) | ` +
        (after.dbCpu !== undefined ? `database CPU ${fmt(after.dbCpu, 3)} ms/request (before ${fmt(before.dbCpu!, 3)}) | ` : '') +
        `HTTP floor (GET /health) ${fmt(after.health)} req/s, ${fmt(after.healthCpu, 3)} ms CPU/request`,
    );
  });
}

// npx tsx scripts/bench/create.ts: this figure alone (MLTRACK_BENCH_MYSQL_URL or MLTRACK_TEST_MYSQL_URL adds MySQL)
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const mysqlUrl = process.env.MLTRACK_BENCH_MYSQL_URL || process.env.MLTRACK_TEST_MYSQL_URL;
  await benchCreate('sqlite');
  if (mysqlUrl) await benchCreate('mysql', mysqlUrl);
  process.exit(0);
}
