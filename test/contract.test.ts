import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';

/**
 * Each endpoint's contract is its zod input: required fields are required there, so the OpenAPI document marks
 * them, and the answers keep MLflow's "Missing value" wording and its check order (run_id first).
 */
const MISSING = (name: string) =>
  `Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`;

/** MLflow's required fields (reference/mlflow-api.md, `T!`), by REST route. */
const REQUIRED: [method: 'post' | 'get', path: string, fields: string[]][] = [
  ['post', '/experiments/create', ['name']],
  ['get', '/experiments/get', ['experiment_id']],
  ['get', '/experiments/get-by-name', ['experiment_name']],
  ['post', '/experiments/delete', ['experiment_id']],
  ['post', '/experiments/restore', ['experiment_id']],
  ['post', '/experiments/update', ['experiment_id', 'new_name']],
  ['post', '/experiments/set-experiment-tag', ['experiment_id', 'key']],
  ['post', '/experiments/delete-experiment-tag', ['experiment_id', 'key']],
  ['get', '/runs/get', ['run_id']],
  ['post', '/runs/update', ['run_id']],
  ['post', '/runs/delete', ['run_id']],
  ['post', '/runs/restore', ['run_id']],
  ['post', '/runs/log-metric', ['run_id', 'key', 'value', 'timestamp']],
  ['post', '/runs/log-parameter', ['run_id', 'key']],
  ['post', '/runs/set-tag', ['run_id', 'key']],
  ['post', '/runs/delete-tag', ['run_id', 'key']],
  ['post', '/runs/log-batch', ['run_id']],
  ['post', '/runs/log-model', ['run_id', 'model_json']],
  ['post', '/runs/log-inputs', ['run_id']],
  ['post', '/runs/outputs', ['run_id', 'models']],
  ['get', '/metrics/get-history', ['run_id', 'metric_key']],
  ['get', '/metrics/get-history-bulk-interval', ['run_ids', 'metric_key']],
  ['get', '/artifacts/list', ['run_id']],
];

describe.each(DB_KINDS)('endpoint contracts (%s)', (kind) => {
  let s: TestServer;
  let doc: any;
  beforeAll(async () => {
    s = await startServer(kind);
    doc = (await s.request.get('/openapi.json')).body;
  });
  afterAll(async () => s?.close());

  it.each(REQUIRED)('OpenAPI marks the required fields of %s %s', (method, path, fields) => {
    const op = doc.paths[path][method];
    const required =
      method === 'get'
        ? op.parameters.filter((p: any) => p.required).map((p: any) => p.name)
        : op.requestBody.content['application/json'].schema.required ?? [];
    expect([...required].sort()).toEqual([...fields].sort());
  });

  it.each(REQUIRED.filter(([m]) => m === 'post'))('an empty body to %s %s names the first required field', async (_m, path, fields) => {
    const res = await s.request.post(`${s.mlflow()}${path}`).set('Authorization', `Bearer ${s.tokens.write}`).send({});
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: MISSING(fields[0]!) });
  });

  it('run_uuid stands in for run_id, as older clients send it; run_id is still checked first', async () => {
    const auth = { Authorization: `Bearer ${s.tokens.write}` };
    const run = (await s.request.post(`${s.mlflow()}/runs/create`).set(auth).send({ experiment_id: '0' })).body.run.info.run_id;
    const ok = await s.request.post(`${s.mlflow()}/runs/log-parameter`).set(auth).send({ run_uuid: run, key: 'p', value: '1' });
    expect(ok.status).toBe(200);
    const got = await s.request.get(`${s.mlflow()}/runs/get`).set(auth).query({ run_uuid: run });
    expect(got.body.run.data.params).toEqual([{ key: 'p', value: '1' }]);
    // both run_id and key missing: MLflow's schema lists run_id first
    const both = await s.request.post(`${s.mlflow()}/runs/log-parameter`).set(auth).send({ value: '1' });
    expect(both.body).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: MISSING('run_id') });
    // an empty key is missing, as MLflow's _assert_required has it; nothing is written
    const empty = await s.request.post(`${s.mlflow()}/runs/log-parameter`).set(auth).send({ run_id: run, key: '', value: '2' });
    expect(empty.body).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: MISSING('key') });
    const after = await s.request.get(`${s.mlflow()}/runs/get`).set(auth).query({ run_id: run });
    expect(after.body.run.data.params).toEqual([{ key: 'p', value: '1' }]);
  });
});
