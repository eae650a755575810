import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import supertest from 'supertest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { loadConfig } from '../core/config.ts';
import { createApp } from '../server/app.ts';
import { redact } from '../server/logs.ts';

/**
 * MLTRACK_LOG_FORMAT=json: the access log and server errors as one JSON object per line, each with the request id
 * (a load balancer's X-Request-Id when it sends a sane one, echoed in the answer), and never a token or a cookie.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('settings', () => {
  it('text by default; json on request; anything else refused at start', () => {
    expect(loadConfig({}).logFormat).toBe('text');
    expect(loadConfig({ MLTRACK_LOG_FORMAT: 'JSON' }).logFormat).toBe('json');
    expect(() => loadConfig({ MLTRACK_LOG_FORMAT: 'yaml' })).toThrow(/MLTRACK_LOG_FORMAT/);
  });

  it('redact masks tokens, credentials in URLs, password and cookie assignments', () => {
    expect(redact('auth Bearer mltpat-AbC_d-1 failed')).toBe('auth Bearer [redacted] failed');
    expect(redact('token mltpat-AbC_d-1 revoked')).toBe('token mltpat-[redacted] revoked');
    expect(redact('connect mysql://app:s3cr%21t@db:3306/x refused')).toBe('connect mysql://app:[redacted]@db:3306/x refused');
    expect(redact('password=hunter2; cookie: sid=abc')).toBe('password=[redacted]; cookie: [redacted]');
    expect(redact('{"private_token":"xyz"}')).toBe('{"private_token":"[redacted]"}');
    expect(redact('run 1234 not found')).toBe('run 1234 not found');
  });
});

describe.each(DB_KINDS)('JSON-lines logs (%s)', (kind) => {
  let s: TestServer;
  let request: ReturnType<typeof supertest>;
  let out: string[];
  let err: string[];
  beforeAll(async () => {
    s = await startServer(kind);
    const app = createApp({ db: s.t.db, config: loadConfig({ DATA_DIR: s.t.dataDir, MLTRACK_LOG_FORMAT: 'json' }), accessLog: true });
    request = supertest(app);
  });
  afterAll(async () => s?.close());
  beforeEach(() => {
    out = [];
    err = [];
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.map(String).join(' ')));
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.map(String).join(' ')));
  });
  afterEach(() => vi.restoreAllMocks());
  const settle = () => new Promise((r) => setTimeout(r, 20)); // the access line is written at the response's 'finish'
  const mlflow = () => s.mlflow();

  it('one JSON object per request with time, level, request id, method, route, status and duration', async () => {
    const res = await request.get(`${mlflow()}/experiments/get`).query({ experiment_id: '0' }).set('Authorization', `Bearer ${s.tokens.write}`);
    expect(res.status).toBe(200);
    const missing = await request.get(`${mlflow()}/experiments/get`).query({ experiment_id: '99' }).set('Authorization', `Bearer ${s.tokens.write}`);
    expect(missing.status).toBe(404);
    await settle();
    expect(out).toHaveLength(2);
    const [a, b] = out.map((l) => JSON.parse(l));
    expect(Object.keys(a).sort()).toEqual(['duration_ms', 'level', 'method', 'msg', 'path', 'request_id', 'route', 'status', 'time', 'user']);
    expect(a).toMatchObject({
      level: 'info', msg: 'request', method: 'GET', route: 'experiments.get', status: 200, user: 'developer',
      path: `${mlflow()}/experiments/get`, request_id: res.headers['x-request-id'],
    });
    expect(a.request_id).toMatch(UUID);
    expect(typeof a.duration_ms).toBe('number');
    expect(a.duration_ms).toBeGreaterThanOrEqual(0);
    expect(new Date(a.time).toISOString()).toBe(a.time);
    expect(b).toMatchObject({ level: 'warn', route: 'experiments.get', status: 404, request_id: missing.headers['x-request-id'] });
    expect(b.request_id).not.toBe(a.request_id);
  });

  it("honours the load balancer's X-Request-Id and echoes it; a malformed one is replaced", async () => {
    const res = await request.get('/health').set('X-Request-Id', 'lb-7f3a.42:9');
    expect(res.headers['x-request-id']).toBe('lb-7f3a.42:9');
    for (const bad of ['has space', 'x'.repeat(129), 'quote"d', 'new\\nline']) {
      const r = await request.get('/health').set('X-Request-Id', bad);
      expect(r.headers['x-request-id']).toMatch(UUID);
    }
    await settle();
    const lines = out.map((l) => JSON.parse(l));
    expect(lines.map((l) => l.request_id)).toEqual([res.headers['x-request-id'], ...lines.slice(1).map((l) => l.request_id)]);
    expect(lines[0]).toMatchObject({ route: '/health', status: 200, user: null });
    for (const l of lines.slice(1)) expect(l.request_id).toMatch(UUID);
  });

  it('never logs tokens, cookies or the query string', async () => {
    const token = s.tokens.write;
    await request.get(`${mlflow()}/experiments/get`).query({ experiment_id: '0', private_token: token }).set('Cookie', 'mltrack_session=sekret-cookie-value');
    await request.get(`${mlflow()}/experiments/get`).query({ experiment_id: '0' }).set('Authorization', `Bearer ${token}`);
    await request.get(`${mlflow()}/experiments/get`).query({ experiment_id: '0' }).set('Private-Token', token);
    await request.get(`${mlflow()}/experiments/get`).query({ experiment_id: '0' }).set('Authorization', 'Bearer mltpat-wrong-token-value');
    await settle();
    expect(out).toHaveLength(4);
    const all = out.join('\n') + err.join('\n');
    for (const secret of [token, 'sekret-cookie-value', 'mltpat-wrong-token-value', 'private_token', 'experiment_id=']) expect(all).not.toContain(secret);
    expect(out.map((l) => JSON.parse(l).status)).toEqual([200, 200, 200, 401]);
  });

  it('a server error is one JSON line on stderr with the request id, route and cause, without SQL values or secrets', async () => {
    const t = await startServer(kind);
    try {
      const app = createApp({ db: t.t.db, config: loadConfig({ DATA_DIR: t.t.dataDir, MLTRACK_LOG_FORMAT: 'json' }), accessLog: true });
      await t.t.db.schema.dropTable('experiment_tags');
      const res = await supertest(app)
        .get(`${t.mlflow()}/experiments/get`)
        .query({ experiment_id: '0', private_token: t.tokens.write })
        .set('X-Request-Id', 'req-500-check')
        .set('Cookie', 'mltrack_session=another-secret');
      expect(res.status).toBe(500);
      expect(res.headers['x-request-id']).toBe('req-500-check');
      await settle();
      expect(err).toHaveLength(1);
      const e = JSON.parse(err[0]!);
      expect(e).toMatchObject({ level: 'error', request_id: 'req-500-check', method: 'GET', route: 'experiments.get' });
      expect(e.error.message).toMatch(/experiment_tags/);
      expect(e.error.message).not.toMatch(/\bselect\b/i); // knex's SQL prefix (with bound values) is cut
      expect(Array.isArray(e.error.stack)).toBe(true);
      expect(new Date(e.time).toISOString()).toBe(e.time);
      const access = out.map((l) => JSON.parse(l));
      expect(access).toHaveLength(1);
      expect(access[0]).toMatchObject({ level: 'error', status: 500, request_id: 'req-500-check' });
      for (const secret of [t.tokens.write, 'another-secret']) expect(err.join('\n') + out.join('\n')).not.toContain(secret);
    } finally {
      await t.close();
    }
  });

  it('text stays the default format', async () => {
    const app = createApp({ db: s.t.db, config: loadConfig({ DATA_DIR: s.t.dataDir }), accessLog: true });
    const res = await supertest(app).get('/health').set('X-Request-Id', 'abc-1');
    await settle();
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+ GET \/health 200 \d+\.\dms user=- id=abc-1$/);
    expect(res.headers['x-request-id']).toBe('abc-1');
  });
});
