import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import supertest from 'supertest';
import { freshDb, type TestDb } from './helpers/db.ts';
import { createApp } from '../server/app.ts';
import { loadConfig } from '../core/config.ts';
import { bootstrap } from '../server/bootstrap.ts';

describe('access log', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await freshDb('sqlite');
    await bootstrap(t.db, 'log-token');
  });
  afterAll(async () => t?.drop());

  it('writes one line per request, without the query string (tokens may travel there)', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    try {
      const app = createApp({ db: t.db, config: loadConfig({ DATA_DIR: t.dataDir }), accessLog: true });
      const res = await supertest(app)
        .get('/api/v4/projects/1/ml/mlflow/api/2.0/mlflow/experiments/get')
        .query({ experiment_id: '0', private_token: 'log-token' });
      expect(res.status).toBe(200);
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      spy.mockRestore();
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+ GET \/api\/v4\/projects\/1\/ml\/mlflow\/api\/2\.0\/mlflow\/experiments\/get 200 \d+\.\dms user=admin id=[0-9a-f-]{36}$/);
    expect(lines[0]).not.toContain('log-token');
  });

  it('is off unless asked for', async () => {
    const spy = vi.spyOn(console, 'log');
    try {
      await supertest(createApp({ db: t.db, config: loadConfig({ DATA_DIR: t.dataDir }) })).get('/health');
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
    expect(loadConfig({ MLTRACK_ACCESS_LOG: '0' }).accessLog).toBe(false);
    expect(loadConfig({}).accessLog).toBe(true);
  });
});

describe('PUBLIC_URL', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await freshDb('sqlite');
  });
  afterAll(async () => t?.drop());

  it('is the OpenAPI server URL base, with a trailing slash dropped', async () => {
    const config = loadConfig({ DATA_DIR: t.dataDir, PUBLIC_URL: 'https://mltrack.example.com/' });
    expect(config.publicUrl).toBe('https://mltrack.example.com');
    const doc = (await supertest(createApp({ db: t.db, config })).get('/openapi.json')).body;
    expect(doc.servers[0].url).toBe('https://mltrack.example.com/api/v4/projects/{id}/ml/mlflow/api/2.0/mlflow');
  });
});

describe('MLFLOW_TRUNCATE_LONG_VALUES', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await freshDb('sqlite');
    await bootstrap(t.db, 'trunc-token');
  });
  afterAll(async () => t?.drop());

  it('is read through Config: false refuses an over-long param value over HTTP, true (default) truncates it', async () => {
    expect(loadConfig({}).truncateLongValues).toBe(true);
    expect(loadConfig({ MLFLOW_TRUNCATE_LONG_VALUES: 'False' }).truncateLongValues).toBe(false);
    const base = '/api/v4/projects/1/ml/mlflow/api/2.0/mlflow';
    const strict = supertest(createApp({ db: t.db, config: loadConfig({ DATA_DIR: t.dataDir, MLFLOW_TRUNCATE_LONG_VALUES: 'false' }) }));
    const lenient = supertest(createApp({ db: t.db, config: loadConfig({ DATA_DIR: t.dataDir }) }));
    const auth = { Authorization: 'Bearer trunc-token' };
    const run = (await strict.post(`${base}/runs/create`).set(auth).send({ experiment_id: '0' })).body.run.info.run_id;
    const refused = await strict.post(`${base}/runs/log-parameter`).set(auth).send({ run_id: run, key: 'p', value: 'x'.repeat(6001) });
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: "'Param value' exceeds the maximum length of 6000 characters" });
    const ok = await lenient.post(`${base}/runs/log-parameter`).set(auth).send({ run_id: run, key: 'p', value: 'x'.repeat(6001) });
    expect(ok.status).toBe(200);
    const got = (await lenient.get(`${base}/runs/get`).set(auth).query({ run_id: run })).body.run.data.params;
    expect(got).toEqual([{ key: 'p', value: 'x'.repeat(6000) }]);
  });
});
