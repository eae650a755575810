import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import supertest from 'supertest';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MYSQL_URL } from './helpers/db.ts';

/**
 * The real server process (`npx tsx server/main.ts`): first start on an empty database creates the admin, project 1
 * and a token and prints how to point MLflow at it; later starts change nothing and keep the data.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const URI_RE = /export MLFLOW_TRACKING_URI=(\S+)/;
const TOKEN_RE = /export MLFLOW_TRACKING_TOKEN=(\S+)/;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

interface Started {
  child: ChildProcess;
  port: number;
  stdout: string;
  uri: string;
  /** the token line's value, as printed */
  printedToken: string;
  request: ReturnType<typeof supertest>;
  /** SIGTERM to the process group; true when every process of it exited within 10 s (else they are killed). */
  stop(): Promise<boolean>;
}

/** Process groups of the servers started here (npx → tsx → node): stopped by group id, never by name. */
const running = new Set<number>();

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopGroup(pgid: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<boolean> {
  if (!groupAlive(pgid)) return true;
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
  const deadline = Date.now() + 10_000;
  while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const clean = !groupAlive(pgid);
  if (!clean) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  running.delete(pgid);
  return clean;
}

/** Starts the server and waits until it has printed the tracking URI and the token line. */
async function startProcess(env: Record<string, string | undefined>): Promise<Started> {
  const port = await freePort();
  const childEnv: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1' };
  for (const k of ['DATABASE_URL', 'MLTRACK_INITIAL_TOKEN', 'PUBLIC_URL', 'MLTRACK_ROOT_PROJECT', 'ARTIFACTS_DIR']) delete childEnv[k];
  for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
  // its own process group, so that stopping it reaches tsx's node child too
  const child = spawn('npx', ['tsx', 'server/main.ts'], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const pgid = child.pid!;
  running.add(pgid);
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time.\nstdout:\n${stdout}\nstderr:\n${stderr}`)), 45_000);
    child.stdout!.on('data', (d) => {
      stdout += d;
      if (URI_RE.test(stdout) && TOKEN_RE.test(stdout)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (d) => (stderr += d));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before printing the tracking URI.\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    });
  });
  return {
    child,
    port,
    get stdout() {
      return stdout;
    },
    uri: URI_RE.exec(stdout)![1]!,
    printedToken: TOKEN_RE.exec(stdout)![1]!,
    request: supertest(`http://127.0.0.1:${port}`),
    stop: () => stopGroup(pgid),
  };
}

const tempDirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mltrack-boot-'));
  tempDirs.push(d);
  return d;
}

