import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { createApp } from '../server/app.ts';
import { httpServer } from '../server/http.ts';
import { loadConfig } from '../core/config.ts';
import { bootstrap } from '../server/bootstrap.ts';
import { DB_KINDS, freshDb, type TestDb } from './helpers/db.ts';

/**
 * server/http.ts httpServer: Node makes each request and response with express's prototypes already (no
 * Object.setPrototypeOf per request, which cost a fifth of the CPU of a request). Every answer must stay what express
 * gives on a plain Node server (`http.createServer(app)`, as supertest and `app.listen` make it): the same requests
 * go to both servers of one app, through the direct dispatch and through express's own router, and are compared.
 */
describe.each(DB_KINDS)('httpServer (%s)', (kind) => {
  let t: TestDb;
  let app: ReturnType<typeof createApp>;
  const servers: http.Server[] = [];
  let born: supertest.Agent;
  let plain: supertest.Agent;
  let token: string;
  let runId: string;
  const base = '/api/v4/projects/1/ml/mlflow/api/2.0/mlflow';
  const seen: { request: boolean; response: boolean }[] = [];

  const listen = async (s: http.Server) => {
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    return supertest.agent(`http://127.0.0.1:${(s.address() as AddressInfo).port}`);
  };

  beforeAll(async () => {
    t = await freshDb(kind);
    token = (await bootstrap(t.db, 'admin-token')).token!;
    app = createApp({ db: t.db, config: loadConfig({ DATA_DIR: t.dataDir }), log: () => {} });
    const s = httpServer(app);
    // before the app's own listener: the objects as Node made them
    s.prependListener('request', (req, res) => seen.push({ request: Object.getPrototypeOf(req) === app.request, response: Object.getPrototypeOf(res) === app.response }));
    born = await listen(s);
    plain = await listen(http.createServer(app));
    const created = await born.post(base + '/runs/create').set('Authorization', `Bearer ${token}`).send({ experiment_id: '0', run_name: 'both servers' });
    expect(created.status).toBe(200);
    runId = created.body.run.info.run_id;
  });
  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    await t?.drop();
  });

  it("makes requests and responses with express's prototypes", () => {
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((x) => x.request && x.response)).toBe(true);
  });

  it('answers as a plain Node server of the same app does, on the direct dispatch and through express', async () => {
    const auth = { Authorization: `Bearer ${token}` };
    const cases: [string, (a: supertest.Agent) => supertest.Test][] = [
      ['runs/get (query)', (a) => a.get(base + '/runs/get').set(auth).query({ run_id: runId })],
      ['HEAD of runs/get', (a) => a.head(base + '/runs/get').set(auth).query({ run_id: runId })],
      ['conditional runs/get', (a) => a.get(base + '/runs/get').set(auth).set('If-None-Match', '*').query({ run_id: runId })],
      ['a write', (a) => a.post(base + '/runs/set-tag').set(auth).send({ run_id: runId, key: 'k', value: 'v' })],
      ['missing run', (a) => a.get(base + '/runs/get').set(auth).query({ run_id: 'f'.repeat(32) })],
      ['no token', (a) => a.get(base + '/runs/get').query({ run_id: runId })],
      ['malformed JSON', (a) => a.post(base + '/runs/update').set(auth).set('Content-Type', 'application/json').send('{"run_id":')],
      ['encoded project path (express mounts)', (a) => a.get('/api/v4/projects/root%2Fdefault/ml/mlflow/api/2.0/mlflow/runs/get').set(auth).query({ run_id: runId })],
      ['root mount', (a) => a.get('/api/2.0/mlflow/runs/get').set(auth).query({ run_id: runId })],
      ['tRPC', (a) => a.get('/api/v4/projects/1/trpc/runs.get').set(auth).query({ input: JSON.stringify({ run_id: runId }) })],
      ['health', (a) => a.get('/health')],
      ['version', (a) => a.get('/version')],
      ['unknown endpoint', (a) => a.get('/no/such/thing')],
    ];
    for (const [name, send] of cases) {
      const a = await send(born);
      const b = await send(plain);
      const who = `${name}: ${a.status} ${a.text}`;
      expect(a.status, who).toBe(b.status);
      expect(a.headers['content-type'], who).toBe(b.headers['content-type']);
      expect(a.headers['content-length'], who).toBe(b.headers['content-length']);
      expect(typeof a.headers['x-request-id'], who).toBe('string');
      // request ids and the tag's write differ per request; everything else is the same bytes
      expect((a.text ?? '').replace(/[0-9a-f-]{36}/g, 'id'), who).toBe((b.text ?? '').replace(/[0-9a-f-]{36}/g, 'id'));
    }
    // the values, not just the same shape on both
    const got = await born.get(base + '/runs/get').set(auth).query({ run_id: runId });
    expect(got.body.run.info.run_name).toBe('both servers');
    expect(got.body.run.data.tags).toContainEqual({ key: 'k', value: 'v' });
    expect((await born.get('/health')).text).toBe('OK');
  });
});
