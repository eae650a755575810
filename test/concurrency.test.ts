import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi } from './helpers/mlflow.ts';

/**
 * Requests racing on the same rows, as parallel clients (and retries) produce them: never a 5xx, never a
 * duplicate or a lost write.
 */
describe.each(DB_KINDS)('concurrent writes (%s)', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(kind);
  });
  afterAll(async () => s?.close());

  const api = mlflowApi(() => s);
  const post = (path: string, body: object) => api.post(path, body);
  const newRun = async () => (await api.newRun('0')).info.run_id as string;

  it('creating the same experiment name 8 times at once: one experiment, the others RESOURCE_ALREADY_EXISTS', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => post('/experiments/create', { name: 'raced' })));
    const ok = answers.filter((a) => a.status === 200);
    expect(ok).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 200)) {
      expect(a.status).toBe(400);
      expect(a.body.error_code).toBe('RESOURCE_ALREADY_EXISTS');
    }
    const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => post('/experiments/create', { name: `parallel-${i}` })));
    const numbers = ids.map((a) => Number(a.body.experiment_id)).sort((a, b) => a - b);
    expect(new Set(numbers).size).toBe(6); // per-project numbers stay unique under concurrency
  });

  it('parallel log-batch calls to one run keep every point and the right latest value', async () => {
    const runId = await newRun();
    const batches = Array.from({ length: 8 }, (_, b) => ({
      run_id: runId,
      metrics: Array.from({ length: 200 }, (_, i) => ({ key: `k${i % 4}`, value: b * 1000 + i, timestamp: b, step: b * 200 + i })),
      tags: [{ key: 'writer', value: String(b) }],
    }));
    const answers = await Promise.all(batches.map((body) => post('/runs/log-batch', body)));
    for (const a of answers) expect(a.status, JSON.stringify(a.body)).toBe(200);
    const internal = (await s.t.db('runs').where({ run_uuid: runId }).first('id')).id;
    expect(Number((await s.t.db('metrics').where({ run_id: internal }).count({ n: '*' }).first())!.n)).toBe(1600);
    const got = (await api.get('/runs/get', { run_id: runId })).body;
    // the greatest step of each key wins, whichever batch committed last
    expect(got.run.data.metrics).toEqual([0, 1, 2, 3].map((k) => ({ key: `k${k}`, value: 7000 + 196 + k, timestamp: 7, step: 1400 + 196 + k })));
  });

  it('the same param with different values in parallel: exactly one value stored, the others refused with 400', async () => {
    const runId = await newRun();
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => post('/runs/log-parameter', { run_id: runId, key: 'lr', value: String(i) })));
    const ok = answers.filter((a) => a.status === 200);
    expect(ok).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 200)) {
      expect(a.status).toBe(400);
      expect(a.body.error_code).toBe('INVALID_PARAMETER_VALUE');
    }
    const internal = (await s.t.db('runs').where({ run_uuid: runId }).first('id')).id;
    expect(await s.t.db('params').where({ run_id: internal })).toHaveLength(1);
  });

  it('a retried batch racing its original adds nothing twice', async () => {
    const runId = await newRun();
    const body = { run_id: runId, metrics: Array.from({ length: 300 }, (_, i) => ({ key: 'm', value: i, timestamp: 1, step: i })), params: [{ key: 'p', value: 'same' }] };
    const answers = await Promise.all([post('/runs/log-batch', body), post('/runs/log-batch', body), post('/runs/log-batch', body)]);
    for (const a of answers) expect(a.status, JSON.stringify(a.body)).toBe(200);
    const internal = (await s.t.db('runs').where({ run_uuid: runId }).first('id')).id;
    expect(Number((await s.t.db('metrics').where({ run_id: internal }).count({ n: '*' }).first())!.n)).toBe(300);
    expect(await s.t.db('params').where({ run_id: internal })).toEqual([expect.objectContaining({ key: 'p', value: 'same' })]);
  });
});
