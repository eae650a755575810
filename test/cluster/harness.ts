import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { API, byStatus, request, stepOf, type LoadResult } from '../../scripts/cluster/load.ts';
import http from 'node:http';

/**
 * The cluster the failure and conflict tests drive: scripts/cluster/galera-start.sh --roundrobin --servers 3 on a
 * database of their own (MLTRACK_CLUSTER_DB), the app load balancer on APP_PORT, the nodes on 3371-3373.
 */
export const DIR = process.env.MLTRACK_GALERA_DIR || '/tmp/mltrack-galera';
export const APP_PORT = Number(process.env.MLTRACK_CLUSTER_PORT || 5370);
export const NODES = [3371, 3372, 3373];
const ROOT = path.resolve(import.meta.dirname, '../..');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs galera-start.sh (asynchronously: the load goes on meanwhile); resolves with its stderr, rejects on failure. */
export function galeraStart(args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('bash', [path.join(ROOT, 'scripts/cluster/galera-start.sh'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (c) => (err += c));
    p.stdout.resume();
    p.on('close', (code) => (code === 0 ? resolve(err) : reject(new Error(`galera-start.sh ${args.join(' ')} exited ${code}:\n${err}`))));
  });
}

/** After a suite: its servers stop (the cluster stays as the suite found it: CI stops it) and its database goes. */
export async function stopServersAndDrop(database: string, env: Record<string, string>): Promise<void> {
  await galeraStart(['--roundrobin', '--servers', '0'], env).catch((e) => console.error(e));
  const c = await mysql.createConnection({ host: '127.0.0.1', port: NODES[0], user: 'mltrack', password: 'mltrack' });
  await c.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await c.end();
}

export const readPid = (file: string) => Number(fs.readFileSync(file, 'utf8').trim());
export const nodePid = (n: number) => readPid(path.join(DIR, `n${n}`, 'mysqld.pid'));
export const serverPid = (i: number) => readPid(path.join(DIR, 'app', `s${i}.pid`));
/** The process runs (a zombie does not: the servers are not this process's children, and their reaper may be slow). */
export const alive = (pid: number) => {
  try {
    return !/^\S+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

export async function nodeQuery<T = Record<string, unknown>>(port: number, database: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'mltrack', password: 'mltrack', database });
  try {
    await c.query('SET SESSION wsrep_sync_wait = 15');
    const [rows] = await c.query(sql, params);
    return rows as T[];
  } finally {
    await c.end();
  }
}

/** wsrep_local_state_comment of a node (as root is not needed: a status variable), or undefined when it does not answer. */
export async function nodeState(port: number): Promise<string | undefined> {
  try {
    const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'mltrack', password: 'mltrack', connectTimeout: 1000 });
    try {
      const [rows] = await c.query("SHOW STATUS LIKE 'wsrep_local_state_comment'");
      return (rows as { Value: string }[])[0]?.Value;
    } finally {
      await c.end();
    }
  } catch {
    return undefined;
  }
}

/** Runs created through the load balancer in experiment 0. */
export async function createRuns(token: string, n: number): Promise<string[]> {
  const agent = new http.Agent({ keepAlive: false });
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await request(agent, APP_PORT, token, 'POST', `${API}/runs/create`, { experiment_id: '0' }, 30_000);
    if (r.status !== 200) throw new Error(`runs/create: ${r.status} ${r.body}`);
    out.push(JSON.parse(r.body).run.info.run_id);
  }
  return out;
}

/**
 * Every acknowledged batch is present exactly once, read on each node: the (run, key, step) points of the load's
 * runs, counted. Returns how many acknowledged points were missing or duplicated, and how many unacknowledged
 * batches made it anyway (allowed: the answer was lost, not the write).
 */
