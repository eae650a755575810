import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import mysql from 'mysql2/promise';
import { createDb, type Db } from '../../db/knex.ts';
import { migrateLatest } from '../../db/migrate.ts';
import { createApp } from '../../server/app.ts';
import { httpServer } from '../../server/http.ts';
import { loadConfig } from '../../core/config.ts';
import { bootstrap } from '../../server/bootstrap.ts';

export interface BenchTarget {
  name: 'sqlite' | 'mysql';
  db: Db;
  port: number;
  token: string;
  base: string;
  close(): Promise<void>;
}

/** What the MLflow client sends to runs/create (mlflow.start_run: the tags its context providers add, a run name). */
export const createRunBody = (experimentId: string, i: number) => ({
  experiment_id: experimentId,
  start_time: Date.now(),
  run_name: `bench-${i}`,
  tags: [
    { key: 'mlflow.user', value: 'bench' },
    { key: 'mlflow.source.name', value: 'bench.py' },
    { key: 'mlflow.source.type', value: 'LOCAL' },
  ],
});

/** mysql2's connection settings of a mysql:// URL. */
export function mysqlSettings(url: string) {
  const u = new URL(url);
  return {
    host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password),
    database: u.pathname.slice(1), charset: 'utf8mb4',
  };
}

/** A new, empty database on the MySQL server of `mysqlUrl`: its URL, its connection settings and how to drop it. */
export async function scratchMysqlDatabase(mysqlUrl: string, prefix = 'mltrack_bench') {
  const u = new URL(mysqlUrl);
  const name = `${prefix}_${crypto.randomBytes(3).toString('hex')}`;
  const conn = { host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  const c = await mysql.createConnection(conn);
  await c.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  await c.end();
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    conn,
    async drop() {
      const c2 = await mysql.createConnection(conn);
      await c2.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await c2.end();
    },
  };
}

/** A fresh database (SQLite in a temp dir, or a new database on the given MySQL server) and a server on it. */
/**
 * The server in this process on a fresh database (url unset: SQLite in dataDir): migrated, bootstrapped with the bench
 * token, listening on a free loopback port. startTarget and the forked server-child.ts both start it this way.
 */
export async function listenInProcess(url: string | undefined, dataDir: string): Promise<{ db: Db; server: http.Server; port: number; token: string }> {
  const db = createDb(url, dataDir);
  await migrateLatest(db);
  const boot = await bootstrap(db, 'bench-token');
  const app = createApp({ db, config: loadConfig({ DATA_DIR: dataDir }) });
  const server = await new Promise<http.Server>((r) => {
    const s = httpServer(app).listen(0, '127.0.0.1', () => r(s));
  });
  server.keepAliveTimeout = 10 * 60_000; // the client's keep-alive sockets outlive long fixture loads
  return { db, server, port: (server.address() as AddressInfo).port, token: boot.token! };
}

export async function startTarget(kind: 'sqlite' | 'mysql', mysqlUrl?: string): Promise<BenchTarget> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mltrack-bench-'));
  let url: string | undefined;
  let dropDb = async () => {};
  if (kind === 'mysql') {
    const scratch = await scratchMysqlDatabase(mysqlUrl!);
    url = scratch.url;
    dropDb = scratch.drop;
  }
  const { db, server, port, token } = await listenInProcess(url, dataDir);
  return {
    name: kind,
    db,
    port,
    token,
    base: `/api/v4/projects/1/ml/mlflow/api/2.0/mlflow`,
    async close() {
      await new Promise((r) => server.close(r));
      await db.destroy();
      await dropDb();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** One JSON request over a keep-alive connection (a Buffer body is sent as it is); throws on a non-200 answer. */
export function call(t: BenchTarget, method: string, p: string, body?: unknown): Promise<any> {
  return requestJson(t, agent, method, p, body);
}

/** `call` for any server with a base path and token, over the given agent (procs.ts gives each client its own). */
export function requestJson(t: { port: number; base: string; token: string }, via: http.Agent, method: string, p: string, body?: unknown): Promise<any> {
  const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1', port: t.port, method, path: t.base + p, agent: via,
        headers: { authorization: `Bearer ${t.token}`, ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) reject(new Error(`${method} ${p} → ${res.statusCode} ${text.slice(0, 300)}`));
          else resolve(text ? JSON.parse(text) : {});
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

export const now = () => performance.now();
export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
