import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { createMltrackClient } from '../client/index.ts';

const MODEL_ID = /^m-[0-9a-f]{32}$/;

describe.each(DB_KINDS)('MLflow 3 logged models (%s)', (kind) => {
  let s: TestServer;
  let exp: string;
  let run: string;
  let B: string;
  let A: string;

  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  const call = (method: 'get' | 'post' | 'patch' | 'delete', p: string, body?: object, token = s.tokens.write, base = B) => {
    const r = s.request[method](base + p).set(auth(token));
    if (method === 'get') return body ? r.query(body) : r;
    return body ? r.send(body) : r;
  };

  beforeAll(async () => {
    s = await startServer(kind);
    B = s.mlflow(s.project);
    A = `/api/v4/projects/${s.project.id}/ml/mlflow/api/2.0/mlflow-artifacts`;
    exp = (await call('post', '/experiments/create', { name: 'models' })).body.experiment_id;
    run = (await call('post', '/runs/create', { experiment_id: exp })).body.run.info.run_id;
  });
  afterAll(async () => s?.close());

  it('create → get → set tags → log params → finalize READY → search → delete', async () => {
    const c = await call('post', '/logged-models', {
      experiment_id: exp,
      name: 'my-model',
      model_type: 'sklearn',
      source_run_id: run,
      tags: [{ key: 'mlflow.user', value: 'dev' }, { key: 'b', value: '1' }],
      params: [{ key: 'alpha', value: '0.5' }],
    });
    expect(c.status).toBe(200);
    const m = c.body.model;
    const id: string = m.info.model_id;
    expect(id).toMatch(MODEL_ID);
    expect(m).toEqual({
      info: {
        model_id: id,
        experiment_id: exp,
        name: 'my-model',
        creation_timestamp_ms: m.info.creation_timestamp_ms,
        last_updated_timestamp_ms: m.info.creation_timestamp_ms,
        artifact_uri: `mlflow-artifacts:/${exp}/models/${id}/artifacts`,
        status: 'LOGGED_MODEL_PENDING',
        model_type: 'sklearn',
        source_run_id: run,
        tags: [{ key: 'b', value: '1' }, { key: 'mlflow.user', value: 'dev' }],
      },
      data: { params: [{ key: 'alpha', value: '0.5' }] },
    });
    expect(Math.abs(m.info.creation_timestamp_ms - Date.now())).toBeLessThan(60_000);

    const g = await call('get', `/logged-models/${id}`);
    expect(g.status).toBe(200);
    expect(g.body).toEqual(c.body);

    const t = await call('patch', `/logged-models/${id}/tags`, { model_id: id, tags: [{ key: 'b', value: '2' }, { key: 'c', value: '' }] });
    expect(t.status).toBe(200);
    expect(t.body).toEqual({});
    const dt = await call('delete', `/logged-models/${id}/tags/mlflow.user`, { model_id: id, tag_key: 'mlflow.user' });
    expect(dt.status).toBe(200);
    expect(dt.body).toEqual({});
    const dt2 = await call('delete', `/logged-models/${id}/tags/mlflow.user`);
    expect(dt2.status).toBe(404);
    expect(dt2.body.error_code).toBe('RESOURCE_DOES_NOT_EXIST');

    const p = await call('post', `/logged-models/${id}/params`, { model_id: id, params: [{ key: 'beta', value: 'x' }, { key: 'alpha', value: '0.5' }] });
    expect(p.status).toBe(200);
    expect(p.body).toEqual({});
    const p2 = await call('post', `/logged-models/${id}/params`, { params: [{ key: 'gamma', value: '1' }, { key: 'alpha', value: '0.7' }] });
    expect(p2.status).toBe(400);
    expect(p2.body.message).toMatch(/Changing param values is not allowed/);

    const after = (await call('get', `/logged-models/${id}`)).body.model;
    expect(after.info.tags).toEqual([{ key: 'b', value: '2' }, { key: 'c', value: '' }]);
    expect(after.data.params).toEqual([{ key: 'alpha', value: '0.5' }, { key: 'beta', value: 'x' }]); // gamma not written

    const f = await call('patch', `/logged-models/${id}`, { model_id: id, status: 'LOGGED_MODEL_READY' });
    expect(f.status).toBe(200);
    expect(f.body.model.info.status).toBe('LOGGED_MODEL_READY');
    expect(f.body.model.info.last_updated_timestamp_ms).toBeGreaterThan(f.body.model.info.creation_timestamp_ms);
    expect(f.body.model.info.creation_timestamp_ms).toBe(m.info.creation_timestamp_ms);

    const sr = await call('post', '/logged-models/search', { experiment_ids: [exp] });
    expect(sr.status).toBe(200);
    expect(sr.body).toEqual({ models: [f.body.model] });

    const d = await call('delete', `/logged-models/${id}`, { model_id: id });
    expect(d.status).toBe(200);
    expect(d.body).toEqual({});
    expect((await call('get', `/logged-models/${id}`)).body).toEqual({
      error_code: 'RESOURCE_DOES_NOT_EXIST',
      message: `Logged model with ID '${id}' not found.`,
    });
    const deleted = await call('get', `/logged-models/${id}`, { allow_deleted: 'true' });
    expect(deleted.status).toBe(200);
    expect(deleted.body.model.info.model_id).toBe(id);
    expect((await call('post', '/logged-models/search', { experiment_ids: [exp] })).body).toEqual({});
    expect((await call('delete', `/logged-models/${id}`)).status).toBe(404);
  });

  it('generates names, accepts status numbers and short names, validates input', async () => {
    const c = await call('post', '/logged-models', { experiment_id: Number(exp) });
    expect(c.status).toBe(200);
    expect(c.body.model.info.name).toMatch(/^[a-z]+-[a-z]+-\d+$/);
    expect(c.body.model.data).toEqual({});
    expect(c.body.model.info.tags).toBeUndefined();
    expect(c.body.model.info.model_type).toBeUndefined();
    expect(c.body.model.info.source_run_id).toBeUndefined();
    const id = c.body.model.info.model_id;
    expect((await call('patch', `/logged-models/${id}`, { status: 3 })).body.model.info.status).toBe('LOGGED_MODEL_UPLOAD_FAILED');
    expect((await call('patch', `/logged-models/${id}`, { status: 'READY' })).body.model.info.status).toBe('LOGGED_MODEL_READY');
    const badStatus = await call('patch', `/logged-models/${id}`, { status: 'DONE' });
    expect(badStatus.status).toBe(400);
    const noStatus = await call('patch', `/logged-models/${id}`, {});
    expect(noStatus.status).toBe(400);
    expect(noStatus.body.message).toMatch(/Missing value for required parameter 'status'/);

    const noExp = await call('post', '/logged-models', { name: 'x' });
    expect(noExp.status).toBe(400);
    expect(noExp.body.message).toMatch(/Missing value for required parameter 'experiment_id'/);
    const unknownExp = await call('post', '/logged-models', { experiment_id: '4242' });
    expect(unknownExp.status).toBe(404);
    expect(unknownExp.body).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'No Experiment with id=4242 exists' });
    for (const name of ['my/model', 'my.model', 'my:model', 'my%model', "my'model", 'my"model']) {
      const r = await call('post', '/logged-models', { experiment_id: exp, name });
      expect(r.status, name).toBe(400);
      expect(r.body.message, name).toMatch(/^Invalid model name/);
    }
    const badParam = await call('post', '/logged-models', { experiment_id: exp, params: [{ key: 'a'.repeat(251), value: 'b' }] });
    expect(badParam.status).toBe(400);
    expect(badParam.body.message).toMatch(/exceeds the maximum length/);
    const badTag = await call('post', '/logged-models', { experiment_id: exp, tags: [{ key: 'a!b', value: 'c' }] });
    expect(badTag.status).toBe(400);
    expect(badTag.body.message).toMatch(/Names may only contain alphanumerics/);
    const badRun = await call('post', '/logged-models', { experiment_id: exp, source_run_id: '../x' });
    expect(badRun.status).toBe(400);
    expect((await call('get', '/logged-models/m-nope')).status).toBe(404);

    const deletedExp = (await call('post', '/experiments/create', { name: 'gone' })).body.experiment_id;
    await call('post', '/experiments/delete', { experiment_id: deletedExp });
    const onDeleted = await call('post', '/logged-models', { experiment_id: deletedExp });
    expect(onDeleted.status).toBe(400);
    expect(onDeleted.body.message).toBe(`Could not create model under non-active experiment with ID ${deletedExp}.`);
  });

  it('searches by experiment, with the supported filter subset, ordering and pages', async () => {
    const e = (await call('post', '/experiments/create', { name: 'search-models' })).body.experiment_id;
    const ids: string[] = [];
    for (const [name, type, alpha] of [['alpha-one', 'sk', '1'], ['beta-two', 'torch', '2'], ['gamma-three', 'sk', '3']] as const) {
      const r = await call('post', '/logged-models', {
        experiment_id: e, name, model_type: type, params: [{ key: 'alpha', value: alpha }], tags: [{ key: 'team', value: name.split('-')[0]! }],
      });
      ids.push(r.body.model.info.model_id);
      await new Promise((res) => setTimeout(res, 3));
    }
    await call('patch', `/logged-models/${ids[1]}`, { status: 'LOGGED_MODEL_READY' });
    const names = async (body: object) => {
      const r = await call('post', '/logged-models/search', { experiment_ids: [e], ...body });
      expect(r.status, JSON.stringify(body) + JSON.stringify(r.body)).toBe(200);
      return (r.body.models ?? []).map((m: { info: { name: string } }) => m.info.name);
    };
    expect(await names({})).toEqual(['gamma-three', 'beta-two', 'alpha-one']); // newest first
    expect(await names({ filter: "name = 'beta-two'" })).toEqual(['beta-two']);
    expect(await names({ filter: "name != 'beta-two'" })).toEqual(['gamma-three', 'alpha-one']);
    expect(await names({ filter: "name LIKE '%a-%'" })).toEqual(['gamma-three', 'beta-two', 'alpha-one']);
    expect(await names({ filter: "name LIKE 'ALPHA%'" })).toEqual([]);
    expect(await names({ filter: "name ILIKE 'ALPHA%'" })).toEqual(['alpha-one']);
    expect(await names({ filter: "model_type = 'sk' AND params.alpha = '3'" })).toEqual(['gamma-three']);
    expect(await names({ filter: "status = 'READY'" })).toEqual(['beta-two']);
    expect(await names({ filter: "status = 'LOGGED_MODEL_PENDING'" })).toEqual(['gamma-three', 'alpha-one']);
    expect(await names({ filter: 'tags.`team` = "alpha"' })).toEqual(['alpha-one']);
    expect(await names({ filter: "tags.team != 'alpha'" })).toEqual(['gamma-three', 'beta-two']);
    expect(await names({ filter: `model_id = '${ids[0]}'` })).toEqual(['alpha-one']);
    const created = (await call('get', `/logged-models/${ids[1]}`)).body.model.info.creation_timestamp_ms;
    expect(await names({ filter: `creation_timestamp >= ${created}` })).toEqual(['gamma-three', 'beta-two']);
    expect(await names({ filter: `attributes.creation_time < ${created}` })).toEqual(['alpha-one']);
    expect(await names({ order_by: [{ field_name: 'name', ascending: true }] })).toEqual(['alpha-one', 'beta-two', 'gamma-three']);
    expect(await names({ order_by: [{ field_name: 'model_type', ascending: false }, { field_name: 'name' }] })).toEqual([
      'beta-two', 'alpha-one', 'gamma-three',
    ]);
    // unknown experiment ids are ignored
    expect(await names({ experiment_ids: [e, '4242', 'abc'] })).toEqual(['gamma-three', 'beta-two', 'alpha-one']);

    // pages of one
    const seen: string[] = [];
    let token: string | undefined;
    for (let i = 0; i < 5; i++) {
      const r = await call('post', '/logged-models/search', { experiment_ids: [e], max_results: 1, ...(token ? { page_token: token } : {}) });
      seen.push(...r.body.models.map((m: { info: { name: string } }) => m.info.name));
      token = r.body.next_page_token;
      if (!token) break;
    }
    expect(seen).toEqual(['gamma-three', 'beta-two', 'alpha-one']);

    for (const [body, msg] of [
      [{}, /Missing value for required parameter 'experiment_ids'/],
      [{ experiment_ids: [e], filter: 'metrics.acc > 0.9' }, /metrics/],
      [{ experiment_ids: [e], filter: "artifact_location = 'x'" }, /Invalid attribute key 'artifact_location'/],
      [{ experiment_ids: [e], filter: "name = 'a' OR name = 'b'" }, /AND/],
      [{ experiment_ids: [e], filter: 'name = ' }, /Invalid filter string/],
      [{ experiment_ids: [e], order_by: [{ field_name: 'params.x' }] }, /Invalid order by field name: params/],
      [{ experiment_ids: [e], order_by: [{}] }, /field_name/],
      [{ experiment_ids: [e], page_token: 'not a token' }, /Invalid page token/],
      [{ experiment_ids: [e], max_results: 0 }, /max_results/],
    ] as [object, RegExp][]) {
      const r = await call('post', '/logged-models/search', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error_code).toBe('INVALID_PARAMETER_VALUE');
      expect(r.body.message).toMatch(msg);
    }
  });

  it('serves artifacts uploaded to the model location, listable both ways', async () => {
    const m = (await call('post', '/logged-models', { experiment_id: exp, name: 'with-files', source_run_id: run })).body.model.info;
    const root = `${exp}/models/${m.model_id}/artifacts`;
    expect(m.artifact_uri).toBe(`mlflow-artifacts:/${root}`);
    const files: [string, string][] = [['MLmodel', 'flavors: {}\n'], ['model.pkl', 'pickle'], ['env/requirements.txt', 'numpy\n']];
    for (const [p, body] of files) {
      const r = await s.request.put(`${A}/artifacts/${root}/${p}`).set(auth(s.tokens.write)).set('Content-Type', 'application/octet-stream').send(Buffer.from(body));
      expect(r.status, p).toBe(200);
    }
    const l = await s.request.get(`${A}/artifacts`).query({ path: root }).set(auth(s.tokens.write));
    expect(l.body).toEqual({
      files: [
        { path: 'MLmodel', is_dir: false, file_size: 12 },
        { path: 'env', is_dir: true },
        { path: 'model.pkl', is_dir: false, file_size: 6 },
      ],
    });
    const la = await call('get', `/logged-models/${m.model_id}/artifacts/directories`, { artifact_directory_path: 'env' });
    expect(la.body).toEqual({ root_uri: m.artifact_uri, files: [{ path: 'env/requirements.txt', is_dir: false, file_size: 6 }] });
    const g = await s.request.get(`${A}/artifacts/${root}/MLmodel`).set(auth(s.tokens.write));
    expect(g.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(g.text).toBe('flavors: {}\n');
    // a model id that doesn't exist (or is another project's) gives no write access
    const other = (await call('post', '/experiments/create', { name: 'x' }, s.tokens.write, s.mlflow(s.another))).body.experiment_id;
    const om = (await call('post', '/logged-models', { experiment_id: other }, s.tokens.write, s.mlflow(s.another))).body.model.info.model_id;
    const planted = await s.request.put(`${A}/artifacts/${other}/models/${om}/artifacts/x.txt`).set(auth(s.tokens.write)).send(Buffer.from('x'));
    expect(planted.status).toBe(404);
    expect(planted.body.message).toBe(`Logged model with ID '${om}' not found.`);
  });

  it('applies the project access rules', async () => {
    const m = (await call('post', '/logged-models', { experiment_id: exp, name: 'acl' })).body.model.info.model_id;
    expect((await call('get', `/logged-models/${m}`, undefined, s.tokens.read)).status).toBe(200);
    expect((await call('get', `/logged-models/${m}`, undefined, s.tokens.guest)).status).toBe(200);
    for (const token of [s.tokens.read, s.tokens.reporter]) {
      expect((await call('post', '/logged-models', { experiment_id: exp }, token)).status).toBe(403);
      expect((await call('patch', `/logged-models/${m}`, { status: 'LOGGED_MODEL_READY' }, token)).status).toBe(403);
      expect((await call('patch', `/logged-models/${m}/tags`, { tags: [{ key: 'a', value: 'b' }] }, token)).status).toBe(403);
      expect((await call('delete', `/logged-models/${m}`, undefined, token)).status).toBe(403);
    }
    expect((await call('get', `/logged-models/${m}`, undefined, s.tokens.stranger)).status).toBe(404);
    // another project cannot see the model, even with the same token
    const nf = await call('get', `/logged-models/${m}`, undefined, s.tokens.write, s.mlflow(s.another));
    expect(nf.status).toBe(404);
    expect(nf.body.message).toBe(`Logged model with ID '${m}' not found.`);
    expect((await call('post', '/logged-models/search', { experiment_ids: [exp] }, s.tokens.write, s.mlflow(s.another))).body.models ?? []).not.toContainEqual(
      expect.objectContaining({ info: expect.objectContaining({ model_id: m }) }),
    );
  });

  it('works through the typed tRPC client and appears in the OpenAPI document', async () => {
    const c = createMltrackClient({ url: s.baseUrl, token: s.tokens.write, project: s.project.id });
    const { model } = await c.loggedModels.create.mutate({ experiment_id: exp, name: 'typed' });
    expect(model.info.model_id).toMatch(MODEL_ID);
    const got = await c.loggedModels.get.query({ model_id: model.info.model_id });
    expect(got.model.info.name).toBe('typed');
    await c.loggedModels.delete.mutate({ model_id: model.info.model_id });
    const gone = await c.loggedModels.get.query({ model_id: model.info.model_id }).catch((e) => e);
    expect(gone.data.mlflow.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    // a JSON boolean from the typed client, as 'true' is on a REST query string
    const deleted = await c.loggedModels.get.query({ model_id: model.info.model_id, allow_deleted: true });
    expect(deleted.model.info.name).toBe('typed');
    const viaRest = await s.request
      .get(s.mlflow() + `/logged-models/${model.info.model_id}`)
      .set('Authorization', `Bearer ${s.tokens.write}`)
      .query({ allow_deleted: 'TRUE' });
    expect(viaRest.status).toBe(200);
    const listed = await c.artifacts.list.query({ run_id: run });
    expect(listed.root_uri).toBe(`mlflow-artifacts:/${exp}/${run}/artifacts`);
    const doc = (await s.request.get('/openapi.json')).body;
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/logged-models', '/logged-models/{model_id}', '/logged-models/{model_id}/tags/{tag_key}', '/artifacts/list']),
    );
  });
});
