import crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi } from './helpers/mlflow.ts';
import { createDb, type Db } from '../db/knex.ts';
import { loadConfig } from '../core/config.ts';
import { createApp } from '../server/app.ts';
import { answerParserErrors } from '../server/http.ts';

/**
 * Two servers sharing one database and one ARTIFACTS_DIR, as N servers behind a load balancer do: uploads of the
 * same path through both at once leave one whole file (each upload is written to its own temp file in the target's
 * folder and renamed into place), never a mix and never a temp file; any server streams what any other stored.
 */

const MB = 1024 * 1024;
const ROUNDS = 20;
const SIZE = 2 * MB;

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** A streamed request: the body goes out in 64 KiB writes with a turn of the event loop between them, so two
 * uploads interleave on the server side. `abortAfter` destroys the request after that many bytes. */
function send(base: string, method: string, p: string, token: string, body?: Buffer, abortAfter?: number): Promise<{ status: number; body: Buffer }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname, port: u.port, method, path: p, agent: false,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-length': body.length } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', (e) => (abortAfter !== undefined ? resolve({ status: 0, body: Buffer.alloc(0) }) : reject(e)));
    if (!body) return void req.end();
    let off = 0;
    const step = () => {
      if (abortAfter !== undefined && off >= abortAfter) return void req.destroy();
      if (off >= body.length) return void req.end();
      const next = Math.min(off + 64 * 1024, body.length);
      const ok = req.write(body.subarray(off, next));
      off = next;
      if (ok) setImmediate(step);
      else req.once('drain', step);
    };
    step();
  });
}

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  const rec = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await rec(p);
      else out.push(path.relative(dir, p));
    }
  };
  await rec(dir);
  return out.sort();
}

