import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi } from './helpers/mlflow.ts';

/**
 * A log-batch with params and tags beside its metrics (seeding's shape: 10 of each), through the short ways of
 * db/log-batch.ts: on SQLite one transaction of prepared statements (db/sqlite-batch.ts), on MySQL one round trip
 * whose INSERTs fail on an unknown or inactive run or on a param already stored, after which the careful way answers.
 * Whatever the way: the answer MLflow gives, all rows written or none.
 */
describe.each(DB_KINDS)('log-batch with metrics, params and tags (%s)', (kind) => {
  let s: TestServer;
  let eid: string;
  const api = mlflowApi(() => s);
  beforeAll(async () => {
    s = await startServer(kind);
    eid = await api.newExperiment('mixed');
  });
  afterAll(async () => s?.close());

  const newRun = async (body: Record<string, unknown> = {}) => (await api.newRun(eid, body)).info.run_id as string;
  const getRun = async (id: string) => (await s.request.get(s.mlflow() + '/runs/get').set('Authorization', `Bearer ${s.tokens.write}`).query({ run_id: id })).body.run;
  const rows = async (table: string, runUuid: string) => {
    const { id } = await s.t.db('runs').where({ run_uuid: runUuid }).first('id');
    return Number((await s.t.db(table).where({ run_id: id }).count({ n: '*' }).first())!.n);
  };
  const seedBatch = (runId: string, i: number) => ({
    run_id: runId,
    metrics: Array.from({ length: 10 }, (_, j) => ({ key: `m${j}`, value: i + j / 10, timestamp: 1000 + i, step: i })),
    params: Array.from({ length: 10 }, (_, j) => ({ key: `p${j}`, value: `v${j}'"\\${i}` })),
    tags: [...Array.from({ length: 9 }, (_, j) => ({ key: `t${j}`, value: `tag ${j} ✓` })), { key: 'mlflow.runName', value: `seeded-${i}` }],
  });

  it('writes every row: metrics, params, tags and the run name from mlflow.runName', async () => {
    const id = await newRun();
    const res = await api.post('/runs/log-batch', seedBatch(id, 3));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({});
    const run = await getRun(id);
    expect(run.info.run_name).toBe('seeded-3');
    expect(run.data.params).toEqual(Array.from({ length: 10 }, (_, j) => ({ key: `p${j}`, value: `v${j}'"\\3` })));
    const tags = Object.fromEntries(run.data.tags.map((t: { key: string; value: string }) => [t.key, t.value]));
    expect(tags['mlflow.runName']).toBe('seeded-3');
    for (let j = 0; j < 9; j++) expect(tags[`t${j}`]).toBe(`tag ${j} ✓`);
    expect(run.data.metrics).toEqual(Array.from({ length: 10 }, (_, j) => ({ key: `m${j}`, value: 3 + j / 10, timestamp: 1003, step: 3 })));
    expect(await rows('metrics', id)).toBe(10);
  });

  it('the same batch again (a client retry) is 200 and doubles nothing; tags take the new values', async () => {
    const id = await newRun();
    const batch = seedBatch(id, 5);
    expect((await api.post('/runs/log-batch', batch)).status).toBe(200);
    batch.tags = [{ key: 't0', value: 'changed' }];
    const again = await api.post('/runs/log-batch', batch);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(await rows('metrics', id)).toBe(10);
    expect(await rows('params', id)).toBe(10);
    expect(await rows('tags', id)).toBe(10);
    const run = await getRun(id);
    expect(run.data.tags.find((t: { key: string }) => t.key === 't0').value).toBe('changed');
    expect(run.info.run_name).toBe('seeded-5');
  });

  it('a param logged before with another value refuses the whole batch: nothing of it is written', async () => {
    const id = await newRun({ run_name: 'kept' });
    expect((await api.post('/runs/log-batch', { run_id: id, params: [{ key: 'p3', value: 'first' }] })).status).toBe(200);
    const res = await api.post('/runs/log-batch', seedBatch(id, 1));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: `Changing param values is not allowed. Param with key='p3' was already logged with value='first' for run ID='${id}'. Attempted logging new value 'v3'"\\1'.`,
    });
    expect(await rows('metrics', id)).toBe(0);
    expect(await rows('params', id)).toBe(1);
    expect(await rows('tags', id)).toBe(1); // mlflow.runName from runs/create
    expect((await getRun(id)).info.run_name).toBe('kept');
  });

  it('an unknown run is 404 and a deleted one 400, for every shape of batch, and nothing is written', async () => {
    const missing = 'f'.repeat(32);
    const deleted = await newRun();
    expect((await api.post('/runs/delete', { run_id: deleted })).status).toBe(200);
    const shapes = (runId: string) => [
      seedBatch(runId, 0),
      { run_id: runId, params: [{ key: 'a', value: '1' }] },
      { run_id: runId, tags: [{ key: 'a', value: '1' }] },
      { run_id: runId, tags: [{ key: 'mlflow.runName', value: '' }] },
      { run_id: runId, metrics: [{ key: 'm', value: 1, timestamp: 1, step: 0 }] },
    ];
    for (const body of shapes(missing)) {
      const res = await api.post('/runs/log-batch', body);
      expect(res.status, JSON.stringify(body)).toBe(404);
      expect(res.body).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Run with id=${missing} not found` });
    }
    for (const body of shapes(deleted)) {
      const res = await api.post('/runs/log-batch', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.message).toBe(`The run ${deleted} must be in the 'active' state. Current state is deleted.`);
    }
    expect(await rows('metrics', deleted)).toBe(0);
    expect(await rows('params', deleted)).toBe(0);
  });

  it('concurrent batches giving one new param two values: one value wins, every other answer is 400, never 500', async () => {
    const id = await newRun();
    const values = ['a', 'b', 'a', 'b', 'a', 'b', 'c', 'a'];
    const answers = await Promise.all(
      values.map((v, i) =>
        api.post('/runs/log-batch', { run_id: id, metrics: [{ key: 'm', value: i, timestamp: i, step: i }], params: [{ key: 'race', value: v }], tags: [{ key: `t${i}`, value: v }] }).then((r) => r),
      ),
    );
    const params = (await getRun(id)).data.params;
    expect(params).toHaveLength(1);
    const winner = params[0].value;
    let won = 0;
    answers.forEach((r, i) => {
      if (values[i] === winner) {
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        won++;
      } else {
        expect(r.status, JSON.stringify(r.body)).toBe(400);
        expect(r.body.message).toMatch(/^Changing param values is not allowed/);
      }
    });
    // exactly the winners' metrics and tags were written
    expect(await rows('metrics', id)).toBe(won);
    expect(await rows('tags', id)).toBe(won + 1);
  });
});