afterEach(async () => {
  for (const pgid of [...running]) await stopGroup(pgid, 'SIGKILL');
});
afterAll(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** experiments/list of project 1 through the printed tracking URI. */
async function listExperiments(p: Started, token: string) {
  const base = p.uri.replace(`http://127.0.0.1:${p.port}`, '');
  return p.request.get(`${base}/api/2.0/mlflow/experiments/list`).set('Authorization', `Bearer ${token}`);
}

describe('server bootstrap (sqlite)', () => {
  it('first start: prints the tracking URI of project 1 and the initial token, which works', async () => {
    const dataDir = tempDir();
    const token = `mltpat-initial-${crypto.randomBytes(8).toString('hex')}`;
    const p = await startProcess({ DATA_DIR: dataDir, MLTRACK_INITIAL_TOKEN: token });
    try {
      expect(p.uri).toBe(`http://127.0.0.1:${p.port}/api/v4/projects/1/ml/mlflow`);
      expect(p.printedToken).toBe(token);
      expect(p.stdout).toContain(`listening on http://127.0.0.1:${p.port}`);
      expect(p.stdout).toContain(dataDir);
      expect(fs.existsSync(path.join(dataDir, 'mltrack.sqlite'))).toBe(true);

      const res = await listExperiments(p, token);
      expect(res.status, res.text).toBe(200);
      expect(res.body.experiments).toHaveLength(1);
      expect(res.body.experiments[0]).toMatchObject({ experiment_id: '0', name: 'Default', lifecycle_stage: 'active' });

      // the root mount serves the same project
      const root = await p.request.get('/api/2.0/mlflow/experiments/list').set('Authorization', `Bearer ${token}`);
      expect(root.body).toEqual(res.body);
      // the admin token can write
      const created = await p.request
        .post('/api/v4/projects/1/ml/mlflow/api/2.0/mlflow/experiments/create')
        .set('Authorization', `Bearer ${token}`)
        .send({ name: 'kept' });
      expect(created.body).toEqual({ experiment_id: '1' });
      // a wrong token does not
      expect((await listExperiments(p, 'mltpat-wrong')).status).toBe(401);
      expect(await p.stop()).toBe(true);
    } finally {
      await p.stop();
    }
  });

  it('restart on the same DATA_DIR: no new admin or token printed, data and the old token kept', async () => {
    const dataDir = tempDir();
    const token = `mltpat-first-${crypto.randomBytes(8).toString('hex')}`;
    const first = await startProcess({ DATA_DIR: dataDir, MLTRACK_INITIAL_TOKEN: token });
    const created = await first.request
      .post('/api/v4/projects/1/ml/mlflow/api/2.0/mlflow/experiments/create')
      .set('Authorization', `Bearer ${token}`)
      .send({ name: 'survives restarts' });
    expect(created.status).toBe(200);
    const run = await first.request
      .post('/api/v4/projects/1/ml/mlflow/api/2.0/mlflow/runs/create')
      .set('Authorization', `Bearer ${token}`)
      .send({ experiment_id: created.body.experiment_id, run_name: 'r' });
    expect(run.status).toBe(200);
    expect(await first.stop()).toBe(true);

    // a different MLTRACK_INITIAL_TOKEN is ignored once the instance exists
    const other = `mltpat-second-${crypto.randomBytes(8).toString('hex')}`;
    const second = await startProcess({ DATA_DIR: dataDir, MLTRACK_INITIAL_TOKEN: other });
    try {
      expect(second.uri).toBe(`http://127.0.0.1:${second.port}/api/v4/projects/1/ml/mlflow`);
      expect(second.stdout).not.toContain(token);
      expect(second.stdout).not.toContain(other);
      expect(second.stdout).not.toMatch(/mltpat-/);
      expect(second.printedToken).toBe('<your');
      expect((await listExperiments(second, other)).status).toBe(401);

      const res = await listExperiments(second, token);
      expect(res.status).toBe(200);
      expect(res.body.experiments.map((e: any) => e.name)).toEqual(['survives restarts', 'Default']);
      const got = await second.request
        .get('/api/v4/projects/1/ml/mlflow/api/2.0/mlflow/runs/get')
        .query({ run_id: run.body.run.info.run_id })
        .set('Authorization', `Bearer ${token}`);
      expect(got.status).toBe(200);
      expect(got.body.run.info.run_name).toBe('r');
      // still one admin
      const users = await second.request.get('/api/v4/trpc/admin.listUsers').set('Authorization', `Bearer ${token}`);
      expect(users.status, users.text).toBe(200);
      expect(JSON.stringify(users.body).match(/"username":"admin"/g)).toHaveLength(1);
      expect(await second.stop()).toBe(true);
    } finally {
      await second.stop();
    }
  });

  it('without MLTRACK_INITIAL_TOKEN a token is generated, printed once, and works', async () => {
    const dataDir = tempDir();
    const p = await startProcess({ DATA_DIR: dataDir });
    let token: string;
    try {
      token = p.printedToken;
      expect(token).toMatch(/^mltpat-[A-Za-z0-9_-]{20,}$/);
      const res = await listExperiments(p, token);
      expect(res.status).toBe(200);
      expect(res.body.experiments.map((e: any) => e.name)).toEqual(['Default']);
      // stored only as a digest
      expect(fs.readFileSync(path.join(dataDir, 'mltrack.sqlite')).includes(Buffer.from(token))).toBe(false);
    } finally {
      await p.stop();
    }
    const again = await startProcess({ DATA_DIR: dataDir });
    try {
      expect(again.stdout).not.toContain(token);
      expect((await listExperiments(again, token)).status).toBe(200);
    } finally {
      await again.stop();
    }
  });
});

describe.skipIf(!MYSQL_URL)('server bootstrap (mysql)', () => {
  const base = MYSQL_URL ? new URL(MYSQL_URL) : undefined;
  const conn = () =>
    mysql.createConnection({
      host: base!.hostname,
      port: Number(base!.port || 3306),
      user: decodeURIComponent(base!.username),
      password: decodeURIComponent(base!.password),
    });

  it('first start against a fresh, empty MySQL database migrates it and bootstraps; a restart keeps it', async () => {
    const name = `${base!.pathname.replace(/^\//, '') || 'mltrack_test'}_boot_${crypto.randomBytes(4).toString('hex')}`;
    const admin = await conn();
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
    await admin.end();
    const url = new URL(MYSQL_URL!);
    url.pathname = `/${name}`;
    const dataDir = tempDir();
    try {
      const token = `mltpat-mysql-${crypto.randomBytes(8).toString('hex')}`;
      const p = await startProcess({ DATA_DIR: dataDir, DATABASE_URL: url.toString(), MLTRACK_INITIAL_TOKEN: token });
      try {
        expect(p.uri).toBe(`http://127.0.0.1:${p.port}/api/v4/projects/1/ml/mlflow`);
        expect(p.printedToken).toBe(token);
        expect(p.stdout).toContain('(MySQL)');
        const res = await listExperiments(p, token);
        expect(res.status, res.text).toBe(200);
        expect(res.body.experiments).toHaveLength(1);
        expect(res.body.experiments[0]).toMatchObject({ experiment_id: '0', name: 'Default' });
        const created = await p.request
          .post('/api/v4/projects/1/ml/mlflow/api/2.0/mlflow/experiments/create')
          .set('Authorization', `Bearer ${token}`)
          .send({ name: 'in mysql' });
        expect(created.body).toEqual({ experiment_id: '1' });
        expect(fs.existsSync(path.join(dataDir, 'mltrack.sqlite'))).toBe(false);
      } finally {
        expect(await p.stop()).toBe(true);
      }

      const again = await startProcess({ DATA_DIR: dataDir, DATABASE_URL: url.toString(), MLTRACK_INITIAL_TOKEN: token });
      try {
        expect(again.printedToken).toBe('<your');
        const res = await listExperiments(again, token);
        expect(res.body.experiments.map((e: any) => e.name)).toEqual(['in mysql', 'Default']);
      } finally {
        await again.stop();
      }
    } finally {
      const c = await conn();
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await c.end();
    }
  });
});
