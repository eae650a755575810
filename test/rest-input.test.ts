import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';

/**
 * Where the REST facade (server/rest.ts) takes a procedure's input from: GET and DELETE from the query string (the body
 * when the query holds nothing but a private_token), every other method from the body alone, the query string never
 * parsed for them (it only may carry the token). Path parameters win over same-named fields.
 */
describe.each(DB_KINDS)('REST facade input (%s)', (kind) => {
  let s: TestServer;
  let runId: string;
  beforeAll(async () => {
    s = await startServer(kind);
    const res = await s.request.post(`${s.mlflow()}/runs/create`).set('Authorization', `Bearer ${s.tokens.write}`)
      .send({ experiment_id: '0', run_name: 'from-body' });
    expect(res.status).toBe(200);
    runId = res.body.run.info.run_id;
  });
  afterAll(async () => s?.close());

  it('a POST takes the body, not query fields; its token may come in the query', async () => {
    const res = await s.request
      .post(`${s.mlflow()}/runs/create?private_token=${s.tokens.write}&run_name=from-query&experiment_id=7`)
      .send({ experiment_id: '0', run_name: 'posted', private_token: 'ignored' });
    expect(res.status).toBe(200);
    expect(res.body.run.info).toMatchObject({ run_name: 'posted', experiment_id: '0', user_id: 'developer', status: 'RUNNING' });
    const row = await s.t.db('runs').where({ run_uuid: res.body.run.info.run_id }).first('name', 'user_id');
    expect(row).toEqual({ name: 'posted', user_id: 'developer' });
    // a bad body still answers its error, with the token from the query, and writes nothing
    const before = Number(((await s.t.db('runs').count({ n: '*' })) as { n: number }[])[0]!.n);
    const bad = await s.request.post(`${s.mlflow()}/runs/create?private_token=${s.tokens.write}&experiment_id=0`).send({ experiment_id: '0', tags: [{ key: 'bad key!', value: '1' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error_code).toBe('INVALID_PARAMETER_VALUE');
    expect(Number(((await s.t.db('runs').count({ n: '*' })) as { n: number }[])[0]!.n)).toBe(before);
  });

  it('a GET takes the query; with only a private_token there, the body', async () => {
    const q = await s.request.get(`${s.mlflow()}/runs/get?run_id=${runId}`).set('Authorization', `Bearer ${s.tokens.write}`);
    expect(q.status).toBe(200);
    expect(q.body.run.info).toMatchObject({ run_id: runId, run_name: 'from-body' });
    const b = await s.request.get(`${s.mlflow()}/runs/get?private_token=${s.tokens.write}`).set('Content-Type', 'application/json').send({ run_id: runId });
    expect(b.status).toBe(200);
    expect(b.body.run.info.run_id).toBe(runId);
    const missing = await s.request.get(`${s.mlflow()}/runs/get?private_token=${s.tokens.write}&run_id=${'0'.repeat(32)}`).send({ run_id: runId });
    expect(missing.status).toBe(404);
    expect(missing.body.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
  });

  it('a path parameter wins over a same-named body field', async () => {
    const created = await s.request.post(`${s.mlflow()}/logged-models`).set('Authorization', `Bearer ${s.tokens.write}`).send({ experiment_id: '0', name: 'm' });
    expect(created.status).toBe(200);
    const id = created.body.model.info.model_id;
    const got = await s.request.get(`${s.mlflow()}/logged-models/${id}`).set('Authorization', `Bearer ${s.tokens.write}`).send({ model_id: 'm-other' });
    expect(got.status).toBe(200);
    expect(got.body.model.info.model_id).toBe(id);
  });
});