describe.each(DB_KINDS)('artifacts across two servers (%s)', (kind) => {
  let a: TestServer;
  let bDb: Db;
  let bServer: http.Server;
  let b: string;
  let artifactsDir: string;
  beforeAll(async () => {
    artifactsDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mltrack-shared-artifacts-'));
    a = await startServer(kind, { ARTIFACTS_DIR: artifactsDir });
    // server B: its own pool on the same database, its own store on the same folder
    bDb = createDb(a.t.url, a.t.dataDir);
    const app = createApp({ db: bDb, config: loadConfig({ DATA_DIR: a.t.dataDir, ARTIFACTS_DIR: artifactsDir }) });
    bServer = await new Promise((resolve) => {
      const srv = app.listen(0, '127.0.0.1', () => resolve(srv));
    });
    answerParserErrors(bServer);
    b = `http://127.0.0.1:${(bServer.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => bServer?.close(r));
    await bDb?.destroy();
    await a?.close();
    await fs.rm(artifactsDir, { recursive: true, force: true });
  });
  const api = mlflowApi(() => a);

  it(`${ROUNDS} rounds of two ${SIZE / MB} MiB uploads of one path through two servers: one whole file each time, no temp file left`, async () => {
    const run = await api.newRun('0');
    const rel = `${run.info.artifact_uri.replace(/^mlflow-artifacts:\//, '')}/model/weights.bin`;
    const url = `/api/v4/projects/${a.project.id}/ml/mlflow/api/2.0/mlflow-artifacts/artifacts/${rel}`;
    const token = a.tokens.write;
    const onDisk = path.join(artifactsDir, 'p', String(a.project.id), rel);
    const wins = { a: 0, b: 0 };
    let previous: string | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      const bodyA = crypto.randomBytes(SIZE);
      const bodyB = crypto.randomBytes(SIZE + 4096 * round); // sizes differ too: a torn file could not pass for either
      const hashes = new Set([sha(bodyA), sha(bodyB)]);
      // a download through B while both uploads replace the file: the whole previous file or one whole new one
      const during = previous ? send(b, 'GET', url, token) : undefined;
      const [ra, rb] = await Promise.all([send(a.baseUrl, 'PUT', url, token, bodyA), send(b, 'PUT', url, token, bodyB)]);
      expect([ra.status, rb.status], `${ra.body} ${rb.body}`).toEqual([200, 200]);
      const stored = await fs.readFile(onDisk);
      expect(hashes.has(sha(stored)), `round ${round}: the file is neither upload`).toBe(true);
      if (sha(stored) === sha(bodyA)) wins.a++;
      else wins.b++;
      if (during) {
        const d = await during;
        expect(d.status).toBe(200);
        expect([previous, ...hashes]).toContain(sha(d.body));
      }
      expect((await files(artifactsDir)).filter((f) => /\.upload-/.test(f))).toEqual([]);
      // each server streams what either stored
      for (const base of [a.baseUrl, b]) {
        const got = await send(base, 'GET', url, token);
        expect(got.status).toBe(200);
        expect(sha(got.body)).toBe(sha(stored));
      }
      previous = sha(stored);
    }
    expect(wins.a + wins.b).toBe(ROUNDS);
    console.log(`[artifacts-multi-server ${kind}] last writer: server A ${wins.a}, server B ${wins.b} of ${ROUNDS}`);
  });

  it('a temp file left by a killed server is swept by the next upload into its folder once an hour old; a live one stays', async () => {
    const run = await api.newRun('0');
    const dirRel = `${run.info.artifact_uri.replace(/^mlflow-artifacts:\//, '')}/ckpt`;
    const url = `/api/v4/projects/${a.project.id}/ml/mlflow/api/2.0/mlflow-artifacts/artifacts/${dirRel}`;
    // the folder as a server killed mid-upload left it (written by another process: this one never swept it)
    const dir = path.join(artifactsDir, 'p', String(a.project.id), dirRel);
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'first.bin'), 'first');
    const dead = path.join(dir, '.model.bin.upload-00000000deadbeef');
    const live = path.join(dir, '.other.bin.upload-00000000a11fe000');
    await fs.writeFile(dead, 'half an upload');
    await fs.writeFile(live, 'an upload still running on another server');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await fs.utimes(dead, twoHoursAgo, twoHoursAgo);
    const listed = await send(b, 'GET', `/api/v4/projects/${a.project.id}/ml/mlflow/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(dirRel)}`, a.tokens.write);
    expect(JSON.parse(listed.body.toString()).files.map((f: { path: string }) => f.path)).toEqual(['first.bin']);
    expect((await send(b, 'PUT', `${url}/second.bin`, a.tokens.write, Buffer.from('second'))).status).toBe(200);
    expect((await fs.readdir(dir)).sort()).toEqual(['.other.bin.upload-00000000a11fe000', 'first.bin', 'second.bin']);
    await fs.rm(live);
  });

  it('an upload cut off halfway through one server leaves the stored file whole and no temp file', async () => {
    const run = await api.newRun('0');
    const rel = `${run.info.artifact_uri.replace(/^mlflow-artifacts:\//, '')}/data.bin`;
    const url = `/api/v4/projects/${a.project.id}/ml/mlflow/api/2.0/mlflow-artifacts/artifacts/${rel}`;
    const whole = crypto.randomBytes(SIZE);
    expect((await send(a.baseUrl, 'PUT', url, a.tokens.write, whole)).status).toBe(200);
    await send(b, 'PUT', url, a.tokens.write, crypto.randomBytes(SIZE), SIZE / 2);
    // the server notices the reset asynchronously: wait (bounded) for its temp file to go
    let temps: string[] = [];
    for (let i = 0; i < 200; i++) {
      temps = (await files(artifactsDir)).filter((f) => /\.upload-/.test(f));
      if (temps.length === 0) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(temps).toEqual([]);
    for (const base of [a.baseUrl, b]) {
      const got = await send(base, 'GET', url, a.tokens.write);
      expect(got.status).toBe(200);
      expect(sha(got.body)).toBe(sha(whole));
    }
  });
});
