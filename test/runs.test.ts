import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi } from './helpers/mlflow.ts';

/**
 * runs/create, get, update, log-metric, log-parameter and log-batch over real HTTP: exact answers, MLflow's
 * validation messages, all-or-nothing batches, idempotent retries and exact int64 / non-finite round trips.
 */

type Project = { id: number; path: string };

const MISSING = (name: string) =>
  `Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`;
const BAD_CHARS =
  'Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).';
const RUN_ID_RE = /^[0-9a-f]{32}$/;
const GENERATED_NAME_RE = /^[a-z]+-[a-z]+-\d{1,3}$/;

describe.each(DB_KINDS)('runs API (%s)', (kind) => {
  let s: TestServer;
  let exp: string; // an experiment of s.project

  beforeAll(async () => {
    s = await startServer(kind);
    exp = await newExperiment(s.project, 'runs');
  });
  afterAll(async () => s?.close());

  const api = mlflowApi(() => s);
  const post = (path: string, body: unknown, p: Project = s.project) => api.post(path, body, { project: p });
  const postRaw = (path: string, text: string, p: Project = s.project) => api.postRaw(path, text, { project: p });
  const get = (path: string, query: Record<string, string>, p: Project = s.project) => api.get(path, query, { project: p });
  let expSeq = 0;
  const newExperiment = (p: Project, name = `e${++expSeq}`) => api.newExperiment(`${name}-${++expSeq}`, { project: p });
  const newRun = (body: Record<string, unknown> = {}, p: Project = s.project) => api.newRun(exp, { start_time: 1000, ...body }, { project: p });
  const getRun = (runId: string, p: Project = s.project) => api.getRun(runId, { project: p });

  async function ok(path: string, body: Record<string, unknown>) {
    const res = await post(path, body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({});
    expect(res.text).toBe('{}');
  }

  async function bad(path: string, body: unknown, message: string | RegExp, status = 400, code = 'INVALID_PARAMETER_VALUE') {
    const res = await post(path, body);
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(Object.keys(res.body).sort()).toEqual(['error_code', 'message']);
    expect(res.body.error_code).toBe(code);
    if (typeof message === 'string') expect(res.body.message).toBe(message);
    else expect(res.body.message).toMatch(message);
    return res;
  }

  /** Rows of a run in a table, straight from the database. */
  async function rows(table: 'metrics' | 'latest_metrics' | 'params' | 'tags', runUuid: string) {
    const run = await s.t.db('runs').where({ run_uuid: runUuid }).first('id');
    return s.t.db(table).where({ run_id: run.id });
  }
  /** metrics/get-history of a key, or undefined while that endpoint does not exist. */
  async function history(runId: string, key: string): Promise<any[] | undefined> {
    const res = await get('/metrics/get-history', { run_id: runId, metric_key: key });
    if (res.status === 404 && res.body.error_code === 'ENDPOINT_NOT_FOUND') return undefined;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.metrics ?? [];
  }
  const count = async (table: 'metrics' | 'latest_metrics' | 'params' | 'tags', runUuid: string) => (await rows(table, runUuid)).length;

  // ---------------------------------------------------------------------------------------------------------
  describe('runs/create', () => {
    it('returns the run with exactly MLflow\'s info fields, tags stored, user_id from the request', async () => {
      const tags = [
        { key: 'mlflow.user', value: 'alice' },
        { key: 'mlflow.source.name', value: 'train.py' },
        { key: 'mlflow.source.type', value: 'LOCAL' },
        { key: 'mlflow.source.git.commit', value: 'abc123' },
      ];
      const res = await post('/runs/create', { experiment_id: exp, user_id: 'alice', start_time: 1712345678901, run_name: 'first', tags });
      expect(res.status).toBe(200);
      const run = res.body.run;
      const id = run.info.run_id;
      expect(id).toMatch(RUN_ID_RE);
      expect(res.body).toEqual({
        run: {
          info: {
            run_id: id,
            run_uuid: id,
            run_name: 'first',
            experiment_id: exp,
            user_id: 'alice',
            status: 'RUNNING',
            start_time: 1712345678901,
            artifact_uri: `mlflow-artifacts:/${exp}/${id}/artifacts`,
            lifecycle_stage: 'active',
          },
          data: {
            tags: [
              { key: 'mlflow.runName', value: 'first' },
              { key: 'mlflow.source.git.commit', value: 'abc123' },
              { key: 'mlflow.source.name', value: 'train.py' },
              { key: 'mlflow.source.type', value: 'LOCAL' },
              { key: 'mlflow.user', value: 'alice' },
            ],
          },
          inputs: {},
          outputs: {},
        },
      });
      // runs/get answers the same run
      expect((await get('/runs/get', { run_id: id })).body).toEqual(res.body);
    });

    it('takes the name from the mlflow.runName tag when run_name is absent', async () => {
      const run = await newRun({ tags: [{ key: 'mlflow.runName', value: 'from-tag' }] });
      expect(run.info.run_name).toBe('from-tag');
      expect(run.data.tags).toEqual([{ key: 'mlflow.runName', value: 'from-tag' }]);
    });

    it('generates a name, and the mlflow.runName tag, when neither is given', async () => {
      const run = await newRun();
      expect(run.info.run_name).toMatch(GENERATED_NAME_RE);
      expect(run.data.tags).toEqual([{ key: 'mlflow.runName', value: run.info.run_name }]);
      const names = new Set<string>();
      for (let i = 0; i < 5; i++) names.add((await newRun()).info.run_name);
      expect(names.size).toBeGreaterThan(1);
    });

    it('run_name equal to the tag is fine; different → 400 and no run', async () => {
      const same = await newRun({ run_name: 'x', tags: [{ key: 'mlflow.runName', value: 'x' }] });
      expect(same.info.run_name).toBe('x');
      const before = (await s.t.db('runs').count({ n: '*' }).first())!.n;
      await bad(
        '/runs/create',
        { experiment_id: exp, run_name: 'a', tags: [{ key: 'mlflow.runName', value: 'b' }] },
        "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='a', mlflow.runName='b').",
      );
      expect((await s.t.db('runs').count({ n: '*' }).first())!.n).toBe(before);
    });

    it('without experiment_id the run goes to the Default experiment "0"', async () => {
      const res = await post('/runs/create', { start_time: 5 });
      expect(res.status).toBe(200);
      const info = res.body.run.info;
      expect(info.experiment_id).toBe('0');
      expect(info.artifact_uri).toBe(`mlflow-artifacts:/0/${info.run_id}/artifacts`);
    });

    it('accepts experiment_id as a JSON number and start_time as a digit string', async () => {
      const res = await post('/runs/create', { experiment_id: Number(exp), start_time: '1234' });
      expect(res.status).toBe(200);
      expect(res.body.run.info.experiment_id).toBe(exp);
      expect(res.body.run.info.start_time).toBe(1234);
    });

    it('user_id falls back to the mlflow.user tag, then to the authenticated user; start_time to now', async () => {
      const byTag = await newRun({ tags: [{ key: 'mlflow.user', value: 'bob' }] });
      expect(byTag.info.user_id).toBe('bob');
      const before = Date.now();
      const res = await post('/runs/create', { experiment_id: exp });
      const after = Date.now();
      expect(res.body.run.info.user_id).toBe('developer');
      expect(res.body.run.info.start_time).toBeGreaterThanOrEqual(before);
      expect(res.body.run.info.start_time).toBeLessThanOrEqual(after);
    });

    it('an experiment that does not exist → 404', async () => {
      for (const id of ['999', 'abc', '-1']) {
        await bad('/runs/create', { experiment_id: id }, `No Experiment with id=${id} exists`, 404, 'RESOURCE_DOES_NOT_EXIST');
      }
    });

    it('an experiment of another project (the user is a developer there too) → 404, no run created', async () => {
      // experiment 2 exists in `another` only
      await newExperiment(s.another);
      const other = await newExperiment(s.another);
      const mine = await s.t.db('experiments').where({ project_id: s.project.id, experiment_id: Number(other) }).first();
      expect(mine).toBeUndefined();
      const before = (await s.t.db('runs').count({ n: '*' }).first())!.n;
      await bad('/runs/create', { experiment_id: other }, `No Experiment with id=${other} exists`, 404, 'RESOURCE_DOES_NOT_EXIST');
      expect((await s.t.db('runs').count({ n: '*' }).first())!.n).toBe(before);
    });

    it('rejects bad tags and over-long run names with 400', async () => {
      await bad('/runs/create', { experiment_id: exp, tags: [{ key: 'a*b', value: 'x' }] }, `Invalid value "a*b" for parameter 'key' supplied: ${BAD_CHARS}`);
      await bad('/runs/create', { experiment_id: exp, tags: [{ key: 'k'.repeat(251), value: 'x' }] }, "'key' exceeds the maximum length of 250 characters");
      await bad('/runs/create', { experiment_id: exp, run_name: 'n'.repeat(251) }, /exceeds the maximum length of 250 characters/);
      await bad('/runs/create', { experiment_id: exp, start_time: 'soon' }, /'start_time'/);
    });

    it('user_id and run names beyond their columns → 400 on both databases, never 500', async () => {
      const ok256 = await newRun({ user_id: '👤'.repeat(256) });
      expect(ok256.info.user_id).toBe('👤'.repeat(256));
      await bad('/runs/create', { experiment_id: exp, user_id: 'u'.repeat(257) }, "'user_id' exceeds the maximum length of 256 characters");
      await bad('/runs/create', { experiment_id: exp, tags: [{ key: 'mlflow.user', value: 'u'.repeat(300) }] }, "'user_id' exceeds the maximum length of 256 characters");
      const name250 = await newRun({ run_name: 'n'.repeat(250) });
      expect(name250.info.run_name).toBe('n'.repeat(250));
      await bad('/runs/create', { experiment_id: exp, tags: [{ key: 'mlflow.runName', value: 'n'.repeat(251) }] }, /^Run name 'n+' exceeds the maximum length of 250 characters/);
      const id = name250.info.run_id;
      await bad('/runs/update', { run_id: id, run_name: 'n'.repeat(251) }, /exceeds the maximum length of 250 characters/);
      await bad('/runs/log-batch', { run_id: id, tags: [{ key: 'mlflow.runName', value: 'n'.repeat(251) }] }, /exceeds the maximum length of 250 characters/);
      expect((await getRun(id)).info.run_name).toBe('n'.repeat(250));
    });

    it('truncates tag values beyond 8000 code points', async () => {
      const run = await newRun({ tags: [{ key: 'long', value: '🐢'.repeat(8001) }] });
      const tag = run.data.tags.find((t: any) => t.key === 'long');
      expect([...tag.value].length).toBe(8000);
      expect(tag.value).toBe('🐢'.repeat(8000));
    });
  });

  // ---------------------------------------------------------------------------------------------------------
  describe('runs/get', () => {
    it('finds a run by run_id, by run_uuid, or both (what the Python client sends)', async () => {
      const run = await newRun({ run_name: 'gettable' });
      const id = run.info.run_id;
      for (const query of [{ run_id: id }, { run_uuid: id }, { run_uuid: id, run_id: id }] as Record<string, string>[]) {
        const res = await get('/runs/get', query);
        expect(res.status).toBe(200);
        expect(res.body.run).toEqual(run);
      }
    });

    it('unknown run, non-uuid, numeric id → 404 RESOURCE_DOES_NOT_EXIST', async () => {
      const real = (await newRun()).info.run_id;
      for (const id of ['0'.repeat(32), 'abc', '12345', 'not-a-uuid', 'a'.repeat(300), real.toUpperCase(), `${real} `, real.slice(1)]) {
        const res = await get('/runs/get', { run_id: id });
        expect(res.status, id).toBe(404);
        expect(res.body).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Run with id=${id} not found` });
      }
    });

    it('a run of another project → 404, even for a member of both', async () => {
      const otherExp = await newExperiment(s.another);
      const res = await post('/runs/create', { experiment_id: otherExp }, s.another);
      expect(res.status).toBe(200);
      const id = res.body.run.info.run_id;
      expect((await get('/runs/get', { run_id: id }, s.another)).status).toBe(200);
      const miss = await get('/runs/get', { run_id: id });
      expect(miss.status).toBe(404);
      expect(miss.body).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Run with id=${id} not found` });
      // and it cannot be written through the wrong project either
      await bad('/runs/log-parameter', { run_id: id, key: 'k', value: 'v' }, `Run with id=${id} not found`, 404, 'RESOURCE_DOES_NOT_EXIST');
      await bad('/runs/update', { run_id: id, status: 'KILLED' }, `Run with id=${id} not found`, 404, 'RESOURCE_DOES_NOT_EXIST');
      expect((await get('/runs/get', { run_id: id }, s.another)).body.run.info.status).toBe('RUNNING');
    });

    it('missing run_id → 400', async () => {
      const res = await get('/runs/get', {});
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: MISSING('run_id') });
    });
  });

  // ---------------------------------------------------------------------------------------------------------
  describe('runs/update', () => {
    it('sets status and end_time; end_time appears only once set', async () => {
      const run = await newRun({ run_name: 'upd' });
      const id = run.info.run_id;
      expect(run.info).not.toHaveProperty('end_time');

      const r1 = await post('/runs/update', { run_id: id, status: 'SCHEDULED' });
      expect(r1.status).toBe(200);
      expect(r1.body).toEqual({ run_info: { ...run.info, status: 'SCHEDULED' } });
      expect(r1.body.run_info).not.toHaveProperty('end_time');

      const r2 = await post('/runs/update', { run_uuid: id, run_id: id, status: 'FINISHED', end_time: 1712345680123 });
      expect(r2.status).toBe(200);
      expect(r2.body).toEqual({ run_info: { ...run.info, status: 'FINISHED', end_time: 1712345680123 } });
      const got = await getRun(id);
      expect(got.info).toEqual(r2.body.run_info);
      expect(got.data).toEqual(run.data);

      // end_time alone; status stays
      const r3 = await post('/runs/update', { run_id: id, end_time: 5 });
      expect(r3.body.run_info).toMatchObject({ status: 'FINISHED', end_time: 5 });
    });

    it('accepts every MLflow status, by name or proto number', async () => {
      const id = (await newRun()).info.run_id;
      for (const status of ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED']) {
        const res = await post('/runs/update', { run_id: id, status });
        expect(res.body.run_info.status).toBe(status);
      }
      const res = await post('/runs/update', { run_id: id, status: 3 });
      expect(res.body.run_info.status).toBe('FINISHED');
    });

    it('run_name renames the run and keeps the mlflow.runName tag in sync', async () => {
      const run = await newRun({ run_name: 'before' });
      const id = run.info.run_id;
      const res = await post('/runs/update', { run_id: id, run_name: 'after' });
      expect(res.status).toBe(200);
      expect(res.body.run_info.run_name).toBe('after');
      const got = await getRun(id);
      expect(got.info.run_name).toBe('after');
      expect(got.data.tags).toEqual([{ key: 'mlflow.runName', value: 'after' }]);
      // and the other way: a mlflow.runName tag through log-batch renames the run
      await ok('/runs/log-batch', { run_id: id, tags: [{ key: 'mlflow.runName', value: 'via-tag' }] });
      expect((await getRun(id)).info.run_name).toBe('via-tag');
    });

    it('lowercase or unknown status, non-integer end_time → 400 and nothing changes', async () => {
      const run = await newRun();
      const id = run.info.run_id;
      await bad('/runs/update', { run_id: id, status: 'finished' }, /'status'/);
      await bad('/runs/update', { run_id: id, status: 'YOLO' }, /'status'/);
      await bad('/runs/update', { run_id: id, status: 9 }, /'status'/);
      await bad('/runs/update', { run_id: id, status: 'FINISHED', end_time: 's' }, /'end_time'/);
      await bad('/runs/update', { run_id: id, end_time: 1.5 }, /'end_time'/);
      expect((await getRun(id)).info).toEqual(run.info);
    });

    it('unknown run → 404, missing run_id → 400', async () => {
      await bad('/runs/update', { run_id: 'f'.repeat(32), status: 'FINISHED' }, `Run with id=${'f'.repeat(32)} not found`, 404, 'RESOURCE_DOES_NOT_EXIST');
      await bad('/runs/update', { status: 'FINISHED' }, MISSING('run_id'));
    });
  });

  // ---------------------------------------------------------------------------------------------------------
  describe('runs/log-metric', () => {
    it('logs a metric: {} and the value in runs/get', async () => {
      const id = (await newRun()).info.run_id;
      await ok('/runs/log-metric', { run_id: id, run_uuid: id, key: 'loss', value: 0.5, timestamp: 1712345679000, step: 1 });
      await ok('/runs/log-metric', { run_id: id, key: 'acc', value: '0.25', timestamp: '17' }); // strings, no step
      const run = await getRun(id);
      expect(run.data.metrics).toEqual([
        { key: 'acc', value: 0.25, timestamp: 17, step: 0 },
        { key: 'loss', value: 0.5, timestamp: 1712345679000, step: 1 },
      ]);
      expect(await count('metrics', id)).toBe(2);
    });

    it('keeps the latest value per key by max(step, timestamp, value), whatever the order of arrival', async () => {
      const id = (await newRun()).info.run_id;
      const log = (step: number, timestamp: number, value: number) => ok('/runs/log-metric', { run_id: id, key: 'm', value, timestamp, step });
      const latest = async () => (await getRun(id)).data.metrics;

      await log(5, 100, 1);
      expect(await latest()).toEqual([{ key: 'm', value: 1, timestamp: 100, step: 5 }]);
      await log(3, 999, 2); // lower step, later timestamp: not latest
      expect(await latest()).toEqual([{ key: 'm', value: 1, timestamp: 100, step: 5 }]);
      await log(5, 50, 9); // same step, earlier timestamp
      expect(await latest()).toEqual([{ key: 'm', value: 1, timestamp: 100, step: 5 }]);
      await log(5, 100, 0.5); // same step and timestamp, smaller value
      expect(await latest()).toEqual([{ key: 'm', value: 1, timestamp: 100, step: 5 }]);
      await log(5, 100, 3); // same step and timestamp, greater value
      expect(await latest()).toEqual([{ key: 'm', value: 3, timestamp: 100, step: 5 }]);
      await log(5, 101, -7); // same step, later timestamp
      expect(await latest()).toEqual([{ key: 'm', value: -7, timestamp: 101, step: 5 }]);
      await log(6, 1, -100); // higher step wins over everything
      expect(await latest()).toEqual([{ key: 'm', value: -100, timestamp: 1, step: 6 }]);
      await log(-3, 10_000, 1e9); // negative step
      expect(await latest()).toEqual([{ key: 'm', value: -100, timestamp: 1, step: 6 }]);
      // the full history is kept
      expect(await count('metrics', id)).toBe(8);

      // the same rule inside one batch, items out of order
      const id2 = (await newRun()).info.run_id;
      await ok('/runs/log-batch', {
        run_id: id2,
        metrics: [
          { key: 'x', value: 1, timestamp: 5, step: 2 },
          { key: 'x', value: 2, timestamp: 1, step: 10 },
          { key: 'x', value: 3, timestamp: 9, step: 4 },
          { key: 'y', value: 1, timestamp: 7, step: 0 },
          { key: 'y', value: 4, timestamp: 7, step: 0 },
          { key: 'y', value: 2, timestamp: 7, step: 0 },
        ],
      });
      expect((await getRun(id2)).data.metrics).toEqual([
        { key: 'x', value: 2, timestamp: 1, step: 10 },
        { key: 'y', value: 4, timestamp: 7, step: 0 },
      ]);
    });

    it('NaN, Infinity and -Infinity round-trip as MLflow\'s strings', async () => {
      const id = (await newRun()).info.run_id;
      await ok('/runs/log-metric', { run_id: id, key: 'nan', value: 'NaN', timestamp: 1 });
      await ok('/runs/log-metric', { run_id: id, key: 'inf', value: 'Infinity', timestamp: 1 });
      await ok('/runs/log-metric', { run_id: id, key: 'ninf', value: '-Infinity', timestamp: 1 });
      await ok('/runs/log-batch', { run_id: id, metrics: [{ key: 'b_nan', value: 'NaN', timestamp: 2, step: 1 }] });
      const res = await get('/runs/get', { run_id: id });
      expect(res.body.run.data.metrics).toEqual([
        { key: 'b_nan', value: 'NaN', timestamp: 2, step: 1 },
        { key: 'inf', value: 'Infinity', timestamp: 1, step: 0 },
        { key: 'nan', value: 'NaN', timestamp: 1, step: 0 },
        { key: 'ninf', value: '-Infinity', timestamp: 1, step: 0 },
      ]);
      expect(res.text).toContain('"value":"NaN"');
      expect(res.text).toContain('"value":"Infinity"');
      expect(res.text).toContain('"value":"-Infinity"');
      // a NaN re-sent is the same point (no duplicate history row)
      await ok('/runs/log-metric', { run_id: id, key: 'nan', value: 'NaN', timestamp: 1 });
      expect((await rows('metrics', id)).filter((m: any) => m.key === 'nan')).toHaveLength(1);
    });

    it('keeps full double precision', async () => {
      const id = (await newRun()).info.run_id;
      await postRaw('/runs/log-metric', `{"run_id":"${id}","key":"p","value":0.30000000000000004,"timestamp":1}`).expect(200);
      await postRaw('/runs/log-metric', `{"run_id":"${id}","key":"q","value":-1.2345678901234567e-300,"timestamp":1}`).expect(200);
      await postRaw('/runs/log-metric', `{"run_id":"${id}","key":"r","value":12345678901234567890,"timestamp":1}`).expect(200);
      const res = await get('/runs/get', { run_id: id });
      expect(res.body.run.data.metrics.map((m: any) => m.value)).toEqual([0.30000000000000004, -1.2345678901234567e-300, 12345678901234567890]);
    });

    it('int64 steps and timestamps beyond 2^53 round-trip with every digit, negative steps too', async () => {
      const id = (await newRun()).info.run_id;
      const cases: [key: string, timestamp: string, step: string][] = [
        ['s53', '1', '9007199254740993'],
        ['smax', '2', '9223372036854775807'],
        ['t53', '9007199254740993', '3'],
        ['tmax', '9223372036854775807', '4'],
        ['neg1', '5', '-1'],
        ['neg53', '6', '-9007199254740993'],
        ['negmin', '7', '-9223372036854775808'],
      ];
      for (const [key, ts, step] of cases) {
        await postRaw('/runs/log-metric', `{"run_id":"${id}","key":"${key}","value":1.5,"timestamp":${ts},"step":${step}}`).expect(200);
      }
      const res = await get('/runs/get', { run_id: id });
      expect(res.status).toBe(200);
      for (const [key, ts, step] of cases) {
        expect(res.text).toContain(`{"key":"${key}","value":1.5,"timestamp":${ts},"step":${step}}`);
      }
      // and in the stored history, exactly
      const hist = await rows('metrics', id);
      for (const [key, ts, step] of cases) {
        const row = hist.find((m: any) => m.key === key);
        expect(String(row.timestamp)).toBe(ts);
        expect(String(row.step)).toBe(step);
      }
    });

    it('compares steps that differ only beyond 2^53 exactly when choosing the latest value', async () => {
      const id = (await newRun()).info.run_id;
      await postRaw('/runs/log-metric', `{"run_id":"${id}","key":"m","value":1,"timestamp":1,"step":9007199254740993}`).expect(200);
      // a smaller step (equal as a double), later timestamp: must not replace the latest value
      await postRaw('/runs/log-metric', `{"run_id":"${id}","key":"m","value":2,"timestamp":2,"step":9007199254740992}`).expect(200);
      const res = await get('/runs/get', { run_id: id });
      expect(res.text).toContain('{"key":"m","value":1,"timestamp":1,"step":9007199254740993}');
      expect(await count('metrics', id)).toBe(2);
    });

    it('int64 start_time and end_time round-trip exactly', async () => {
      const res = await postRaw('/runs/create', `{"experiment_id":"${exp}","start_time":9007199254740993}`);
      expect(res.status).toBe(200);
      expect(res.text).toContain('"start_time":9007199254740993');
      const id = res.body.run.info.run_id;
      const upd = await postRaw('/runs/update', `{"run_id":"${id}","end_time":9223372036854775807}`);
      expect(upd.status).toBe(200);
      expect(upd.text).toContain('"end_time":9223372036854775807');
      const got = await get('/runs/get', { run_id: id });
      expect(got.text).toContain('"start_time":9007199254740993');
      expect(got.text).toContain('"end_time":9223372036854775807');
    });

    it('validation errors with MLflow\'s messages, and nothing written', async () => {
      const id = (await newRun()).info.run_id;
      const m = { run_id: id, key: 'k', value: 1, timestamp: 1 };
      await bad('/runs/log-metric', { ...m, key: undefined }, MISSING('key'));
      await bad('/runs/log-metric', { ...m, value: undefined }, MISSING('value'));
      await bad('/runs/log-metric', { ...m, timestamp: undefined }, MISSING('timestamp'));
      await bad('/runs/log-metric', { ...m, run_id: undefined }, MISSING('run_id'));
      await bad('/runs/log-metric', { ...m, key: 'a*b' }, `Invalid value "a*b" for parameter 'name' supplied: ${BAD_CHARS}`);
      await bad('/runs/log-metric', { ...m, key: 'a/../b' }, /^Invalid value "a\/..\/b" for parameter 'name' supplied: Names may be treated as files/);
      await bad('/runs/log-metric', { ...m, key: 'k'.repeat(251) }, "'Metric name' exceeds the maximum length of 250 characters");
      await bad('/runs/log-metric', { ...m, timestamp: -1 }, /^Invalid value -1 for parameter 'timestamp' supplied/);
      await bad('/runs/log-metric', { ...m, value: 'abc' }, /'value'/);
      await bad('/runs/log-metric', { ...m, value: true }, /'value'/);
      await bad('/runs/log-metric', { ...m, step: 1.5 }, /'step'/);
      await bad('/runs/log-metric', { ...m, step: '99999999999999999999' }, /'step'/);
      expect(await count('metrics', id)).toBe(0);
      // 250 characters is fine
      await ok('/runs/log-metric', { ...m, key: 'k'.repeat(250) });
      expect((await getRun(id)).data.metrics[0].key).toBe('k'.repeat(250));
    });

    it('unknown run → 404', async () => {
      await bad('/runs/log-metric', { run_id: 'e'.repeat(32), key: 'k', value: 1, timestamp: 1 }, `Run with id=${'e'.repeat(32)} not found`, 404, 'RESOURCE_DOES_NOT_EXIST');
    });
  });

  // ---------------------------------------------------------------------------------------------------------
  describe('runs/log-parameter', () => {
    it('logs a parameter: {} and the value in runs/get', async () => {
      const id = (await newRun()).info.run_id;
      await ok('/runs/log-parameter', { run_uuid: id, run_id: id, key: 'lr', value: '0.01' });
      await ok('/runs/log-parameter', { run_id: id, key: 'depth', value: '3' });
      await ok('/runs/log-parameter', { run_id: id, key: 'empty' }); // MLflow: an absent value is ""
      expect((await getRun(id)).data.params).toEqual([
        { key: 'depth', value: '3' },
        { key: 'empty', value: '' },
        { key: 'lr', value: '0.01' },
      ]);
    });

    it('re-logging the same value is fine; a different value → 400 and the old value stays', async () => {
      const id = (await newRun()).info.run_id;
      await ok('/runs/log-parameter', { run_id: id, key: 'a', value: '1' });
      await ok('/runs/log-parameter', { run_id: id, key: 'a', value: '1' });
      await bad(
        '/runs/log-parameter',
        { run_id: id, key: 'a', value: '2' },
        `Changing param values is not allowed. Param with key='a' was already logged with value='1' for run ID='${id}'. Attempted logging new value '2'.`,
      );
      expect((await getRun(id)).data.params).toEqual([{ key: 'a', value: '1' }]);
      expect(await count('params', id)).toBe(1);
    });

    it('concurrent logs of one key with different values: one value wins, the others get 400, never 500', async () => {
      const id = (await newRun()).info.run_id;
      const values = ['a', 'b', 'a', 'b', 'c', 'a'];
      const results = await Promise.all(values.map((value) => post('/runs/log-parameter', { run_id: id, key: 'race', value })));
      const stored = (await getRun(id)).data.params;
      expect(stored).toHaveLength(1);
      const winner = stored[0].value;
      results.forEach((r, i) => {
        if (values[i] === winner) expect(r.status, JSON.stringify(r.body)).toBe(200);
        else {
          expect(r.status, JSON.stringify(r.body)).toBe(400);
          expect(r.body.message).toMatch(/^Changing param values is not allowed/);
        }
      });
    });

    it('keys are case-sensitive and trailing spaces count', async () => {
      const id = (await newRun()).info.run_id;
      for (const [key, value] of [['a', '1'], ['A', '2'], ['a ', '3']]) await ok('/runs/log-parameter', { run_id: id, key, value });
      expect((await getRun(id)).data.params).toHaveLength(3);
      await ok('/runs/log-parameter', { run_id: id, key: 'a ', value: '3' });
      await bad('/runs/log-parameter', { run_id: id, key: 'A', value: '1' }, /^Changing param values is not allowed/);
    });

    it('truncates values beyond 6000 code points', async () => {
      const id = (await newRun()).info.run_id;
      await ok('/runs/log-parameter', { run_id: id, key: 'ascii', value: 'v'.repeat(7000) });
      await ok('/runs/log-parameter', { run_id: id, key: 'astral', value: '𝛼'.repeat(6001) });
      await ok('/runs/log-parameter', { run_id: id, key: 'exact', value: 'é'.repeat(6000) });
      const params = Object.fromEntries((await getRun(id)).data.params.map((p: any) => [p.key, p.value]));
      expect(params.ascii).toBe('v'.repeat(6000));
      expect(params.astral).toBe('𝛼'.repeat(6000));
      expect([...params.astral].length).toBe(6000);
      expect(params.exact).toBe('é'.repeat(6000));
      // re-logging the long value compares the truncated values: same → fine
      await ok('/runs/log-parameter', { run_id: id, key: 'ascii', value: 'v'.repeat(6500) });
    });

    it('validation errors with MLflow\'s messages', async () => {
      const id = (await newRun()).info.run_id;
      await bad('/runs/log-parameter', { run_id: id, value: 'x' }, MISSING('key'));
      await bad('/runs/log-parameter', { run_id: id, key: '', value: 'x' }, MISSING('key'));
      await bad('/runs/log-parameter', { key: 'k', value: 'x' }, MISSING('run_id'));
      await bad('/runs/log-parameter', { run_id: id, key: 'bad!', value: 'x' }, `Invalid value "bad!" for parameter 'key' supplied: ${BAD_CHARS}`);
      await bad('/runs/log-parameter', { run_id: id, key: 'k'.repeat(251), value: 'x' }, "'Param key' exceeds the maximum length of 250 characters");
      await bad('/runs/log-parameter', { run_id: id, key: 'k', value: 5 }, /'value'/);
      expect(await count('params', id)).toBe(0);
    });
  });

  // ---------------------------------------------------------------------------------------------------------
  describe('runs/log-batch', () => {
    it('logs metrics, params and tags in one call', async () => {
      const id = (await newRun({ run_name: 'batch' })).info.run_id;
      await ok('/runs/log-batch', {
        run_id: id,
        metrics: [
          { key: 'x', value: 1.0, timestamp: 10, step: 0, run_id: id },
          { key: 'y', value: 2.0, timestamp: 10, step: 0, run_id: id },
          { key: 'x', value: 1.5, timestamp: 11, step: 1 },
        ],
        params: [{ key: 'p', value: 'v' }, { key: 'q', value: '' }],
        tags: [{ key: 't', value: 'first' }, { key: 't', value: 'last wins' }, { key: 'u', value: 'x' }],
      });
      const run = await getRun(id);
      expect(run.data).toEqual({
        metrics: [
          { key: 'x', value: 1.5, timestamp: 11, step: 1 },
          { key: 'y', value: 2, timestamp: 10, step: 0 },
        ],
        params: [{ key: 'p', value: 'v' }, { key: 'q', value: '' }],
        tags: [
          { key: 'mlflow.runName', value: 'batch' },
          { key: 't', value: 'last wins' },
          { key: 'u', value: 'x' },
        ],
      });
      expect(await count('metrics', id)).toBe(3);
      // tags upsert
      await ok('/runs/log-batch', { run_id: id, tags: [{ key: 't', value: 'again' }] });
      expect((await getRun(id)).data.tags).toContainEqual({ key: 't', value: 'again' });
      // an empty batch is fine
      await ok('/runs/log-batch', { run_id: id });
      await ok('/runs/log-batch', { run_id: id, metrics: [], params: [], tags: [] });
    });

    it('duplicate param keys in one batch → 400 and nothing written', async () => {
      const id = (await newRun()).info.run_id;
      await bad(
        '/runs/log-batch',
        { run_id: id, metrics: [{ key: 'm', value: 1, timestamp: 1 }], params: [{ key: 'hello', value: 'a' }, { key: 'hello', value: 'b' }] },
        "Duplicate parameter keys have been submitted: ['hello']. Please ensure the request contains only one param value per param key.",
      );
      // even with the same value twice
      await bad('/runs/log-batch', { run_id: id, params: [{ key: 'hello', value: 'a' }, { key: 'hello', value: 'a' }] }, /^Duplicate parameter keys/);
      expect(await count('params', id)).toBe(0);
      expect(await count('metrics', id)).toBe(0);
      expect(await count('latest_metrics', id)).toBe(0);
    });

    it('a param already logged: same value is skipped, a different value refuses the whole batch', async () => {
      const id = (await newRun()).info.run_id;
      await ok('/runs/log-parameter', { run_id: id, key: 'p', value: '1' });
      await ok('/runs/log-batch', { run_id: id, params: [{ key: 'p', value: '1' }, { key: 'q', value: '2' }] });
      expect((await getRun(id)).data.params).toEqual([{ key: 'p', value: '1' }, { key: 'q', value: '2' }]);

      const before = await getRun(id);
      await bad(
        '/runs/log-batch',
        {
          run_id: id,
          metrics: [{ key: 'm', value: 1, timestamp: 1 }],
          params: [{ key: 'r', value: 'new' }, { key: 'p', value: 'changed' }],
          tags: [{ key: 't', value: 'x' }],
        },
        `Changing param values is not allowed. Param with key='p' was already logged with value='1' for run ID='${id}'. Attempted logging new value 'changed'.`,
      );
      expect(await getRun(id)).toEqual(before);
      expect(await count('metrics', id)).toBe(0);
      expect(await count('params', id)).toBe(2);
      expect(await count('tags', id)).toBe(1);
    });

    it('is all-or-nothing: one bad param after good metrics writes nothing', async () => {
      const id = (await newRun({ run_name: 'atomic' })).info.run_id;
      const before = await getRun(id);
      const metrics = Array.from({ length: 50 }, (_, i) => ({ key: `m${i}`, value: i, timestamp: 1, step: i }));
      await bad(
        '/runs/log-batch',
        { run_id: id, metrics, params: [{ key: 'good', value: '1' }, { key: 'bad*key', value: '2' }], tags: [{ key: 'tag', value: 'v' }] },
        `Invalid value "bad*key" for parameter 'params[1].key' supplied: ${BAD_CHARS}`,
      );
      expect(await getRun(id)).toEqual(before);
      expect(await count('metrics', id)).toBe(0);
      expect(await count('latest_metrics', id)).toBe(0);
      expect(await count('params', id)).toBe(0);
      expect(await count('tags', id)).toBe(1); // mlflow.runName only
      const h = await history(id, 'm0');
      if (h) expect(h).toEqual([]);
    });

    it('validation errors name the item: metrics[i].field, params[i].key, tags[i].key', async () => {
      const id = (await newRun()).info.run_id;
      const good = { key: 'm', value: 1, timestamp: 1 };
      await bad('/runs/log-batch', { run_id: id, metrics: [good, { key: 'm', value: 1 }] }, MISSING('metrics[1].timestamp'));
      await bad('/runs/log-batch', { run_id: id, metrics: [{ value: 1, timestamp: 1 }] }, MISSING('metrics[0].key'));
      await bad('/runs/log-batch', { run_id: id, metrics: [{ key: 'm', timestamp: 1 }] }, MISSING('metrics[0].value'));
      await bad('/runs/log-batch', { run_id: id, metrics: [good, good, { key: 'a*b', value: 1, timestamp: 1 }] }, `Invalid value "a*b" for parameter 'metrics[2].name' supplied: ${BAD_CHARS}`);
      await bad('/runs/log-batch', { run_id: id, metrics: [{ key: 'k'.repeat(251), value: 1, timestamp: 1 }] }, "'Metric name' exceeds the maximum length of 250 characters");
      await bad('/runs/log-batch', { run_id: id, params: [{ value: 'x' }] }, MISSING('params[0].key'));
      await bad('/runs/log-batch', { run_id: id, params: [{ key: 'k'.repeat(251), value: 'x' }] }, "'Param key' exceeds the maximum length of 250 characters");
      await bad('/runs/log-batch', { run_id: id, tags: [{ value: 'x' }] }, MISSING('tags[0].key'));
      await bad('/runs/log-batch', { run_id: id, tags: [{ key: 'ok', value: 'x' }, { key: 'no?', value: 'x' }] }, `Invalid value "no?" for parameter 'tags[1].key' supplied: ${BAD_CHARS}`);
      await bad('/runs/log-batch', { run_id: id, metrics: 'nope' }, /'metrics'/);
      await bad('/runs/log-batch', { metrics: [good] }, MISSING('run_id'));
      await bad('/runs/log-batch', { run_id: '../etc', metrics: [good] }, `Invalid value "../etc" for parameter 'run_id' supplied.`);
      expect(await count('metrics', id)).toBe(0);
    });

    it('enforces MLflow\'s batch limits: 1000 metrics, 100 params, 100 tags, 1000 in all', async () => {
      const id = (await newRun()).info.run_id;
      const metrics = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `m${i % 7}`, value: i, timestamp: 1000 + i, step: i }));
      const params = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `p${i}`, value: String(i) }));
      const tags = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `t${i}`, value: String(i) }));
      const limit = (n: number, what: string) =>
        `A batch logging request can contain at most ${n === 1000 ? 1000 : 100} ${what}. Got ${n === 1000 ? 1001 : 101} ${what}. ` +
        `Please split up ${what} across multiple requests and try again.`;

      await bad('/runs/log-batch', { run_id: id, metrics: metrics(1001) }, limit(1000, 'metrics'));
      await bad('/runs/log-batch', { run_id: id, params: params(101) }, limit(100, 'params'));
      await bad('/runs/log-batch', { run_id: id, tags: tags(101) }, limit(100, 'tags'));
      await bad(
        '/runs/log-batch',
        { run_id: id, metrics: metrics(900), params: params(100), tags: tags(1) },
        'A batch logging request can contain at most 1000 metrics, params, and tags. Got 1001 metrics, params, and tags. ' +
          'Please split up metrics, params, and tags across multiple requests and try again.',
      );
      expect(await count('metrics', id)).toBe(0);

      // at the limits exactly: accepted and all stored
      await ok('/runs/log-batch', { run_id: id, metrics: metrics(1000) });
      expect(await count('metrics', id)).toBe(1000);
      const id2 = (await newRun()).info.run_id;
      await ok('/runs/log-batch', { run_id: id2, metrics: metrics(800), params: params(100), tags: tags(100) });
      const run = await getRun(id2);
      expect(run.data.params).toHaveLength(100);
      expect(run.data.tags).toHaveLength(101); // + mlflow.runName
      expect(run.data.metrics).toHaveLength(7);
      expect(await count('metrics', id2)).toBe(800);
    });

    it('a retried batch adds no duplicate history rows', async () => {
      const id = (await newRun()).info.run_id;
      const batch = {
        run_id: id,
        metrics: [
          { key: 'a', value: 1, timestamp: 1, step: 0 },
          { key: 'a', value: 2, timestamp: 2, step: 1 },
          { key: 'a', value: 2, timestamp: 2, step: 1 }, // repeated inside the request too
          { key: 'b', value: 'NaN', timestamp: 3, step: 0 },
        ],
        params: [{ key: 'p', value: 'v' }],
        tags: [{ key: 't', value: 'v' }],
      };
      await ok('/runs/log-batch', batch);
      const first = await getRun(id);
      expect(await count('metrics', id)).toBe(3);
      await ok('/runs/log-batch', batch);
      await ok('/runs/log-batch', batch);
      expect(await count('metrics', id)).toBe(3);
      expect(await count('params', id)).toBe(1);
      expect(await getRun(id)).toEqual(first);
      const h = await history(id, 'a');
      if (h) {
        expect(h).toEqual([
          { key: 'a', value: 1, timestamp: 1, step: 0 },
          { key: 'a', value: 2, timestamp: 2, step: 1 },
        ]);
      }
      // the same point with another value, step or timestamp is a new history row
      await ok('/runs/log-batch', { run_id: id, metrics: [{ key: 'a', value: 1, timestamp: 1, step: 5 }, { key: 'a', value: 1.5, timestamp: 1, step: 0 }] });
      expect(await count('metrics', id)).toBe(5);
    });

    it('concurrent retries of the same batch neither fail nor duplicate', async () => {
      const id = (await newRun()).info.run_id;
      const batch = {
        run_id: id,
        metrics: Array.from({ length: 20 }, (_, i) => ({ key: 'c', value: i, timestamp: i, step: i })),
        params: [{ key: 'same', value: 'v' }],
      };
      const results = await Promise.all(Array.from({ length: 5 }, () => post('/runs/log-batch', batch)));
      for (const r of results) expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(await count('metrics', id)).toBe(20);
      expect(await count('params', id)).toBe(1);
      expect((await getRun(id)).data.metrics).toEqual([{ key: 'c', value: 19, timestamp: 19, step: 19 }]);
    });

    it('truncates long param and tag values in a batch', async () => {
      const id = (await newRun()).info.run_id;
      await ok('/runs/log-batch', { run_id: id, params: [{ key: 'p', value: 'x'.repeat(6001) }], tags: [{ key: 't', value: 'y'.repeat(8001) }] });
      const run = await getRun(id);
      expect(run.data.params).toEqual([{ key: 'p', value: 'x'.repeat(6000) }]);
      expect(run.data.tags.find((t: any) => t.key === 't').value).toBe('y'.repeat(8000));
    });

    it('int64 digits in a batch round-trip exactly', async () => {
      const id = (await newRun()).info.run_id;
      const res = await postRaw(
        '/runs/log-batch',
        `{"run_id":"${id}","metrics":[` +
          `{"key":"a","value":1,"timestamp":9007199254740993,"step":9223372036854775807},` +
          `{"key":"b","value":2,"timestamp":9223372036854775807,"step":-9223372036854775808}]}`,
      );
      expect(res.status, res.text).toBe(200);
      const got = await get('/runs/get', { run_id: id });
      expect(got.text).toContain('{"key":"a","value":1,"timestamp":9007199254740993,"step":9223372036854775807}');
      expect(got.text).toContain('{"key":"b","value":2,"timestamp":9223372036854775807,"step":-9223372036854775808}');
    });

    it('unknown run → 404 and nothing written anywhere', async () => {
      const before = (await s.t.db('metrics').count({ n: '*' }).first())!.n;
      await bad('/runs/log-batch', { run_id: 'd'.repeat(32), metrics: [{ key: 'm', value: 1, timestamp: 1 }] }, `Run with id=${'d'.repeat(32)} not found`, 404, 'RESOURCE_DOES_NOT_EXIST');
      expect((await s.t.db('metrics').count({ n: '*' }).first())!.n).toBe(before);
    });
  });
});
