/**
 * runs/create, one build against another on a shared, noisy machine: a server of each build (scripts/bench/
 * server-child.ts of each checkout, its own fresh database) started at once, then loaded in turn, a few seconds each,
 * round after round, so that what other processes do falls on both alike; prints each build's median req/s, server CPU
 * per request and (MLTRACK_BENCH_DB_PID: the MySQL server's pid on this machine) database CPU per request.
 *   A=/path/to/old/checkout B=/path/to/new/checkout KIND=sqlite|mysql ROUNDS=6 CLIENTS=1,20 npx tsx scripts/bench/create-ab.ts
 * (mysql: MLTRACK_BENCH_MYSQL_URL or MLTRACK_TEST_MYSQL_URL; each checkout needs its node_modules).
 * BARE=1 adds a third contender in the same rounds: the bare driver sending the statements mltrack sends (this
 * checkout's scripts/bench/create.ts bareSqlite/bareMysql) on B's database, and prints mltrack/bare for each build:
 * measured minutes apart, as create.ts does, the ratio swung with the machine's load (0.39 to 0.76 at 20 clients).
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { createRunBody, fmt, median, scratchMysqlDatabase } from './common.ts';
import { bareMysql, bareSqlite, type Bare } from './create.ts';

const kind = (process.env.KIND || 'sqlite') as 'sqlite' | 'mysql';
const mysqlUrl = process.env.MLTRACK_BENCH_MYSQL_URL || process.env.MLTRACK_TEST_MYSQL_URL;
const builds = [process.env.A!, process.env.B!].map((p) => path.resolve(p));
const ROUNDS = Number(process.env.ROUNDS || 6);
const CLIENTS = (process.env.CLIENTS || '1,20').split(',').map(Number);
const TURN_MS = Number(process.env.TURN_MS || 3000);
const DB_PID = Number(process.env.MLTRACK_BENCH_DB_PID || 0);
const BARE = process.env.BARE === '1';

function cpuMs(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; // USER_HZ 100
}

interface Server { root: string; proc: ChildProcess; port: number; token: string; drop(): Promise<void>; agent: http.Agent; dataDir: string; url: string }

async function start(root: string): Promise<Server> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mltrack-create-ab-'));
  const scratch = kind === 'mysql' ? await scratchMysqlDatabase(mysqlUrl!) : undefined;
  const proc = fork(path.join(root, 'scripts/bench/server-child.ts'), [], {
    cwd: root, execArgv: ['--import', 'tsx'], env: { ...process.env, BENCH_DATA_DIR: dataDir, BENCH_DATABASE_URL: scratch?.url ?? '', BENCH_PLAIN: '0' },
  });
  const { port, token } = await new Promise<{ port: number; token: string }>((resolve, reject) => {
    proc.once('message', (m) => resolve(m as { port: number; token: string }));
    proc.once('exit', (code) => reject(new Error(`server of ${root} exited (${code})`)));
  });
  const drop = async () => {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.send('stop');
    await exited;
    await scratch?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  return { root, proc, port, token, drop, agent: new http.Agent({ keepAlive: true, maxSockets: 64 }), dataDir, url: scratch?.url ?? '' };
}

let seq = 0;
function create(s: Server): Promise<void> {
  const data = Buffer.from(JSON.stringify(createRunBody('0', seq++)));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1', port: s.port, method: 'POST', path: '/api/v4/projects/1/ml/mlflow/api/2.0/mlflow/runs/create', agent: s.agent,
        headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json', 'content-length': data.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`runs/create → ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Closed-loop clients for `ms`: requests done, and the server's (and database's) CPU ms over the window. */
async function turn(s: Server, clients: number, ms: number) {
  const cpu0 = cpuMs(s.proc.pid!);
  const db0 = DB_PID ? cpuMs(DB_PID) : 0;
  const t0 = performance.now();
  let n = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() - t0 < ms) {
      await create(s);
      n++;
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  return { rps: n / secs, cpu: (cpuMs(s.proc.pid!) - cpu0) / n, db: DB_PID ? (cpuMs(DB_PID) - db0) / n : NaN };
}

/** The bare driver's turn: as `turn`, its CPU is this process's own and not reported. */
async function bareTurn(b: Bare, clients: number, ms: number) {
  const db0 = DB_PID ? cpuMs(DB_PID) : 0;
  const t0 = performance.now();
  let n = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() - t0 < ms) await b.one(createRunBody('0', seq++)), n++;
  }));
  return { rps: n / ((performance.now() - t0) / 1000), cpu: NaN, db: DB_PID ? (cpuMs(DB_PID) - db0) / n : NaN };
}

const servers = await Promise.all(builds.map(start));
const bares: Bare[] = [];
try {
  for (const s of servers) for (const c of CLIENTS) await turn(s, c, 1500); // warm-up
  if (BARE) {
    // on B's database, which B's server has just used: the token's last_used_at is recent, as the folded check needs
    const b = servers[1]!;
    for (const c of CLIENTS) bares.push(kind === 'sqlite' ? bareSqlite(path.join(b.dataDir, 'mltrack.sqlite'), b.token, true) : await bareMysql(b.url, c, b.token, true));
    for (const [ci, c] of CLIENTS.entries()) await bareTurn(bares[ci]!, c, 1500); // warm-up
  }
  const results = [...servers, ...(BARE ? ['bare'] : [])].map(() => CLIENTS.map(() => [] as { rps: number; cpu: number; db: number }[]));
  for (let r = 0; r < ROUNDS; r++) {
    // alternate which build goes first (the bare driver, if any, goes between them)
    const order = BARE ? (r % 2 ? [1, 2, 0] : [0, 2, 1]) : r % 2 ? [1, 0] : [0, 1];
    for (const [ci, c] of CLIENTS.entries()) {
      for (const i of order) results[i]![ci]!.push(i === 2 ? await bareTurn(bares[ci]!, c, TURN_MS) : await turn(servers[i]!, c, TURN_MS));
    }
  }
  for (const [ci, c] of CLIENTS.entries()) {
    for (const [i, s] of servers.entries()) {
      const xs = results[i]![ci]!;
      console.log(
        `[${kind}] runs/create, ${String(c).padStart(2)} client(s), ${i ? 'B' : 'A'} ${s.root}: median ${fmt(median(xs.map((x) => x.rps)))} req/s ` +
          `(${xs.map((x) => fmt(x.rps)).join(' ')}), server CPU ${fmt(median(xs.map((x) => x.cpu)), 3)} ms/request` +
          (DB_PID ? `, database CPU ${fmt(median(xs.map((x) => x.db)), 3)} ms/request` : '') +
          // each round's ratio to the bare driver's turn of the same round, then their median
          (BARE ? `, mltrack/bare ${fmt(median(xs.map((x, r) => x.rps / results[2]![ci]![r]!.rps)), 2)}` : ''),
      );
    }
    if (BARE) {
      const xs = results[2]![ci]!;
      console.log(
        `[${kind}] runs/create, ${String(c).padStart(2)} client(s), bare driver (same statements, B's database): median ${fmt(median(xs.map((x) => x.rps)))} req/s ` +
          `(${xs.map((x) => fmt(x.rps)).join(' ')})` + (DB_PID ? `, database CPU ${fmt(median(xs.map((x) => x.db)), 3)} ms/request` : ''),
      );
    }
  }
} finally {
  for (const b of bares) await b.close();
  await Promise.all(servers.map((s) => s.drop()));
}
process.exit(0);
