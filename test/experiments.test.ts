import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi } from './helpers/mlflow.ts';

/**
 * experiments/get, get-by-name, list and create over real HTTP (GitLab 15.6's experiment endpoints, MLflow's
 * behaviour where the two differ).
 */

type Project = { id: number; path: string };

const MISSING = (name: string) =>
  `Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`;

describe.each(DB_KINDS)('experiments API (%s)', (kind) => {
  let s: TestServer;
  let seq = 0;

  beforeAll(async () => {
    s = await startServer(kind);
  });
  afterAll(async () => s?.close());

  const freshProject = (): Promise<Project> => s.developerProject(`exp/p${++seq}`);

  const api = mlflowApi(() => s);
  const post = (p: Project | string, path: string, body: unknown) => api.post(path, body, { project: p });
  const get = (p: Project | string, path: string, query: Record<string, string> = {}) => api.get(path, query, { project: p });
  const create = (p: Project, name: string, extra: Record<string, unknown> = {}) => api.newExperiment(name, { project: p }, extra);

  describe('experiments/create', () => {
    it('returns 200 with the per-project number as a string, starting at 1', async () => {
      const p = await freshProject();
      const res = await post(p, '/experiments/create', { name: 'first' });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({ experiment_id: '1' });
      expect(await create(p, 'second')).toBe('2');
      expect(await create(p, 'third')).toBe('3');
    });

    it('stores exactly what experiments/get returns: name, artifact location, stage, times, tags', async () => {
      const p = await freshProject();
      const before = Date.now();
      const id = await create(p, 'with tags', { tags: [{ key: 'b', value: '2' }, { key: 'a', value: '1' }] });
      const after = Date.now();
      const res = await get(p, '/experiments/get', { experiment_id: id });
      expect(res.status).toBe(200);
      const e = res.body.experiment;
      expect(res.body).toEqual({
        experiment: {
          experiment_id: '1',
          name: 'with tags',
          artifact_location: 'mlflow-artifacts:/1',
          lifecycle_stage: 'active',
          last_update_time: e.last_update_time,
          creation_time: e.creation_time,
          tags: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }],
        },
      });
      expect(typeof e.creation_time).toBe('number');
      expect(typeof e.last_update_time).toBe('number');
      expect(e.creation_time).toBeGreaterThanOrEqual(before);
      expect(e.creation_time).toBeLessThanOrEqual(after);
      expect(e.last_update_time).toBe(e.creation_time);
    });

    it('omits tags when there are none, and keeps a client artifact_location', async () => {
      const p = await freshProject();
      const id = await create(p, 'plain');
      const plain = (await get(p, '/experiments/get', { experiment_id: id })).body.experiment;
      expect(Object.keys(plain).sort()).toEqual(['artifact_location', 'creation_time', 'experiment_id', 'last_update_time', 'lifecycle_stage', 'name']);
      const id2 = await create(p, 'located', { artifact_location: 's3://bucket/path' });
      expect((await get(p, '/experiments/get', { experiment_id: id2 })).body.experiment.artifact_location).toBe('s3://bucket/path');
    });

    it('missing or empty name → 400 with MLflow\'s message', async () => {
      const p = await freshProject();
      for (const body of [{}, { name: '' }, { artifact_location: 'x' }]) {
        const res = await post(p, '/experiments/create', body);
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: MISSING('name') });
      }
      // nothing was created, and the counter did not move
      expect(await create(p, 'after errors')).toBe('1');
    });

    it('a name of a wrong type → 400, not 500', async () => {
      const p = await freshProject();
      const res = await post(p, '/experiments/create', { name: { x: 1 } });
      expect(res.status).toBe(400);
      expect(res.body.error_code).toBe('INVALID_PARAMETER_VALUE');
      expect(res.body.message).toContain("'name'");
    });

    it('duplicate name → 400 RESOURCE_ALREADY_EXISTS; the number is not used up', async () => {
      const p = await freshProject();
      expect(await create(p, 'dup')).toBe('1');
      const res = await post(p, '/experiments/create', { name: 'dup' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error_code: 'RESOURCE_ALREADY_EXISTS', message: 'Experiment(name=dup) already exists.' });
      const dflt = await post(p, '/experiments/create', { name: 'Default' });
      expect(dflt.status).toBe(400);
      expect(dflt.body.error_code).toBe('RESOURCE_ALREADY_EXISTS');
      expect(await create(p, 'next')).toBe('2');
    });

    it('names of 500 characters are accepted, 501 are refused (code points, not UTF-16 units)', async () => {
      const p = await freshProject();
      const n500 = 'n'.repeat(500);
      const id = await create(p, n500);
      expect((await get(p, '/experiments/get', { experiment_id: id })).body.experiment.name).toBe(n500);
      const emoji500 = '🧪'.repeat(500); // 1000 UTF-16 units, 500 code points, 2000 bytes of utf8mb4
      const id2 = await create(p, emoji500);
      expect((await get(p, '/experiments/get-by-name', { experiment_name: emoji500 })).body.experiment.experiment_id).toBe(id2);

      for (const name of ['n'.repeat(501), '🧪'.repeat(501)]) {
        const res = await post(p, '/experiments/create', { name });
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: "'name' exceeds the maximum length of 500 characters" });
      }
    });

    it('names that differ only in case or trailing space are different experiments', async () => {
      const p = await freshProject();
      const names = ['Exp', 'exp', 'EXP', 'exp ', 'exp  ', ' exp', 'éxp', 'e\u0301xp'];
      const ids: string[] = [];
      for (const n of names) ids.push(await create(p, n));
      expect(ids).toEqual(['1', '2', '3', '4', '5', '6', '7', '8']);
      for (let i = 0; i < names.length; i++) {
        const res = await get(p, '/experiments/get-by-name', { experiment_name: names[i]! });
        expect(res.status).toBe(200);
        expect(res.body.experiment.experiment_id).toBe(ids[i]);
        expect(res.body.experiment.name).toBe(names[i]);
      }
      const dup = await post(p, '/experiments/create', { name: 'exp ' });
      expect(dup.body.error_code).toBe('RESOURCE_ALREADY_EXISTS');
    });

    it('ignores unknown fields', async () => {
      const p = await freshProject();
      const res = await post(p, '/experiments/create', { name: 'extra', colour: 'blue', experiment_id: '77' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ experiment_id: '1' });
    });
  });

  describe('experiments/get', () => {
    it('returns the Default experiment "0" of every project', async () => {
      const p = await freshProject();
      const res = await get(p, '/experiments/get', { experiment_id: '0' });
      expect(res.status).toBe(200);
      expect(res.body.experiment).toMatchObject({
        experiment_id: '0',
        name: 'Default',
        artifact_location: 'mlflow-artifacts:/0',
        lifecycle_stage: 'active',
      });
    });

    it('unknown id → 404 RESOURCE_DOES_NOT_EXIST', async () => {
      const p = await freshProject();
      const res = await get(p, '/experiments/get', { experiment_id: '42' });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'No Experiment with id=42 exists' });
    });

    it('non-numeric, negative or huge ids → 404, never 500', async () => {
      const p = await freshProject();
      await create(p, 'one');
      for (const id of ['abc', '1abc', '-1', '1.0', ' 1', '99999999999999999999999', "1' OR '1'='1", '%']) {
        const res = await get(p, '/experiments/get', { experiment_id: id });
        expect(res.status, id).toBe(404);
        expect(res.body).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: `No Experiment with id=${id} exists` });
      }
    });

    it('missing experiment_id → 400 (MLflow: required)', async () => {
      const p = await freshProject();
      for (const query of [{}, { experiment_id: '' }] as Record<string, string>[]) {
        const res = await get(p, '/experiments/get', query);
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: MISSING('experiment_id') });
      }
    });

    it('does not see experiments of another project', async () => {
      const a = await freshProject();
      const b = await freshProject();
      await create(a, 'only in a');
      await create(a, 'also only in a');
      expect((await get(b, '/experiments/get', { experiment_id: '2' })).status).toBe(404);
      expect((await get(b, '/experiments/get-by-name', { experiment_name: 'only in a' })).status).toBe(404);
    });
  });

  describe('experiments/get-by-name', () => {
    it('returns the experiment with the exact same body as experiments/get', async () => {
      const p = await freshProject();
      const id = await create(p, 'by name', { tags: [{ key: 'k', value: 'v' }] });
      const byName = await get(p, '/experiments/get-by-name', { experiment_name: 'by name' });
      const byId = await get(p, '/experiments/get', { experiment_id: id });
      expect(byName.status).toBe(200);
      expect(byName.body).toEqual(byId.body);
      expect(byName.body.experiment).toMatchObject({ experiment_id: id, name: 'by name', tags: [{ key: 'k', value: 'v' }] });
    });

    it('unknown name → 404 RESOURCE_DOES_NOT_EXIST (what set_experiment relies on)', async () => {
      const p = await freshProject();
      const res = await get(p, '/experiments/get-by-name', { experiment_name: 'random_experiment' });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: "Could not find experiment with name 'random_experiment'" });
    });

    it('missing name → 400 (MLflow: required)', async () => {
      const p = await freshProject();
      const res = await get(p, '/experiments/get-by-name');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: MISSING('experiment_name') });
    });

    it('finds names with spaces, slashes, quotes and non-ASCII characters', async () => {
      const p = await freshProject();
      for (const name of ['a b/c', "it's \"quoted\"", 'naïve 実験', '100%_done', 'semi;colon&amp=1']) {
        const id = await create(p, name);
        const res = await get(p, '/experiments/get-by-name', { experiment_name: name });
        expect(res.status, name).toBe(200);
        expect(res.body.experiment.experiment_id).toBe(id);
      }
      // LIKE wildcards are not wildcards here
      expect((await get(p, '/experiments/get-by-name', { experiment_name: '100%' })).status).toBe(404);
      expect((await get(p, '/experiments/get-by-name', { experiment_name: '100%\\_done' })).status).toBe(404);
    });
  });

  describe('experiments/list', () => {
    it('a fresh project lists exactly the Default experiment', async () => {
      const p = await freshProject();
      const res = await get(p, '/experiments/list');
      expect(res.status).toBe(200);
      expect(res.body.experiments).toHaveLength(1);
      const [e] = res.body.experiments;
      expect(e).toEqual({
        experiment_id: '0',
        name: 'Default',
        artifact_location: 'mlflow-artifacts:/0',
        lifecycle_stage: 'active',
        last_update_time: e.last_update_time,
        creation_time: e.creation_time,
      });
      expect(typeof e.creation_time).toBe('number');
    });

    it('lists every experiment of the project, newest first, with the same objects as experiments/get', async () => {
      const p = await freshProject();
      await create(p, 'a');
      await create(p, 'b', { tags: [{ key: 't', value: 'x' }] });
      await create(p, 'c');
      const res = await get(p, '/experiments/list');
      expect(res.status).toBe(200);
      expect(res.body.experiments.map((e: any) => [e.experiment_id, e.name])).toEqual([
        ['3', 'c'],
        ['2', 'b'],
        ['1', 'a'],
        ['0', 'Default'],
      ]);
      const b = (await get(p, '/experiments/get', { experiment_id: '2' })).body.experiment;
      expect(res.body.experiments[1]).toEqual(b);
      expect(res.body).not.toHaveProperty('next_page_token');
    });

    it('ignores MLflow 1.x paging parameters', async () => {
      const p = await freshProject();
      await create(p, 'a');
      const res = await get(p, '/experiments/list', { view_type: 'ALL', max_results: '1' });
      expect(res.status).toBe(200);
      expect(res.body.experiments).toHaveLength(2);
    });
  });

  describe('projects', () => {
    it('numbers experiments per project, independently', async () => {
      const a = await freshProject();
      const b = await freshProject();
      expect(await create(a, 'a1')).toBe('1');
      expect(await create(a, 'a2')).toBe('2');
      expect(await create(b, 'b1')).toBe('1');
      expect(await create(a, 'a3')).toBe('3');
      expect(await create(b, 'a1')).toBe('2'); // the same name in another project is no duplicate
      expect((await get(a, '/experiments/get', { experiment_id: '1' })).body.experiment.name).toBe('a1');
      expect((await get(b, '/experiments/get', { experiment_id: '1' })).body.experiment.name).toBe('b1');
      expect((await get(b, '/experiments/list')).body.experiments.map((e: any) => e.name)).toEqual(['a1', 'b1', 'Default']);
    });

    it('addresses a project by its URL-encoded path as well as by id', async () => {
      const p = await freshProject();
      expect(p.path).toContain('/');
      const created = await post(p.path, '/experiments/create', { name: 'via path' });
      expect(created.status).toBe(200);
      expect(created.body).toEqual({ experiment_id: '1' });
      const byId = await get(p, '/experiments/get', { experiment_id: '1' });
      const byPath = await get(p.path, '/experiments/get', { experiment_id: '1' });
      expect(byPath.status).toBe(200);
      expect(byPath.body).toEqual(byId.body);
      expect(byPath.body.experiment.name).toBe('via path');
      // the raw form of the URL the MLflow client builds from MLFLOW_TRACKING_URI
      const raw = await s.request
        .get(`/api/v4/projects/${p.path.replace('/', '%2F')}/ml/mlflow/api/2.0/mlflow/experiments/get-by-name?experiment_name=via%20path`)
        .set('Authorization', `Bearer ${s.tokens.write}`);
      expect(raw.status).toBe(200);
      expect(raw.body.experiment.experiment_id).toBe('1');
    });

    it('serves the same API under the ajax-api prefix', async () => {
      const p = await freshProject();
      await create(p, 'ajax');
      const res = await s.request
        .get(`/api/v4/projects/${p.id}/ml/mlflow/ajax-api/2.0/mlflow/experiments/get-by-name`)
        .query({ experiment_name: 'ajax' })
        .set('Authorization', `Bearer ${s.tokens.write}`);
      expect(res.status).toBe(200);
      expect(res.body.experiment.experiment_id).toBe('1');
    });

    it('concurrent creates of the same name: one wins, the others get RESOURCE_ALREADY_EXISTS (never 500)', async () => {
      const p = await freshProject();
      const results = await Promise.all(Array.from({ length: 6 }, () => post(p, '/experiments/create', { name: 'race' })));
      const ok = results.filter((r) => r.status === 200);
      expect(ok).toHaveLength(1);
      expect(ok[0]!.body).toEqual({ experiment_id: '1' });
      for (const r of results.filter((x) => x.status !== 200)) {
        expect(r.status).toBe(400);
        expect(r.body).toEqual({ error_code: 'RESOURCE_ALREADY_EXISTS', message: 'Experiment(name=race) already exists.' });
      }
      // the losers used up no number
      expect(await create(p, 'after the race')).toBe('2');
    });

    it('concurrent creates get distinct consecutive numbers', async () => {
      const p = await freshProject();
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => post(p, '/experiments/create', { name: `c${i}` })));
      for (const r of results) expect(r.status, JSON.stringify(r.body)).toBe(200);
      const ids = results.map((r) => Number(r.body.experiment_id)).sort((x, y) => x - y);
      expect(ids).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    });
  });
});
