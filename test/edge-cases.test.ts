import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi } from './helpers/mlflow.ts';

/** Requests with no count limit in MLflow, and keys that differ only by a trailing space. */
describe.each(DB_KINDS)('edge cases (%s)', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(kind);
  });
  afterAll(async () => s?.close());

  const api = mlflowApi(() => s);
  const send = (method: 'post' | 'patch', path: string, body: object) => api[method](path, body);
  const many = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => ({ key: `${prefix}${i}`, value: `v${i}` }));

  it('600 tags on runs/create and experiments/create, 600 tags and params on a logged model: all stored (SQLite caps one insert at 500 rows)', async () => {
    const exp = await send('post', '/experiments/create', { name: 'many tags', tags: many(600, 'e') });
    expect(exp.status, JSON.stringify(exp.body)).toBe(200);
    const got = await api.get('/experiments/get', { experiment_id: exp.body.experiment_id });
    expect(got.body.experiment.tags).toHaveLength(600);

    const run = await send('post', '/runs/create', { experiment_id: exp.body.experiment_id, tags: many(600, 't') });
    expect(run.status, JSON.stringify(run.body)).toBe(200);
    expect(run.body.run.data.tags).toHaveLength(601); // + mlflow.runName

    const model = await send('post', '/logged-models', { experiment_id: exp.body.experiment_id, name: 'm', tags: many(600, 't'), params: many(600, 'p') });
    expect(model.status, JSON.stringify(model.body)).toBe(200);
    const id = model.body.model.info.model_id;
    const more = await send('post', `/logged-models/${id}/params`, { params: many(600, 'q') });
    expect(more.status, JSON.stringify(more.body)).toBe(200);
    const tags = await send('patch', `/logged-models/${id}/tags`, { tags: many(600, 'u') });
    expect(tags.status, JSON.stringify(tags.body)).toBe(200);
    const m = await api.get(`/logged-models/${id}`);
    expect(m.body.model.info.tags).toHaveLength(1200);
    expect(m.body.model.data.params).toHaveLength(1200);
  });

  it('logged-model tag and param keys that differ by a trailing space are distinct (binary NO PAD collation)', async () => {
    const model = await send('post', '/logged-models', { experiment_id: '0', name: 'pad', tags: [{ key: 'k', value: 'a' }, { key: 'k ', value: 'b' }] });
    expect(model.status, JSON.stringify(model.body)).toBe(200);
    const id = model.body.model.info.model_id;
    const p = await send('post', `/logged-models/${id}/params`, { params: [{ key: 'p', value: '1' }, { key: 'p ', value: '2' }] });
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    const m = await api.get(`/logged-models/${id}`);
    const byKey = (l: { key: string; value: string }[]) => Object.fromEntries(l.map((x) => [x.key, x.value]));
    expect(byKey(m.body.model.info.tags)).toEqual({ k: 'a', 'k ': 'b' });
    expect(byKey(m.body.model.data.params)).toEqual({ p: '1', 'p ': '2' });
  });

  it('logged-model search compares strings as run search does: LIKE escapes, exact case, status by wire name', async () => {
    const { experiment_id } = (await send('post', '/experiments/create', { name: 'model search' })).body;
    const make = async (name: string, u: string) =>
      (await send('post', '/logged-models', { experiment_id, name, tags: [{ key: 'u', value: u }] })).body.model.info.model_id;
    await make('exact', 'a_b');
    await make('wild', 'axb');
    await make('upper', 'A_B');
    const names = async (filter: string) => {
      const res = await send('post', '/logged-models/search', { experiment_ids: [experiment_id], filter });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return (res.body.models ?? []).map((m: any) => m.info.name).sort();
    };
    expect(await names("tags.u LIKE 'a\\_b'")).toEqual(['exact']);
    expect(await names("tags.u LIKE 'a_b'")).toEqual(['exact', 'wild']);
    expect(await names("tags.u ILIKE 'a\\_b'")).toEqual(['exact', 'upper']);
    expect(await names("tags.u = 'a_b'")).toEqual(['exact']);
    expect(await names("status LIKE 'LOGGED_MODEL_%'")).toEqual(['exact', 'upper', 'wild']);
    expect(await names("status = 'LOGGED_MODEL_PENDING'")).toEqual(['exact', 'upper', 'wild']);
  });
});
