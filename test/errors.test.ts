import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { VERSION } from '../server/version.ts';

/**
 * The HTTP envelope: request bodies MLflow's way, the error shape, unknown routes, plain-text routes, and what an
 * internal failure looks like from outside.
 */

const MISSING = (name: string) =>
  `Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`;

describe.each(DB_KINDS)('HTTP envelope and errors (%s)', (kind) => {
  let s: TestServer;
  let runId: string;

  beforeAll(async () => {
    s = await startServer(kind);
    const res = await s.request.post(s.mlflow() + '/runs/create').set('Authorization', `Bearer ${s.tokens.write}`).send({ run_name: 'r' });
    runId = res.body.run.info.run_id;
  });
  afterAll(async () => s?.close());

  const url = (path: string) => s.mlflow() + path;
  const auth = { Authorization: '' };
  beforeAll(() => {
    auth.Authorization = `Bearer ${s.tokens.write}`;
  });

  function expectError(res: { status: number; body: any; headers: any }, status: number, code: string, message?: string) {
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(Object.keys(res.body).sort()).toEqual(['error_code', 'message']);
    expect(res.body.error_code).toBe(code);
    if (message !== undefined) expect(res.body.message).toBe(message);
  }

  describe('request bodies', () => {
    it('malformed JSON → 400 INVALID_PARAMETER_VALUE, exactly {error_code, message}', async () => {
      for (const text of ['{"name": "x"', '{name: "x"}', "{'name': 'x'}", '{"name": "x"}}', 'not json', '{"a":1,}']) {
        const res = await s.request.post(url('/experiments/create')).set(auth).set('Content-Type', 'application/json').send(text);
        expectError(res, 400, 'INVALID_PARAMETER_VALUE', 'Malformed JSON in the request body.');
      }
    });

    it('a JSON value that is not an object → 400', async () => {
      for (const text of ['[]', '[{"name":"x"}]', '42', 'null', 'true']) {
        const res = await s.request.post(url('/experiments/create')).set(auth).set('Content-Type', 'application/json').send(text);
        expectError(res, 400, 'INVALID_PARAMETER_VALUE', 'Malformed request body: expected a JSON object.');
      }
    });

    it('a double-encoded JSON object (legacy clients) is accepted', async () => {
      const res = await s.request
        .post(url('/experiments/create'))
        .set(auth)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(JSON.stringify({ name: 'double encoded' })));
      expect(res.status, res.text).toBe(200);
      expect(res.body.experiment_id).toMatch(/^\d+$/);
    });

    it('a POST whose Content-Type is not application/json → 400 with MLflow\'s message', async () => {
      const cases: [string | undefined, string][] = [
        ['text/plain', 'name=x'],
        ['application/x-www-form-urlencoded', 'name=x'],
        ['multipart/form-data; boundary=x', '--x\r\n\r\n--x--'],
        ['application/jsonx', '{"name":"x"}'],
      ];
      for (const [type, body] of cases) {
        const res = await s.request.post(url('/experiments/create')).set(auth).set('Content-Type', type!).send(body);
        expectError(res, 400, 'INVALID_PARAMETER_VALUE', `Bad Request. Content-Type must be one of [application/json]. Got '${type}'.`);
      }
      // charset and case variations of application/json are fine
      for (const type of ['application/json; charset=utf-8', 'Application/JSON', 'application/json;charset=UTF-8']) {
        const res = await s.request.post(url('/experiments/create')).set(auth).set('Content-Type', type).send(JSON.stringify({ name: `ct ${type}` }));
        expect(res.status, `${type}: ${res.text}`).toBe(200);
      }
    });

    it('an absent or empty body is an empty request', async () => {
      const none = await s.request.post(url('/experiments/create')).set(auth);
      expectError(none, 400, 'INVALID_PARAMETER_VALUE', MISSING('name'));
      const empty = await s.request.post(url('/experiments/create')).set(auth).set('Content-Type', 'application/json').send('');
      expectError(empty, 400, 'INVALID_PARAMETER_VALUE', MISSING('name'));
      // runs/create needs nothing: the Default experiment
      const run = await s.request.post(url('/runs/create')).set(auth);
      expect(run.status).toBe(200);
      expect(run.body.run.info.experiment_id).toBe('0');
    });

    it('a body over 20 MB → 400, not 413 or 500', async () => {
      const big = JSON.stringify({ name: 'x', pad: 'a'.repeat(21 * 1024 * 1024) });
      const res = await s.request.post(url('/experiments/create')).set(auth).set('Content-Type', 'application/json').send(big);
      expectError(res, 400, 'INVALID_PARAMETER_VALUE', 'Request body too large: the limit is 20mb.');
      // the server is fine afterwards
      expect((await s.request.get(url('/experiments/list')).set(auth)).status).toBe(200);
    });

    it('a legal batch above MLflow\'s nominal 1 MB is accepted', async () => {
      const params = Array.from({ length: 100 }, (_, i) => ({ key: `p${i}`, value: 'v'.repeat(6000) }));
      const tags = Array.from({ length: 100 }, (_, i) => ({ key: `t${i}`, value: 'w'.repeat(8000) }));
      const body = { run_id: runId, params, tags };
      expect(JSON.stringify(body).length).toBeGreaterThan(1_000_000);
      const res = await s.request.post(url('/runs/log-batch')).set(auth).send(body);
      expect(res.status, res.text).toBe(200);
      expect(res.text).toBe('{}');
    });

    it('unknown fields are ignored, on POST bodies and GET queries', async () => {
      const res = await s.request.post(url('/experiments/create')).set(auth).send({ name: 'unknown fields', foo: 1, nested: { a: [1, 2] }, run_id: 'x' });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body)).toEqual(['experiment_id']);
      const g = await s.request.get(url('/experiments/get-by-name')).set(auth).query({ experiment_name: 'unknown fields', colour: 'blue', view_type: 'ALL' });
      expect(g.status).toBe(200);
      expect(g.body.experiment.experiment_id).toBe(res.body.experiment_id);
      const m = await s.request.post(url('/runs/log-metric')).set(auth).send({ run_id: runId, key: 'k', value: 1, timestamp: 1, model_id: 'm-1', dataset_name: 'd', extra: true });
      expect(m.status).toBe(200);
      expect(m.text).toBe('{}');
    });

    it('JSON null means unset, as in MLflow\'s parser: searches and logs accept null fields', async () => {
      const search = await s.request.post(url('/runs/search')).set(auth).send({ experiment_ids: ['0'], filter: null, page_token: null, order_by: null });
      expect(search.status, JSON.stringify(search.body)).toBe(200);
      expect(search.body.runs.map((r: any) => r.info.run_id)).toContain(runId);
      const p = await s.request.post(url('/runs/log-parameter')).set(auth).send({ run_id: runId, key: 'nullable', value: null });
      expect(p.status).toBe(200);
      const got = await s.request.get(url('/runs/get')).set(auth).query({ run_id: runId });
      expect(got.body.run.data.params).toContainEqual({ key: 'nullable', value: '' });
      const m = await s.request.post(url('/runs/log-metric')).set(auth).send({ run_id: runId, key: 'x', value: null, timestamp: 1 });
      expectError(m, 400, 'INVALID_PARAMETER_VALUE', MISSING('value'));
    });

    it('GET with repeated keys takes the first value of a single-valued field', async () => {
      await s.request.post(url('/experiments/create')).set(auth).send({ name: 'first of two' });
      const list = (await s.request.get(url('/experiments/list')).set(auth)).body.experiments;
      const id = list.find((e: any) => e.name === 'first of two').experiment_id;
      const res = await s.request.get(`${url('/experiments/get')}?experiment_id=${id}&experiment_id=0`).set(auth);
      expect(res.status).toBe(200);
      expect(res.body.experiment.experiment_id).toBe(id);
      const r2 = await s.request.get(`${url('/runs/get')}?run_id=${runId}&run_id=${'0'.repeat(32)}&run_uuid=${runId}`).set(auth);
      expect(r2.status).toBe(200);
      expect(r2.body.run.info.run_id).toBe(runId);
    });

    it('a GET without a query string may carry its request as a JSON body', async () => {
      const res = await s.request.get(url('/runs/get')).set(auth).set('Content-Type', 'application/json').send(JSON.stringify({ run_id: runId }));
      expect(res.status, res.text).toBe(200);
      expect(res.body.run.info.run_id).toBe(runId);
    });

    it('client mistakes of any shape are 4xx, never 5xx', async () => {
      const endpoints: [string, string, string[]][] = [
        ['post', '/experiments/create', ['name', 'artifact_location', 'tags']],
        ['get', '/experiments/get', ['experiment_id']],
        ['get', '/experiments/get-by-name', ['experiment_name']],
        ['post', '/runs/create', ['experiment_id', 'user_id', 'run_name', 'start_time', 'tags']],
        ['get', '/runs/get', ['run_id', 'run_uuid']],
        ['post', '/runs/update', ['status', 'end_time', 'run_name']],
        ['post', '/runs/log-metric', ['key', 'value', 'timestamp', 'step']],
        ['post', '/runs/log-parameter', ['key', 'value']],
        ['post', '/runs/log-batch', ['metrics', 'params', 'tags']],
      ];
      const values: unknown[] = [null, true, -1, 1.5, 1e300, '', 'x'.repeat(10_000), '\u0000', [], [null], [{}], [{ key: 1, value: {} }], {}, { a: 1 }, '9'.repeat(40)];
      for (const [method, path, fields] of endpoints) {
        for (const field of fields) {
          for (const value of values) {
            let res;
            if (method === 'get') {
              if (typeof value === 'object' && value !== null) continue;
              res = await s.request.get(url(path)).set(auth).query({ [field]: String(value) });
            } else {
              const body: Record<string, unknown> = { run_id: runId, key: 'k', value: 1, timestamp: 1, name: 'n', experiment_id: '0' };
              body[field] = value;
              res = await s.request.post(url(path)).set(auth).send(body);
            }
            expect(res.status, `${method} ${path} ${field}=${JSON.stringify(value)?.slice(0, 40)}: ${res.text.slice(0, 200)}`).toBeLessThan(500);
            if (res.status !== 200) expect(Object.keys(res.body).sort()).toEqual(['error_code', 'message']);
          }
        }
      }
    });
  });

  describe('routes', () => {
    it('an unknown endpoint under the MLflow prefix → 404 ENDPOINT_NOT_FOUND (JSON)', async () => {
      for (const path of ['/experiments/nope', '/runs/nope', '/nope', '/registered-models/frobnicate']) {
        const res = await s.request.post(url(path)).set(auth).send({});
        expectError(res, 404, 'ENDPOINT_NOT_FOUND', `No API endpoint POST ${url(path)}`);
      }
      const get = await s.request.get(url('/experiments/nope')).set(auth).query({ a: '1' });
      expectError(get, 404, 'ENDPOINT_NOT_FOUND', `No API endpoint GET ${url('/experiments/nope')}`);
      // the wrong method on a known path
      expectError(await s.request.get(url('/experiments/create')).set(auth), 404, 'ENDPOINT_NOT_FOUND');
      expectError(await s.request.post(url('/runs/get')).set(auth).send({ run_id: runId }), 404, 'ENDPOINT_NOT_FOUND');
      // the ajax-api twin and the API v3 prefix the 3.x client probes
      expectError(await s.request.get(`/api/v4/projects/${s.project.id}/ml/mlflow/ajax-api/2.0/mlflow/nope`).set(auth), 404, 'ENDPOINT_NOT_FOUND');
      expectError(await s.request.get(`/api/v4/projects/${s.project.id}/ml/mlflow/api/3.0/mlflow/server-info`).set(auth), 404, 'ENDPOINT_NOT_FOUND');
      // outside any prefix
      expectError(await s.request.get('/nope'), 404, 'ENDPOINT_NOT_FOUND');
      expectError(await s.request.get('/api/v4/nope'), 404, 'ENDPOINT_NOT_FOUND');
    });

    it('success is 200 with exactly {} for the log endpoints', async () => {
      const calls: [string, Record<string, unknown>][] = [
        ['/runs/log-metric', { run_id: runId, key: 'ok', value: 1, timestamp: 1 }],
        ['/runs/log-parameter', { run_id: runId, key: 'ok', value: 'v' }],
        ['/runs/log-batch', { run_id: runId, metrics: [{ key: 'ok', value: 2, timestamp: 2 }] }],
      ];
      for (const [path, body] of calls) {
        const res = await s.request.post(url(path)).set(auth).send(body);
        expect(res.status).toBe(200);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        expect(res.text).toBe('{}');
      }
    });

    it('/health answers OK and /version the version, as text, without a token', async () => {
      const health = await s.request.get('/health');
      expect(health.status).toBe(200);
      expect(health.headers['content-type']).toMatch(/^text\/plain/);
      expect(health.text).toBe('OK');
      const version = await s.request.get('/version');
      expect(version.status).toBe(200);
      expect(version.headers['content-type']).toMatch(/^text\/plain/);
      expect(version.text).toBe(VERSION);
      expect(version.text).toMatch(/^\d+\.\d+\.\d+/);
    });

    it('every answer carries a distinct X-Request-Id', async () => {
      const a = await s.request.get('/health');
      const b = await s.request.get(url('/experiments/list')).set(auth);
      const c = await s.request.get(url('/experiments/list'));
      const ids = [a, b, c].map((r) => r.headers['x-request-id']);
      for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(new Set(ids).size).toBe(3);
    });
  });

  describe('internal errors', () => {
    it('→ 500 INTERNAL_ERROR with the request id and no internals; other requests keep working', async () => {
      const t = await startServer(kind);
      const logged: unknown[] = [];
      const origError = console.error;
      console.error = (...args: unknown[]) => void logged.push(args);
      try {
        const tauth = { Authorization: `Bearer ${t.tokens.write}` };
        const before = await t.request.get(t.mlflow() + '/experiments/list').set(tauth);
        expect(before.status).toBe(200);
        await t.t.db.schema.dropTable('experiment_tags');

        for (const req of [
          () => t.request.get(t.mlflow() + '/experiments/list').set(tauth),
          () => t.request.get(t.mlflow() + '/experiments/get').query({ experiment_id: '0' }).set(tauth),
        ]) {
          const res = await req();
          expectError(res, 500, 'INTERNAL_ERROR');
          const requestId = res.headers['x-request-id'];
          expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
          expect(res.body.message).toBe(`Internal error (request id ${requestId})`);
          expect(res.text).not.toMatch(/experiment_tags|sqlite|SQLITE|ER_|select|stack|\.ts/i);
        }
        // the failure was logged server-side with the request id
        expect(JSON.stringify(logged.map((l) => String((l as unknown[])[0])))).toMatch(/request [0-9a-f-]{36}/);

        // requests that do not touch the table still work
        const run = await t.request.post(t.mlflow() + '/runs/create').set(tauth).send({});
        expect(run.status).toBe(200);
        expect((await t.request.get('/health')).status).toBe(200);
      } finally {
        console.error = origError;
        await t.close();
      }
    });

    it('a closed database pool → 503 TEMPORARILY_UNAVAILABLE (retried by the client), not a hang or a crash', async () => {
      const t = await startServer(kind);
      const origError = console.error;
      console.error = () => {};
      try {
        const tauth = { Authorization: `Bearer ${t.tokens.write}` };
        await t.t.db.destroy();
        const res = await t.request.get(t.mlflow() + '/experiments/list').set(tauth);
        expectError(res, 503, 'TEMPORARILY_UNAVAILABLE');
        expect(res.body.message).toBe('The database is unavailable or did not answer in time; try again later.');
        const ready = await t.request.get('/ready');
        expect([ready.status, ready.body.error_code]).toEqual([503, 'TEMPORARILY_UNAVAILABLE']);
      } finally {
        console.error = origError;
        // drop() destroys the pool again (a no-op) and removes the database
        await t.close().catch(() => {});
      }
    });
  });
});