export async function checkAcked(database: string, runs: string[], res: LoadResult, k: number, sharedKey?: string) {
  const out: { port: number; points: number; missing: number; duplicated: number; unackedPresent: number }[] = [];
  for (const port of NODES) {
    const rows = await nodeQuery<{ run_uuid: string; key: string; step: number; n: number }>(
      port,
      database,
      'SELECT r.run_uuid, m.`key`, m.step, COUNT(*) AS n FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.run_uuid IN (?) GROUP BY r.run_uuid, m.`key`, m.step',
      [runs],
    );
    const seen = new Map<string, number>();
    for (const r of rows) seen.set(`${r.run_uuid}|${r.key}|${r.step}`, Number(r.n));
    let missing = 0;
    let duplicated = 0;
    for (const [w, batches] of res.acked) {
      for (const b of batches) {
        for (let j = 0; j < k; j++) {
          const n = seen.get(`${runs[(w + b) % runs.length]}|${sharedKey ?? `w${w}`}|${stepOf(w, b * k + j)}`) ?? 0;
          if (n === 0) missing++;
          if (n > 1) duplicated++;
        }
      }
    }
    let unackedPresent = 0;
    for (const { writer: w, batch: b } of res.unacked) if (seen.has(`${runs[(w + b) % runs.length]}|${sharedKey ?? `w${w}`}|${stepOf(w, b * k)}`)) unackedPresent++;
    out.push({ port, points: rows.length, missing, duplicated, unackedPresent });
  }
  return out;
}

/** Row count and CHECKSUM TABLE of every table of the database, per node (a full read; sync-waited). */
export async function tableDigests(database: string) {
  const per: Record<string, string>[] = [];
  for (const port of NODES) {
    const tables = (await nodeQuery<{ t: string }>(port, database, 'SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? ORDER BY 1', [database])).map((r) => r.t);
    const d: Record<string, string> = {};
    for (const t of tables) {
      const { n } = (await nodeQuery<{ n: number }>(port, database, `SELECT COUNT(*) AS n FROM \`${t}\``))[0]!;
      const { Checksum } = (await nodeQuery<{ Checksum: string }>(port, database, `CHECKSUM TABLE \`${t}\``))[0]!;
      d[t] = `${n}:${Checksum}`;
    }
    per.push(d);
  }
  const rows = Object.values(per[0]!).reduce((s, v) => s + Number(v.split(':')[0]), 0);
  return { per, tables: Object.keys(per[0]!).length, rows };
}

/**
 * mltrack_db_transaction_retries_total by error code, summed over the 3 servers' metrics endpoints (the metrics
 * port scripts/cluster/servers.sh gives each: MLTRACK_METRICS_PORT 5471..5473).
 */
export async function retries(): Promise<Record<string, number>> {
  const by: Record<string, number> = {};
  for (let i = 1; i <= 3; i++) {
    const res = await fetch(`http://127.0.0.1:${APP_PORT + 100 + i}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) throw new Error(`metrics of s${i}: ${res.status}`);
    for (const m of (await res.text()).matchAll(/^mltrack_db_transaction_retries_total(?:\{code="([^"]*)"[^}]*\})? (\S+)$/gm)) {
      by[m[1] ?? ''] = (by[m[1] ?? ''] ?? 0) + Number(m[2]);
    }
  }
  return by;
}

/** What the servers retried between two readings of retries(). */
export function retriesBetween(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - (a[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
}

/** The figures a failure test prints. */
export function summary(name: string, res: LoadResult, extra: Record<string, unknown> = {}) {
  const longest = Math.max(0, ...res.attempts.map((a) => a.ms));
  const acked = [...res.acked.values()].reduce((s, b) => s + b.length, 0);
  const line = {
    requests: res.attempts.length,
    byStatus: byStatus(res.attempts),
    ackedBatches: acked,
    unacked: res.unacked.length,
    longestRequestMs: Math.round(longest),
    longestBatchWithRetriesMs: Math.round(res.longestBatchMs),
    loadSeconds: +(res.elapsedMs / 1000).toFixed(1),
    answers503: messages(res),
    ...extra,
  };
  console.log(`[cluster] ${name}: ${JSON.stringify(line)}`);
  return line;
}

/** The messages of the 503s, counted (the load balancer's own, or the server's). */
function messages(res: LoadResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of res.attempts) {
    if (a.status !== 503) continue;
    let m = '?';
    try {
      m = JSON.parse(a.body ?? '').message.slice(0, 60);
    } catch {}
    out[m] = (out[m] ?? 0) + 1;
  }
  return out;
}

/** Non-200 answers that are not a 503 in MLflow's JSON form (error_code and message). */
export function badAnswers(res: LoadResult) {
  return res.attempts.filter((a) => {
    if (a.status === 200 || a.status === 'reset') return false;
    if (a.status !== 503) return true;
    try {
      const j = JSON.parse(a.body ?? '');
      return typeof j.error_code !== 'string' || typeof j.message !== 'string';
    } catch {
      return true;
    }
  });
}
