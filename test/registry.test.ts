import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS, statements as sqlStatements } from './helpers/db.ts';
import { mlflowApi } from './helpers/mlflow.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { createMltrackClient } from '../client/index.ts';

/**
 * The model registry over HTTP, as the MLflow 2.x and 3.x clients call it (shared/reference/model-registry.md):
 * request sequences, answers, every error with MLflow's code and message, and what is stored afterwards.
 */
const MISSING = (name: string) =>
  `Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`;

describe.each(DB_KINDS)('model registry (%s)', (kind) => {
  let s: TestServer;
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  const api = mlflowApi(() => s);
  /** One MLflow REST call: GET sends the input as a query, POST, PATCH and DELETE as a JSON body, as the clients do. */
  const call = (method: 'get' | 'post' | 'patch' | 'delete', path: string, input: Record<string, unknown> = {}, token = s.tokens.write, project = s.project) =>
    method === 'get' ? api.get(path, input as Record<string, string>, { token, project }) : api[method](path, input, { token, project });
  const ok = async (method: 'get' | 'post' | 'patch' | 'delete', path: string, input?: Record<string, unknown>) => {
    const res = await call(method, path, input);
    expect(res.status, `${path}: ${res.text}`).toBe(200);
    return res.body;
  };
  const bad = async (method: 'get' | 'post' | 'patch' | 'delete', path: string, input: Record<string, unknown>, status: number, error_code: string, message: string | RegExp) => {
    const res = await call(method, path, input);
    expect(res.status, res.text).toBe(status);
    expect(res.body.error_code).toBe(error_code);
    if (typeof message === 'string') expect(res.body.message).toBe(message);
    else expect(res.body.message).toMatch(message);
  };
  let runId: string;
  let artifactUri: string;

  beforeAll(async () => {
    s = await startServer(kind);
    const run = await ok('post', '/runs/create', { experiment_id: '0' });
    runId = run.run.info.run_id;
    artifactUri = run.run.info.artifact_uri;
  });
  afterAll(async () => s?.close());

  it('register_model: create the model, then versions 1, 2 from a run, READY at once', async () => {
    const created = await ok('post', '/registered-models/create', { name: 'churn' });
    expect(created.registered_model).toEqual({
      name: 'churn',
      creation_timestamp: expect.any(Number),
      last_updated_timestamp: created.registered_model.creation_timestamp,
    });
    await bad('post', '/registered-models/create', { name: 'churn' }, 400, 'RESOURCE_ALREADY_EXISTS', 'Registered Model (name=churn) already exists.');
    const source = `${artifactUri}/model`;
    const v1 = await ok('post', '/model-versions/create', { name: 'churn', source, run_id: runId });
    expect(v1.model_version).toEqual({
      name: 'churn', version: '1', creation_timestamp: expect.any(Number), last_updated_timestamp: v1.model_version.creation_timestamp,
      current_stage: 'None', description: '', source, run_id: runId, status: 'READY', run_link: '',
    });
    const v2 = await ok('post', '/model-versions/create', { name: 'churn', source, run_id: runId, tags: [{ key: 'framework', value: 'sklearn' }], description: 'second' });
    expect(v2.model_version).toMatchObject({ version: '2', description: 'second', tags: [{ key: 'framework', value: 'sklearn' }] });
    const got = await ok('get', '/model-versions/get', { name: 'churn', version: '2' });
    expect(got.model_version).toEqual(v2.model_version);
    // Python int(): " 1" and "01" are version 1; "1.0" and "abc" are not numbers
    expect((await ok('get', '/model-versions/get', { name: 'churn', version: '01' })).model_version.version).toBe('1');
    await bad('get', '/model-versions/get', { name: 'churn', version: '1.0' }, 400, 'INVALID_PARAMETER_VALUE', "Parameter 'version' must be an integer, got '1.0'.");
    await bad('get', '/model-versions/get', { name: 'churn', version: '9' }, 404, 'RESOURCE_DOES_NOT_EXIST', 'Model Version (name=churn, version=9) not found');
    await bad('post', '/model-versions/create', { name: 'nope', source }, 404, 'RESOURCE_DOES_NOT_EXIST', 'Registered Model with name=nope not found');
    await bad('post', '/model-versions/create', { name: 'churn' }, 400, 'INVALID_PARAMETER_VALUE', MISSING('source'));
    await bad('post', '/model-versions/create', { source }, 400, 'INVALID_PARAMETER_VALUE', MISSING('name'));
    await bad('post', '/model-versions/create', { name: 'churn', source: '/srv/models/m' }, 400, 'INVALID_PARAMETER_VALUE', /^Invalid model version source: '\/srv\/models\/m'\. To use a local path/);
    await bad('post', '/model-versions/create', { name: 'churn', source: 'mlflow-artifacts:/0/../x' }, 400, 'INVALID_PARAMETER_VALUE', /without relative path references/);
    await bad('post', '/model-versions/create', { name: 'churn', source: 's3://b/%252e%252e/x' }, 400, 'INVALID_PARAMETER_VALUE', /without relative path references/);
    // rejected creations left nothing: the next number is still 3
    expect((await ok('post', '/model-versions/create', { name: 'churn', source })).model_version.version).toBe('3');
  });

  it('registered-models/get carries the latest version per stage, tags and aliases', async () => {
    await ok('post', '/registered-models/set-tag', { name: 'churn', key: 'team', value: 'growth' });
    await ok('post', '/model-versions/transition-stage', { name: 'churn', version: '2', stage: 'production' });
    await ok('post', '/registered-models/alias', { name: 'churn', alias: 'champion', version: '2' });
    const m = (await ok('get', '/registered-models/get', { name: 'churn' })).registered_model;
    expect(m.tags).toEqual([{ key: 'team', value: 'growth' }]);
    expect(m.aliases).toEqual([{ alias: 'champion', version: '2' }]);
    // one per stage, in the order each stage first appears by ascending number (v1 None, then v2 Production)
    expect(m.latest_versions.map((v: any) => [v.version, v.current_stage])).toEqual([['3', 'None'], ['2', 'Production']]);
    // nested versions carry no aliases
    expect(m.latest_versions.every((v: any) => v.aliases === undefined)).toBe(true);
    await bad('get', '/registered-models/get', { name: 'nope' }, 404, 'RESOURCE_DOES_NOT_EXIST', 'Registered Model with name=nope not found');
    await bad('get', '/registered-models/get', {}, 400, 'INVALID_PARAMETER_VALUE', MISSING('name'));
  });

  it('get-latest-versions: POST and GET, stages case-insensitive, unknown stage refused', async () => {
    const all = await ok('post', '/registered-models/get-latest-versions', { name: 'churn' });
    expect(all.model_versions.map((v: any) => v.version)).toEqual(['3', '2']);
    expect(all.model_versions[1].aliases).toEqual(['champion']);
    const prod = await ok('post', '/registered-models/get-latest-versions', { name: 'churn', stages: ['PRODUCTION'] });
    expect(prod.model_versions.map((v: any) => v.version)).toEqual(['2']);
    const viaGet = (await call('get', '/registered-models/get-latest-versions', {}).query('name=churn&stages=None&stages=Archived')).body;
    expect(viaGet.model_versions.map((v: any) => v.version)).toEqual(['3']);
    expect(await ok('post', '/registered-models/get-latest-versions', { name: 'churn', stages: ['Archived'] })).toEqual({});
    await bad('post', '/registered-models/get-latest-versions', { name: 'churn', stages: ['bogus'] }, 400, 'INVALID_PARAMETER_VALUE',
      'Invalid Model Version stage: bogus. Value must be one of None, Staging, Production, Archived.');
  });

  it('aliases: set moves, get-by-alias, delete; reserved and malformed names refused', async () => {
    await ok('post', '/registered-models/alias', { name: 'churn', alias: 'champion', version: '3' });
    const byAlias = (await ok('get', '/registered-models/alias', { name: 'churn', alias: 'champion' })).model_version;
    expect(byAlias).toMatchObject({ version: '3', aliases: ['champion'] });
    expect((await ok('get', '/model-versions/get', { name: 'churn', version: '2' })).model_version.aliases).toBeUndefined();
    await bad('get', '/registered-models/alias', { name: 'churn', alias: 'ghost' }, 400, 'INVALID_PARAMETER_VALUE', 'Registered model alias ghost not found.');
    await bad('get', '/registered-models/alias', { name: 'nope', alias: 'champion' }, 404, 'RESOURCE_DOES_NOT_EXIST', 'Registered Model with name=nope not found');
    await bad('post', '/registered-models/alias', { name: 'churn', alias: 'latest', version: '1' }, 400, 'INVALID_PARAMETER_VALUE', "'latest' alias name (case insensitive) is reserved.");
    await bad('post', '/registered-models/alias', { name: 'churn', alias: 'v3', version: '1' }, 400, 'INVALID_PARAMETER_VALUE', "Version alias name 'v3' is reserved.");
    await bad('post', '/registered-models/alias', { name: 'churn', alias: 'a.b', version: '1' }, 400, 'INVALID_PARAMETER_VALUE',
      "Invalid alias name: 'a.b'. Names may only contain alphanumerics, underscores (_), and dashes (-).");
    await bad('post', '/registered-models/alias', { name: 'churn', alias: 'x', version: '99' }, 404, 'RESOURCE_DOES_NOT_EXIST', 'Model Version (name=churn, version=99) not found');
    // MLflow 3 resolves `latest` when no alias has that name: the first of the latest versions per stage
    expect((await ok('get', '/registered-models/alias', { name: 'churn', alias: 'Latest' })).model_version.version).toBe('3');
    await ok('delete', '/registered-models/alias', { name: 'churn', alias: 'champion' });
    await ok('delete', '/registered-models/alias', { name: 'churn', alias: 'champion' }); // a missing alias is a no-op
    expect((await ok('get', '/registered-models/get', { name: 'churn' })).registered_model.aliases).toBeUndefined();
  });

  it('versions: update, tags, transition with archive_existing_versions, soft delete that never reuses a number', async () => {
    const upd = (await ok('patch', '/model-versions/update', { name: 'churn', version: '1', description: 'first' })).model_version;
    expect(upd.description).toBe('first');
    // absent description → removed (MLflow stores NULL)
    expect((await ok('patch', '/model-versions/update', { name: 'churn', version: '1' })).model_version.description).toBeUndefined();
    await ok('post', '/model-versions/set-tag', { name: 'churn', version: '1', key: 'k', value: 'v' });
    expect((await ok('get', '/model-versions/get', { name: 'churn', version: '1' })).model_version.tags).toEqual([{ key: 'k', value: 'v' }]);
    await ok('delete', '/model-versions/delete-tag', { name: 'churn', version: '1', key: 'k' });
    await ok('delete', '/model-versions/delete-tag', { name: 'churn', version: '1', key: 'k' });
    expect((await ok('get', '/model-versions/get', { name: 'churn', version: '1' })).model_version.tags).toBeUndefined();

    await ok('post', '/model-versions/transition-stage', { name: 'churn', version: '3', stage: 'Production', archive_existing_versions: true });
    expect((await ok('get', '/model-versions/get', { name: 'churn', version: '2' })).model_version.current_stage).toBe('Archived');
    await bad('post', '/model-versions/transition-stage', { name: 'churn', version: '1', stage: 'Archived', archive_existing_versions: true }, 400,
      'INVALID_PARAMETER_VALUE', "Model version transition cannot archive existing model versions because 'Archived' is not an Active stage. Valid stages are ['Staging', 'Production']");

    await ok('post', '/registered-models/alias', { name: 'churn', alias: 'old', version: '3' });
    await ok('delete', '/model-versions/delete', { name: 'churn', version: '3' });
    await bad('get', '/model-versions/get', { name: 'churn', version: '3' }, 404, 'RESOURCE_DOES_NOT_EXIST', 'Model Version (name=churn, version=3) not found');
    await bad('delete', '/model-versions/delete', { name: 'churn', version: '3' }, 404, 'RESOURCE_DOES_NOT_EXIST', 'Model Version (name=churn, version=3) not found');
    // the alias went with the version, and the next version is 4, not 3
    expect((await ok('get', '/registered-models/get', { name: 'churn' })).registered_model.aliases).toBeUndefined();
    expect((await ok('post', '/model-versions/create', { name: 'churn', source: `${artifactUri}/model` })).model_version.version).toBe('4');
  });

  it('rename: versions follow, the old name is gone, a taken name is refused', async () => {
    await ok('post', '/registered-models/create', { name: 'taken' });
    await bad('post', '/registered-models/rename', { name: 'churn', new_name: 'taken' }, 400, 'RESOURCE_ALREADY_EXISTS', 'Registered Model (name=taken) already exists.');
    const r = (await ok('post', '/registered-models/rename', { name: 'churn', new_name: 'churn-v2' })).registered_model;
    expect(r.name).toBe('churn-v2');
    expect((await ok('get', '/model-versions/get', { name: 'churn-v2', version: '1' })).model_version.name).toBe('churn-v2');
    await bad('get', '/registered-models/get', { name: 'churn' }, 404, 'RESOURCE_DOES_NOT_EXIST', 'Registered Model with name=churn not found');
    const u = (await ok('patch', '/registered-models/update', { name: 'churn-v2', description: 'the churn model' })).registered_model;
    expect(u.description).toBe('the churn model');
    expect((await ok('patch', '/registered-models/update', { name: 'churn-v2' })).registered_model.description).toBeUndefined();
  });

  it('delete model: versions, tags and aliases go; the name starts afresh at version 1', async () => {
    await ok('post', '/registered-models/alias', { name: 'churn-v2', alias: 'prod', version: '1' });
    await ok('delete', '/registered-models/delete', { name: 'churn-v2' });
    await bad('delete', '/registered-models/delete', { name: 'churn-v2' }, 404, 'RESOURCE_DOES_NOT_EXIST', 'Registered Model with name=churn-v2 not found');
    // nothing is left that pointed at the deleted model
    const models = s.t.db('registered_models').select('id');
    for (const table of ['model_versions', 'registered_model_aliases', 'registered_model_tags']) {
      expect(await s.t.db(table).whereNotIn('model_id', models), table).toEqual([]);
    }
    expect(await s.t.db('model_version_tags').whereNotIn('version_id', s.t.db('model_versions').select('id'))).toEqual([]);
    await ok('post', '/registered-models/create', { name: 'churn-v2', tags: [{ key: 't', value: '1' }] });
    expect((await ok('post', '/model-versions/create', { name: 'churn-v2', source: `${artifactUri}/model` })).model_version.version).toBe('1');
    expect((await ok('get', '/registered-models/get', { name: 'churn-v2' })).registered_model.aliases).toBeUndefined();
  });

  it('models:/ URIs: get-download-uri of a version, an alias and latest, then the files through the artifact proxy', async () => {
    const A = `/api/v4/projects/${s.project.id}/ml/mlflow/api/2.0/mlflow-artifacts/artifacts`;
    const runRoot = artifactUri.replace(/^mlflow-artifacts:\//, '');
    const put = await s.request.put(`${A}/${runRoot}/served/MLmodel`).set(auth(s.tokens.write)).send(Buffer.from('flavors: {}\n'));
    expect(put.status).toBe(200);
    await ok('post', '/registered-models/create', { name: 'served' });
    await ok('post', '/model-versions/create', { name: 'served', source: `${artifactUri}/served`, run_id: runId });
    await ok('post', '/registered-models/alias', { name: 'served', alias: 'champion', version: '1' });
    // models:/served@champion → the alias' version → its download URI → the proxy serves the files
    const version = (await ok('get', '/registered-models/alias', { name: 'served', alias: 'champion' })).model_version.version;
    const { artifact_uri } = await ok('get', '/model-versions/get-download-uri', { name: 'served', version });
    expect(artifact_uri).toBe(`${artifactUri}/served`);
    const listing = await s.request.get(A).query({ path: artifact_uri.replace(/^mlflow-artifacts:\//, '') }).set(auth(s.tokens.read));
    expect(listing.body.files).toEqual([{ path: 'MLmodel', is_dir: false, file_size: 12 }]);
    const file = await s.request.get(`${A}/${artifact_uri.replace(/^mlflow-artifacts:\//, '')}/MLmodel`).set(auth(s.tokens.read));
    expect(file.status).toBe(200);
    expect(Buffer.isBuffer(file.body) ? file.body.toString() : file.text).toBe('flavors: {}\n');
    // a version created from models:/served/1 resolves its storage location at creation, as MLflow does
    await ok('post', '/registered-models/create', { name: 'copy' });
    const copy = (await ok('post', '/model-versions/create', { name: 'copy', source: 'models:/served/1', run_id: '' })).model_version;
    expect(copy.source).toBe('models:/served/1');
    expect((await ok('get', '/model-versions/get-download-uri', { name: 'copy', version: '1' })).artifact_uri).toBe(`${artifactUri}/served`);
    await bad('post', '/model-versions/create', { name: 'copy', source: 'models:/served/9' }, 404, 'RESOURCE_DOES_NOT_EXIST', 'Model Version (name=served, version=9) not found');
    await bad('get', '/model-versions/get-download-uri', { version: '1' }, 400, 'INVALID_PARAMETER_VALUE', "Missing value for required parameter 'name'.");
    // the other project's token sees nothing of it
    const foreign = await s.request.get(`${s.mlflow(s.another)}/registered-models/get`).query({ name: 'served' }).set(auth(s.tokens.write));
    expect(foreign.status).toBe(404);
  });

  it('MLflow 3: a version from a logged model (models:/m-…) takes its location and run, and is recorded on it', async () => {
    const lm = (await ok('post', '/logged-models', { experiment_id: '0', name: 'model', source_run_id: runId })).model.info;
    await ok('post', '/registered-models/create', { name: 'm3' });
    const v = (await ok('post', '/model-versions/create', { name: 'm3', source: `models:/${lm.model_id}`, model_id: lm.model_id })).model_version;
    expect(v).toMatchObject({ version: '1', source: `models:/${lm.model_id}`, run_id: runId, model_id: lm.model_id, status: 'READY' });
    expect((await ok('get', '/model-versions/get-download-uri', { name: 'm3', version: '1' })).artifact_uri).toBe(lm.artifact_uri);
    const tags = (await ok('get', `/logged-models/${lm.model_id}`)).model.info.tags;
    expect(tags).toContainEqual({ key: 'mlflow.modelVersions', value: '[{"name": "m3", "version": 1}]' });
  });

  it('names are per project; runs and logged models of another project are refused and nothing is written', async () => {
    expect((await call('post', '/registered-models/create', { name: 'churn-v2' }, s.tokens.write, s.another)).status).toBe(200);
    const otherRun = (await call('post', '/runs/create', { experiment_id: '0' }, s.tokens.write, s.another)).body.run.info.run_id;
    const before = await s.t.db('model_versions').count({ n: '*' }).first();
    await bad('post', '/model-versions/create', { name: 'churn-v2', source: 's3://b/m', run_id: otherRun }, 404, 'RESOURCE_DOES_NOT_EXIST', `Run with id=${otherRun} not found`);
    expect(await s.t.db('model_versions').count({ n: '*' }).first()).toEqual(before);
  });

  it('access: reporters and read_api tokens read but never write; strangers see nothing', async () => {
    expect((await call('get', '/registered-models/get', { name: 'churn-v2' }, s.tokens.reporter)).status).toBe(200);
    expect((await call('post', '/registered-models/create', { name: 'r' }, s.tokens.reporter)).status).toBe(403);
    expect((await call('post', '/registered-models/create', { name: 'r' }, s.tokens.read)).status).toBe(403);
    // get-latest-versions is a POST that only reads: models:/name/latest works with a read_api token
    expect((await call('post', '/registered-models/get-latest-versions', { name: 'churn-v2' }, s.tokens.read)).status).toBe(200);
    expect((await call('post', '/registered-models/alias', { name: 'churn-v2', alias: 'a', version: '1' }, s.tokens.read)).status).toBe(403);
    expect((await call('get', '/registered-models/get', { name: 'churn-v2' }, s.tokens.stranger)).status).toBe(404);
    expect(await s.t.db('registered_models').where({ name: 'r' }).first()).toBeUndefined();
  });

  it('8 concurrent version creations of one model get 1..8, no gap, no duplicate', async () => {
    await ok('post', '/registered-models/create', { name: 'race' });
    const res = await Promise.all(Array.from({ length: 8 }, () => call('post', '/model-versions/create', { name: 'race', source: 's3://b/m' })));
    expect(res.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(res.map((r) => Number(r.body.model_version.version)).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('concurrent alias moves: each answered, the alias ends on exactly one version', async () => {
    const res = await Promise.all(['1', '2', '3', '4', '5', '6', '7', '8'].map((version) =>
      call('post', '/registered-models/alias', { name: 'race', alias: 'champion', version })));
    expect(res.map((r) => r.status)).toEqual(Array(8).fill(200));
    const rows = await s.t.db('registered_model_aliases').where({ alias: 'champion' })
      .whereIn('model_id', s.t.db('registered_models').where({ name: 'race', project_id: s.project.id }).select('id'));
    expect(rows).toHaveLength(1);
    const m = (await ok('get', '/registered-models/get', { name: 'race' })).registered_model;
    expect(m.aliases).toEqual([{ alias: 'champion', version: String(rows[0].version) }]);
  });

  it('creating a version is a fixed number of statements, however many versions and tags the model has', async () => {
    const statements = (fn: () => Promise<unknown>) => sqlStatements(s.t.db, fn);
    await ok('post', '/registered-models/create', { name: 'fixed' });
    const tags = Array.from({ length: 40 }, (_, i) => ({ key: `t${i}`, value: 'v' }));
    const first = await statements(() => ok('post', '/model-versions/create', { name: 'fixed', source: 's3://b/m', tags }));
    for (let i = 0; i < 8; i++) await ok('post', '/model-versions/create', { name: 'fixed', source: 's3://b/m', tags });
    const tenth = await statements(() => ok('post', '/model-versions/create', { name: 'fixed', source: 's3://b/m', tags }));
    expect(tenth.length).toBe(first.length);
    // the write itself: model lookup, counter bump, counter read, version insert, one multi-row tag insert
    const writes = tenth.filter((q) => /^(insert|update)/i.test(q));
    expect(writes).toHaveLength(3);
    expect((await ok('get', '/model-versions/get', { name: 'fixed', version: '10' })).model_version.tags).toHaveLength(40);
  });

  it('replays the clients\' sequences: register_model (2.22 and 3.6), set alias, load models:/m@champion', async () => {
    const T = s.mlflow();
    const A = `/api/v4/projects/${s.project.id}/ml/mlflow/api/2.0/mlflow-artifacts/artifacts`;
    const h = auth(s.tokens.write);
    const run = (await s.request.post(`${T}/runs/create`).set(h).send({ experiment_id: '0' })).body.run.info;
    const root = run.artifact_uri.replace(/^mlflow-artifacts:\//, '');
    for (const f of ['MLmodel', 'python_model.pkl', 'requirements.txt']) {
      expect((await s.request.put(`${A}/${root}/model/${f}`).set(h).send(Buffer.from(`${f} bytes`))).status).toBe(200);
    }
    // 2.22: create (or reuse), runs/get with both ids, model-versions/create
    expect((await s.request.post(`${T}/registered-models/create`).set(h).send({ name: 'seq' })).status).toBe(200);
    const again = await s.request.post(`${T}/registered-models/create`).set(h).send({ name: 'seq' });
    expect(again.body.error_code).toBe('RESOURCE_ALREADY_EXISTS'); // the client reuses the model
    expect((await s.request.get(`${T}/runs/get`).query({ run_uuid: run.run_id, run_id: run.run_id }).set(h)).status).toBe(200);
    const mv = await s.request.post(`${T}/model-versions/create`).set(h).send({ name: 'seq', source: `${run.artifact_uri}/model`, run_id: run.run_id });
    expect(mv.body.model_version).toMatchObject({ version: '1', status: 'READY' });
    // 3.6: the listing says it is a model directory, then the same create
    const listing = await s.request.get(A).query({ path: `${root}/model` }).set(h);
    expect(listing.body.files.map((f: { path: string }) => f.path)).toContain('MLmodel');
    // set_registered_model_alias: pre-flight GET, then POST
    expect((await s.request.get(`${T}/registered-models/get`).query({ name: 'seq' }).set(h)).status).toBe(200);
    expect((await s.request.post(`${T}/registered-models/alias`).set(h).send({ name: 'seq', alias: 'champion', version: '1' })).body).toEqual({});
    // load_model("models:/seq@champion") with a read-only token: alias → pre-flight → download URI → list → files
    const r = auth(s.tokens.read);
    const byAlias = (await s.request.get(`${T}/registered-models/alias`).query({ name: 'seq', alias: 'champion' }).set(r)).body.model_version;
    expect((await s.request.get(`${T}/registered-models/get`).query({ name: 'seq' }).set(r)).status).toBe(200);
    const uri = (await s.request.get(`${T}/model-versions/get-download-uri`).query({ name: 'seq', version: byAlias.version }).set(r)).body.artifact_uri;
    const path = uri.replace(/^mlflow-artifacts:\//, '');
    const files = (await s.request.get(A).query({ path }).set(r)).body.files.map((f: { path: string }) => f.path).sort();
    expect(files).toEqual(['MLmodel', 'python_model.pkl', 'requirements.txt']);
    const got = await s.request.get(`${A}/${path}/python_model.pkl`).set(r).buffer(true).parse((res, cb) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    expect(got.body.toString()).toBe('python_model.pkl bytes');
    // models:/seq/latest: POST get-latest-versions (all stages), highest version
    const latest = (await s.request.post(`${T}/registered-models/get-latest-versions`).set(r).send({ name: 'seq' })).body.model_versions;
    expect(latest.map((v: { version: string }) => v.version)).toEqual(['1']);
    // the same API at the root mount and as a typed procedure
    const adm = auth(s.tokens.admin);
    expect((await s.request.post('/api/2.0/mlflow/registered-models/create').set(adm).send({ name: 'at-root' })).status).toBe(200);
    expect((await s.request.get('/api/2.0/mlflow/registered-models/get').query({ name: 'at-root' }).set(adm)).body.registered_model.name).toBe('at-root');
    expect((await s.request.get(`${T}/registered-models/get`).query({ name: 'at-root' }).set(h)).status).toBe(404);
    const typed = createMltrackClient({ url: s.baseUrl, token: s.tokens.read, project: s.project.id, batch: false });
    const viaTrpc = await typed.modelVersions.get.query({ name: 'seq', version: '1' });
    expect(viaTrpc.model_version).toMatchObject({ name: 'seq', version: '1', aliases: ['champion'], status: 'READY' });
  });

  it('GitLab semantic versions: models:/name@1.2.0 finds the version tagged gitlab.version = 1.2.0', async () => {
    await ok('post', '/registered-models/create', { name: 'semver' });
    await ok('post', '/model-versions/create', { name: 'semver', source: 's3://b/1', tags: [{ key: 'gitlab.version', value: '1.0.0' }] });
    await ok('post', '/model-versions/create', { name: 'semver', source: 's3://b/2', tags: [{ key: 'gitlab.version', value: '1.2.0' }] });
    const v = (await ok('get', '/registered-models/alias', { name: 'semver', alias: '1.2.0' })).model_version;
    expect(v).toMatchObject({ version: '2', source: 's3://b/2' });
    await bad('get', '/registered-models/alias', { name: 'semver', alias: '9.9.9' }, 400, 'INVALID_PARAMETER_VALUE', 'Registered model alias 9.9.9 not found.');
    // anything else with a dot is still no alias name
    await bad('get', '/registered-models/alias', { name: 'semver', alias: '1.2' }, 400, 'INVALID_PARAMETER_VALUE',
      "Invalid alias name: '1.2'. Names may only contain alphanumerics, underscores (_), and dashes (-).");
  });
});
