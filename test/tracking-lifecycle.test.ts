import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi } from './helpers/mlflow.ts';

/**
 * The lifecycle half of the tracking API over real HTTP: experiments/update, delete, restore, set/delete experiment
 * tags; runs/set-tag, delete-tag, delete, restore, log-inputs, log-model, outputs. Every success is checked through
 * experiments/get or runs/get; every refusal leaves nothing behind.
 */

type Project = { id: number; path: string };

const MISSING = (name: string) =>
  `Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`;
const NOT_ACTIVE = (runId: string) => `The run ${runId} must be in the 'active' state. Current state is deleted.`;

describe.each(DB_KINDS)('tracking lifecycle (%s)', (kind) => {
  let s: TestServer;
  let seq = 0;

  beforeAll(async () => {
    s = await startServer(kind);
  });
  afterAll(async () => s?.close());

  const freshProject = (): Promise<Project> => s.developerProject(`life/p${++seq}`);

  const api = mlflowApi(() => s);
  const post = (p: Project, path: string, body: unknown, token = s.tokens.write) => api.post(path, body, { project: p, token });
  const get = (p: Project, path: string, query: Record<string, string>) => api.get(path, query, { project: p });

  async function ok(p: Project, path: string, body: Record<string, unknown>) {
    const res = await post(p, path, body);
    expect(res.status, `${path} ${JSON.stringify(res.body)}`).toBe(200);
    expect(res.text).toBe('{}');
  }

  async function bad(p: Project, path: string, body: unknown, message: string | RegExp, status = 400, code = 'INVALID_PARAMETER_VALUE') {
    const res = await post(p, path, body);
    expect(res.status, `${path} ${JSON.stringify(res.body)}`).toBe(status);
    expect(Object.keys(res.body).sort()).toEqual(['error_code', 'message']);
    expect(res.body.error_code).toBe(code);
    if (typeof message === 'string') expect(res.body.message).toBe(message);
    else expect(res.body.message).toMatch(message);
  }

  const createExperiment = (p: Project, name: string) => api.newExperiment(name, { project: p });

  async function getExperiment(p: Project, id: string): Promise<any> {
    const res = await get(p, '/experiments/get', { experiment_id: id });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.experiment;
  }

  const createRun = async (p: Project, experimentId: string, body: Record<string, unknown> = {}): Promise<string> =>
    (await api.newRun(experimentId, { start_time: 1000, ...body }, { project: p })).info.run_id;

  const getRun = (p: Project, runId: string) => api.getRun(runId, { project: p });

  const tagsOf = (run: any) => Object.fromEntries((run.data.tags ?? []).map((t: any) => [t.key, t.value]));

  // -------------------------------------------------------------------------------------------------------------
  describe('experiments/update', () => {
    it('renames: get and get-by-name follow, last_update_time moves, the old name is free again', async () => {
      const p = await freshProject();
      const id = await createExperiment(p, 'old');
      const before = await getExperiment(p, id);
      await new Promise((r) => setTimeout(r, 5));
      await ok(p, '/experiments/update', { experiment_id: id, new_name: 'new' });
      const after = await getExperiment(p, id);
      expect(after).toEqual({ ...before, name: 'new', last_update_time: after.last_update_time });
      expect(after.last_update_time).toBeGreaterThan(before.last_update_time);
      expect((await get(p, '/experiments/get-by-name', { experiment_name: 'new' })).body.experiment.experiment_id).toBe(id);
      const old = await get(p, '/experiments/get-by-name', { experiment_name: 'old' });
      expect(old.status).toBe(404);
      expect(await createExperiment(p, 'old')).toBe('2');
      // renaming to its own name is fine
      await ok(p, '/experiments/update', { experiment_id: id, new_name: 'new' });
      // a numeric experiment_id is accepted, as MLflow's parser stringifies it
      await ok(p, '/experiments/update', { experiment_id: Number(id), new_name: 'newer' });
      expect((await getExperiment(p, id)).name).toBe('newer');
    });

    it('missing fields, bad names, clashes, unknown and deleted experiments', async () => {
      const p = await freshProject();
      const id = await createExperiment(p, 'one');
      await createExperiment(p, 'two');
      const gone = await createExperiment(p, 'gone');
      await ok(p, '/experiments/delete', { experiment_id: gone });

      await bad(p, '/experiments/update', { new_name: 'x' }, MISSING('experiment_id'));
      await bad(p, '/experiments/update', { experiment_id: '', new_name: 'x' }, MISSING('experiment_id'));
      await bad(p, '/experiments/update', { experiment_id: id }, MISSING('new_name'));
      await bad(p, '/experiments/update', { experiment_id: id, new_name: '' }, MISSING('new_name'));
      await bad(p, '/experiments/update', { experiment_id: id, new_name: 'n'.repeat(501) }, "'name' exceeds the maximum length of 500 characters");
      await bad(p, '/experiments/update', { experiment_id: id, new_name: 'two' }, 'Experiment(name=two) already exists.', 400, 'RESOURCE_ALREADY_EXISTS');
      // a deleted experiment keeps its name
      await bad(p, '/experiments/update', { experiment_id: id, new_name: 'gone' }, 'Experiment(name=gone) already exists.', 400, 'RESOURCE_ALREADY_EXISTS');
      await bad(p, '/experiments/update', { experiment_id: '42', new_name: 'x' }, 'No Experiment with id=42 exists', 404, 'RESOURCE_DOES_NOT_EXIST');
      await bad(p, '/experiments/update', { experiment_id: 'abc', new_name: 'x' }, 'No Experiment with id=abc exists', 404, 'RESOURCE_DOES_NOT_EXIST');
      // MLflow: INVALID_STATE; answered 400 so that the client does not retry it
      await bad(p, '/experiments/update', { experiment_id: gone, new_name: 'back' }, 'Cannot rename a non-active experiment.', 400, 'INVALID_STATE');
      expect((await getExperiment(p, id)).name).toBe('one');
      expect((await getExperiment(p, gone)).name).toBe('gone');
    });

    it("another project's experiment is 404 and stays as it was", async () => {
      const a = await freshProject();
      const b = await freshProject();
      await createExperiment(a, 'a1');
      const a2 = await createExperiment(a, 'a2');
      await bad(b, '/experiments/update', { experiment_id: a2, new_name: 'stolen' }, `No Experiment with id=${a2} exists`, 404, 'RESOURCE_DOES_NOT_EXIST');
      expect((await getExperiment(a, a2)).name).toBe('a2');
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('experiments/delete and restore', () => {
    it('cascade to the runs, keep the name taken, refuse writes, and restore brings everything back', async () => {
      const p = await freshProject();
      const exp = await createExperiment(p, 'doomed');
      const other = await createExperiment(p, 'bystander');
      const r1 = await createRun(p, exp, { run_name: 'r1' });
      const r2 = await createRun(p, exp, { run_name: 'r2' });
      const r3 = await createRun(p, other, { run_name: 'r3' });
      await ok(p, '/runs/log-batch', {
        run_id: r1,
        metrics: [{ key: 'm', value: 1.5, timestamp: 10, step: 2 }],
        params: [{ key: 'p', value: 'v' }],
        tags: [{ key: 't', value: 'x' }],
      });
      await ok(p, '/runs/delete', { run_id: r2 }); // deleted on its own before the experiment
      const before = await getRun(p, r1);
      const expBefore = await getExperiment(p, exp);

      await ok(p, '/experiments/delete', { experiment_id: exp });
      const deleted = await getExperiment(p, exp);
      expect(deleted.lifecycle_stage).toBe('deleted');
      expect(deleted.last_update_time).toBeGreaterThanOrEqual(expBefore.last_update_time);
      expect((await getRun(p, r1)).info.lifecycle_stage).toBe('deleted');
      expect((await getRun(p, r2)).info.lifecycle_stage).toBe('deleted');
      expect((await getRun(p, r3)).info.lifecycle_stage).toBe('active');
      expect((await getExperiment(p, other)).lifecycle_stage).toBe('active');

      // get-by-name still finds it; the name stays taken
      const byName = await get(p, '/experiments/get-by-name', { experiment_name: 'doomed' });
      expect(byName.status).toBe(200);
      expect(byName.body.experiment.lifecycle_stage).toBe('deleted');
      await bad(p, '/experiments/create', { name: 'doomed' }, 'Experiment(name=doomed) already exists.', 400, 'RESOURCE_ALREADY_EXISTS');

      // no new runs, no writes to its runs
      await bad(p, '/runs/create', { experiment_id: exp }, `The experiment ${exp} must be in the 'active' state. Current state is deleted.`);
      await bad(p, '/runs/log-metric', { run_id: r1, key: 'm', value: 9, timestamp: 11 }, NOT_ACTIVE(r1));
      await bad(p, '/runs/set-tag', { run_id: r1, key: 't', value: 'changed' }, NOT_ACTIVE(r1));
      await bad(p, '/experiments/set-experiment-tag', { experiment_id: exp, key: 'k', value: 'v' },
        `The experiment ${exp} must be in the 'active' state. Current state is deleted.`);
      // a run of a deleted experiment cannot be restored on its own
      await bad(p, '/runs/restore', { run_id: r1 }, `Cannot restore run ${r1}: its experiment is deleted. Restore the experiment first.`);
      expect((await getRun(p, r1)).info.lifecycle_stage).toBe('deleted');
      // deleting again: MLflow looks among active experiments only
      await bad(p, '/experiments/delete', { experiment_id: exp }, `No Experiment with id=${exp} exists`, 404, 'RESOURCE_DOES_NOT_EXIST');

      await ok(p, '/experiments/restore', { experiment_id: exp });
      expect(await getExperiment(p, exp)).toMatchObject({ ...expBefore, last_update_time: expect.any(Number) });
      // every run comes back (as in MLflow, also the one deleted on its own before), with all its data
      expect(await getRun(p, r1)).toEqual(before);
      expect((await getRun(p, r2)).info.lifecycle_stage).toBe('active');
      await ok(p, '/runs/log-metric', { run_id: r1, key: 'm', value: 9, timestamp: 11, step: 3 });
      await bad(p, '/experiments/restore', { experiment_id: exp }, `No Experiment with id=${exp} exists`, 404, 'RESOURCE_DOES_NOT_EXIST');
    });

    it('refuses the Default experiment, missing and unknown ids, and other projects', async () => {
      const p = await freshProject();
      const q = await freshProject();
      const e = await createExperiment(q, 'theirs');
      await bad(p, '/experiments/delete', { experiment_id: '0' }, "Cannot delete the default experiment '0'. This is an internally reserved experiment.");
      expect((await getExperiment(p, '0')).lifecycle_stage).toBe('active');
      for (const path of ['/experiments/delete', '/experiments/restore']) {
        await bad(p, path, {}, MISSING('experiment_id'));
        await bad(p, path, { experiment_id: '' }, MISSING('experiment_id'));
        await bad(p, path, { experiment_id: '7' }, 'No Experiment with id=7 exists', 404, 'RESOURCE_DOES_NOT_EXIST');
        await bad(p, path, { experiment_id: e }, `No Experiment with id=${e} exists`, 404, 'RESOURCE_DOES_NOT_EXIST');
      }
      expect((await getExperiment(q, e)).lifecycle_stage).toBe('active');
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('experiments/set-experiment-tag and delete-experiment-tag', () => {
    it('upserts, defaults the value to "", deletes, and leaves last_update_time as MLflow does', async () => {
      const p = await freshProject();
      const id = await createExperiment(p, 'tagged');
      const before = await getExperiment(p, id);
      await ok(p, '/experiments/set-experiment-tag', { experiment_id: id, key: 'b', value: '1' });
      await ok(p, '/experiments/set-experiment-tag', { experiment_id: id, key: 'a', value: 'x' });
      await ok(p, '/experiments/set-experiment-tag', { experiment_id: id, key: 'b', value: '2' });
      await ok(p, '/experiments/set-experiment-tag', { experiment_id: id, key: 'mlflow.note.content' });
      const v5000 = 'é'.repeat(5000);
      await ok(p, '/experiments/set-experiment-tag', { experiment_id: id, key: 'long', value: v5000 });
      expect(await getExperiment(p, id)).toEqual({
        ...before,
        tags: [
          { key: 'a', value: 'x' },
          { key: 'b', value: '2' },
          { key: 'long', value: v5000 },
          { key: 'mlflow.note.content', value: '' },
        ],
      });
      await ok(p, '/experiments/delete-experiment-tag', { experiment_id: id, key: 'b' });
      await ok(p, '/experiments/delete-experiment-tag', { experiment_id: id, key: 'long' });
      await ok(p, '/experiments/delete-experiment-tag', { experiment_id: id, key: 'mlflow.note.content' });
      expect((await getExperiment(p, id)).tags).toEqual([{ key: 'a', value: 'x' }]);
      await ok(p, '/experiments/delete-experiment-tag', { experiment_id: id, key: 'a' });
      expect(await getExperiment(p, id)).toEqual(before);
    });

    it('validation, unknown tags and experiments, deleted experiments, other projects', async () => {
      const p = await freshProject();
      const q = await freshProject();
      const id = await createExperiment(p, 'e');
      await createExperiment(q, 'first');
      const theirs = await createExperiment(q, 'theirs'); // "2": a number p does not have
      await ok(q, '/experiments/set-experiment-tag', { experiment_id: theirs, key: 'k', value: 'v' });

      await bad(p, '/experiments/set-experiment-tag', { key: 'k', value: 'v' }, MISSING('experiment_id'));
      await bad(p, '/experiments/set-experiment-tag', { experiment_id: id, value: 'v' }, MISSING('key'));
      await bad(p, '/experiments/set-experiment-tag', { experiment_id: id, key: '', value: 'v' }, MISSING('key'));
      await bad(p, '/experiments/set-experiment-tag', { experiment_id: id, key: 'a//b', value: 'v' }, /^Invalid value "a\/\/b" for parameter 'key' supplied/);
      await bad(p, '/experiments/set-experiment-tag', { experiment_id: id, key: 'k!', value: 'v' }, /^Invalid value "k!" for parameter 'key' supplied: Names may only contain/);
      await bad(p, '/experiments/set-experiment-tag', { experiment_id: id, key: 'k'.repeat(251), value: 'v' }, "'key' exceeds the maximum length of 250 characters");
      await bad(p, '/experiments/set-experiment-tag', { experiment_id: id, key: 'k', value: 'v'.repeat(5001) }, "'value' exceeds the maximum length of 5000 characters");
      await bad(p, '/experiments/set-experiment-tag', { experiment_id: id, key: 'k', value: 5 }, /^Invalid value 5 for parameter 'value' supplied/);
      await bad(p, '/experiments/set-experiment-tag', { experiment_id: '9', key: 'k', value: 'v' }, 'No Experiment with id=9 exists', 404, 'RESOURCE_DOES_NOT_EXIST');
      await bad(p, '/experiments/set-experiment-tag', { experiment_id: theirs, key: 'k', value: 'mine' }, `No Experiment with id=${theirs} exists`, 404, 'RESOURCE_DOES_NOT_EXIST');
      expect((await getExperiment(p, id)).tags).toBeUndefined();

      await bad(p, '/experiments/delete-experiment-tag', { key: 'k' }, MISSING('experiment_id'));
      await bad(p, '/experiments/delete-experiment-tag', { experiment_id: id }, MISSING('key'));
      await bad(p, '/experiments/delete-experiment-tag', { experiment_id: id, key: 'nope' }, `No tag with name: nope in experiment with id ${id}`, 404, 'RESOURCE_DOES_NOT_EXIST');
      await bad(p, '/experiments/delete-experiment-tag', { experiment_id: theirs, key: 'k' }, `No Experiment with id=${theirs} exists`, 404, 'RESOURCE_DOES_NOT_EXIST');
      expect((await getExperiment(q, theirs)).tags).toEqual([{ key: 'k', value: 'v' }]);

      await ok(p, '/experiments/set-experiment-tag', { experiment_id: id, key: 'k', value: 'v' });
      await ok(p, '/experiments/delete', { experiment_id: id });
      const deletedMsg = `The experiment ${id} must be in the 'active' state. Current state is deleted.`;
      await bad(p, '/experiments/set-experiment-tag', { experiment_id: id, key: 'k', value: 'w' }, deletedMsg);
      await bad(p, '/experiments/delete-experiment-tag', { experiment_id: id, key: 'k' }, deletedMsg);
      expect((await getExperiment(p, id)).tags).toEqual([{ key: 'k', value: 'v' }]);
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('runs/set-tag and delete-tag', () => {
    it('upserts tags; mlflow.runName renames the run; an empty run name changes nothing', async () => {
      const p = await freshProject();
      const exp = await createExperiment(p, 'e');
      const id = await createRun(p, exp, { run_name: 'first' });
      await ok(p, '/runs/set-tag', { run_id: id, key: 'k', value: 'v' });
      await ok(p, '/runs/set-tag', { run_uuid: id, key: 'k', value: 'w' }); // older clients: run_uuid only
      await ok(p, '/runs/set-tag', { run_id: id, key: 'empty' });
      await ok(p, '/runs/set-tag', { run_id: id, key: 'long', value: 'x'.repeat(9000) }); // truncated to 8000
      let run = await getRun(p, id);
      expect(tagsOf(run)).toEqual({ 'mlflow.runName': 'first', k: 'w', empty: '', long: 'x'.repeat(8000) });

      await ok(p, '/runs/set-tag', { run_id: id, key: 'mlflow.runName', value: 'second' });
      run = await getRun(p, id);
      expect(run.info.run_name).toBe('second');
      expect(tagsOf(run)['mlflow.runName']).toBe('second');

      await ok(p, '/runs/set-tag', { run_id: id, key: 'mlflow.runName', value: '' });
      await ok(p, '/runs/log-batch', { run_id: id, tags: [{ key: 'mlflow.runName', value: '' }] });
      run = await getRun(p, id);
      expect(run.info.run_name).toBe('second');
      expect(tagsOf(run)['mlflow.runName']).toBe('second');
      // too long for the run name column: refused everywhere a name can come in, never a 500
      const long = 'n'.repeat(251);
      const tooLong = `Run name '${long}' exceeds the maximum length of 250 characters.`;
      await bad(p, '/runs/log-batch', { run_id: id, tags: [{ key: 'mlflow.runName', value: long }] }, tooLong);
      await bad(p, '/runs/update', { run_id: id, run_name: long }, tooLong);
      await bad(p, '/runs/create', { experiment_id: exp, tags: [{ key: 'mlflow.runName', value: long }] }, tooLong);
      expect((await getRun(p, id)).info.run_name).toBe('second');

      await ok(p, '/runs/set-tag', { run_id: id, key: 'mlflow.runName', value: 'n'.repeat(250) });
      expect((await getRun(p, id)).info.run_name).toBe('n'.repeat(250));
      await bad(p, '/runs/set-tag', { run_id: id, key: 'mlflow.runName', value: 'n'.repeat(251) },
        `Run name '${'n'.repeat(251)}' exceeds the maximum length of 250 characters.`);
      expect((await getRun(p, id)).info.run_name).toBe('n'.repeat(250));

      await ok(p, '/runs/delete-tag', { run_id: id, key: 'k' });
      await ok(p, '/runs/delete-tag', { run_id: id, key: 'empty' });
      await ok(p, '/runs/delete-tag', { run_id: id, key: 'long' });
      // deleting the name tag leaves the run's name, as in MLflow
      await ok(p, '/runs/delete-tag', { run_id: id, key: 'mlflow.runName' });
      run = await getRun(p, id);
      expect(run.data.tags).toBeUndefined();
      expect(run.info.run_name).toBe('n'.repeat(250));
    });

    it('validation, unknown runs and tags, other projects', async () => {
      const p = await freshProject();
      const q = await freshProject();
      const id = await createRun(p, await createExperiment(p, 'e'));
      const theirs = await createRun(q, await createExperiment(q, 'e'));
      const unknown = 'f'.repeat(32);

      await bad(p, '/runs/set-tag', { key: 'k', value: 'v' }, MISSING('run_id'));
      await bad(p, '/runs/set-tag', { run_id: '', key: 'k', value: 'v' }, MISSING('run_id'));
      await bad(p, '/runs/set-tag', { run_id: id, value: 'v' }, MISSING('key'));
      await bad(p, '/runs/set-tag', { run_id: id, key: '', value: 'v' }, MISSING('key'));
      await bad(p, '/runs/set-tag', { run_id: id, key: '../k', value: 'v' }, /^Invalid value "\.\.\/k" for parameter 'key' supplied/);
      await bad(p, '/runs/set-tag', { run_id: id, key: 'k'.repeat(251), value: 'v' }, "'key' exceeds the maximum length of 250 characters");
      await bad(p, '/runs/set-tag', { run_id: unknown, key: 'k', value: 'v' }, `Run with id=${unknown} not found`, 404, 'RESOURCE_DOES_NOT_EXIST');
      await bad(p, '/runs/set-tag', { run_id: theirs, key: 'k', value: 'v' }, `Run with id=${theirs} not found`, 404, 'RESOURCE_DOES_NOT_EXIST');
      expect(tagsOf(await getRun(q, theirs)).k).toBeUndefined();

      await bad(p, '/runs/delete-tag', { key: 'k' }, MISSING('run_id'));
      await bad(p, '/runs/delete-tag', { run_id: id }, MISSING('key'));
      await bad(p, '/runs/delete-tag', { run_id: id, key: 'nope' }, `No tag with name: nope in run with id ${id}`, 404, 'RESOURCE_DOES_NOT_EXIST');
      await bad(p, '/runs/delete-tag', { run_id: theirs, key: 'mlflow.runName' }, `Run with id=${theirs} not found`, 404, 'RESOURCE_DOES_NOT_EXIST');
      expect(tagsOf(await getRun(q, theirs))['mlflow.runName']).toBeDefined();
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('runs/delete and restore', () => {
    it('soft delete refuses every write and writes nothing; restore makes the run writable again', async () => {
      const p = await freshProject();
      const exp = await createExperiment(p, 'e');
      const id = await createRun(p, exp, { run_name: 'victim' });
      await ok(p, '/runs/log-batch', { run_id: id, metrics: [{ key: 'm', value: 1, timestamp: 1, step: 0 }], params: [{ key: 'p', value: '1' }], tags: [{ key: 't', value: '1' }] });
      await ok(p, '/runs/delete', { run_id: id });
      const deleted = await getRun(p, id);
      expect(deleted.info.lifecycle_stage).toBe('deleted');
      // deleting a deleted run is fine (MLflow stamps it again)
      await ok(p, '/runs/delete', { run_uuid: id });

      const dataset = { name: 'd', digest: 'x', source_type: 'local', source: '{}' };
      const model = JSON.stringify({ artifact_path: 'm', flavors: {}, utc_time_created: '2024-01-01 00:00:00.000000', run_id: id });
      const writes: [string, Record<string, unknown>][] = [
        ['/runs/log-metric', { run_id: id, key: 'm', value: 2, timestamp: 2 }],
        ['/runs/log-parameter', { run_id: id, key: 'p2', value: '2' }],
        ['/runs/log-batch', { run_id: id, metrics: [{ key: 'n', value: 1, timestamp: 1 }], tags: [{ key: 't2', value: 'v' }] }],
        ['/runs/set-tag', { run_id: id, key: 't', value: 'changed' }],
        ['/runs/set-tag', { run_id: id, key: 'mlflow.runName', value: 'renamed' }],
        ['/runs/delete-tag', { run_id: id, key: 't' }],
        ['/runs/update', { run_id: id, status: 'FINISHED', end_time: 5 }],
        ['/runs/log-inputs', { run_id: id, datasets: [{ dataset }] }],
        ['/runs/log-model', { run_id: id, model_json: model }],
        ['/runs/outputs', { run_id: id, models: [{ model_id: 'm-1', step: 0 }] }],
      ];
      for (const [path, body] of writes) await bad(p, path, body, NOT_ACTIVE(id));
      expect(await getRun(p, id)).toEqual(deleted);

      await ok(p, '/runs/restore', { run_id: id });
      const restored = await getRun(p, id);
      expect(restored).toEqual({ ...deleted, info: { ...deleted.info, lifecycle_stage: 'active' } });
      for (const [path, body] of writes) {
        const res = await post(p, path, body);
        expect(res.status, `${path} ${JSON.stringify(res.body)}`).toBe(200);
      }
      const after = await getRun(p, id);
      expect(after.info.run_name).toBe('renamed');
      expect(after.info.status).toBe('FINISHED');
      expect(tagsOf(after).t).toBeUndefined();
      // restoring an active run changes nothing
      await ok(p, '/runs/restore', { run_id: id });
      expect(await getRun(p, id)).toEqual(after);
    });

    it('missing, unknown and foreign run ids', async () => {
      const p = await freshProject();
      const q = await freshProject();
      const theirs = await createRun(q, await createExperiment(q, 'e'));
      for (const path of ['/runs/delete', '/runs/restore']) {
        await bad(p, path, {}, MISSING('run_id'));
        await bad(p, path, { run_id: 'f'.repeat(32) }, `Run with id=${'f'.repeat(32)} not found`, 404, 'RESOURCE_DOES_NOT_EXIST');
        await bad(p, path, { run_id: theirs }, `Run with id=${theirs} not found`, 404, 'RESOURCE_DOES_NOT_EXIST');
      }
      expect((await getRun(q, theirs)).info.lifecycle_stage).toBe('active');
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('runs/log-inputs', () => {
    const iris = { name: 'iris', digest: 'abc123', source_type: 'local', source: '{"uri": "/data/iris.csv"}', schema: '{"mlflow_colspec": []}', profile: '{"num_rows": 150}' };
    const wine = { name: 'wine', digest: 'def456', source_type: 'http', source: '{"url": "https://x/wine.csv"}' };

    it('records datasets with their input tags; runs/get shows them as MLflow does', async () => {
      const p = await freshProject();
      const exp = await createExperiment(p, 'e');
      const id = await createRun(p, exp);
      expect((await getRun(p, id)).inputs).toEqual({});
      await ok(p, '/runs/log-inputs', {
        run_id: id,
        datasets: [
          { tags: [{ key: 'mlflow.data.context', value: 'train' }, { key: 'b', value: '2' }], dataset: iris },
          { dataset: wine },
          { tags: [{ key: 'ignored', value: 'dup' }], dataset: { ...iris, source: 'other' } }, // same name and digest: dropped
        ],
        models: [{ model_id: 'm-0123' }],
      });
      const run = await getRun(p, id);
      expect(run.inputs).toEqual({
        dataset_inputs: [
          { tags: [{ key: 'b', value: '2' }, { key: 'mlflow.data.context', value: 'train' }], dataset: iris },
          { dataset: wine },
        ],
      });
      expect(run.outputs).toEqual({});

      // logged again: nothing new, the first tags stay (MLflow links a dataset to a run once)
      await ok(p, '/runs/log-inputs', { run_id: id, datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'eval' }], dataset: iris }] });
      expect((await getRun(p, id)).inputs).toEqual(run.inputs);
      // an empty request is fine
      await ok(p, '/runs/log-inputs', { run_id: id });
      await ok(p, '/runs/log-inputs', { run_uuid: id, datasets: [] });
    });

    it('datasets are shared within an experiment on (name, digest), separate across experiments', async () => {
      const p = await freshProject();
      const e1 = await createExperiment(p, 'e1');
      const e2 = await createExperiment(p, 'e2');
      const a = await createRun(p, e1);
      const b = await createRun(p, e1);
      const c = await createRun(p, e2);
      await ok(p, '/runs/log-inputs', { run_id: a, datasets: [{ dataset: wine }] });
      // same name and digest, another source: run b gets the experiment's existing dataset
      await ok(p, '/runs/log-inputs', { run_id: b, datasets: [{ tags: [{ key: 'k', value: 'v' }], dataset: { ...wine, source: 'elsewhere' } }] });
      // another experiment: its own dataset
      await ok(p, '/runs/log-inputs', { run_id: c, datasets: [{ dataset: { ...wine, source: 'elsewhere' } }] });
      // same name, another digest: another dataset
      await ok(p, '/runs/log-inputs', { run_id: b, datasets: [{ dataset: { ...wine, digest: 'v2' } }] });
      expect((await getRun(p, a)).inputs).toEqual({ dataset_inputs: [{ dataset: wine }] });
      expect((await getRun(p, b)).inputs).toEqual({
        dataset_inputs: [{ tags: [{ key: 'k', value: 'v' }], dataset: wine }, { dataset: { ...wine, digest: 'v2' } }],
      });
      expect((await getRun(p, c)).inputs).toEqual({ dataset_inputs: [{ dataset: { ...wine, source: 'elsewhere' } }] });
      const rows = await s.t.db('datasets').whereIn('experiment_id', s.t.db('experiments').where({ project_id: p.id }).select('id'));
      expect(rows).toHaveLength(3);
    });

    it('validation, with nothing written when any dataset is refused', async () => {
      const p = await freshProject();
      const q = await freshProject();
      const id = await createRun(p, await createExperiment(p, 'e'));
      const theirs = await createRun(q, await createExperiment(q, 'e'));
      const one = (dataset: unknown, tags?: unknown) => ({ run_id: id, datasets: [{ dataset: wine }, { dataset, ...(tags ? { tags } : {}) }] });

      await bad(p, '/runs/log-inputs', { datasets: [{ dataset: wine }] }, MISSING('run_id'));
      await bad(p, '/runs/log-inputs', { run_id: 'bad id!', datasets: [{ dataset: wine }] }, 'Invalid value "bad id!" for parameter \'run_id\' supplied.');
      await bad(p, '/runs/log-inputs', { run_id: id, datasets: [{ dataset: wine }, {}] }, 'Dataset cannot be None');
      await bad(p, '/runs/log-inputs', one({ ...wine, name: undefined }), 'Dataset name cannot be None');
      await bad(p, '/runs/log-inputs', one({ ...wine, digest: undefined }), 'Dataset digest cannot be None');
      await bad(p, '/runs/log-inputs', one({ ...wine, source_type: undefined }), 'Dataset source_type cannot be None');
      await bad(p, '/runs/log-inputs', one({ ...wine, source: undefined }), 'Dataset source cannot be None');
      await bad(p, '/runs/log-inputs', one({ ...wine, name: 'n'.repeat(501) }), "'name' exceeds the maximum length of 500 characters");
      await bad(p, '/runs/log-inputs', one({ ...wine, digest: 'd'.repeat(37) }), "'digest' exceeds the maximum length of 36 characters");
      await bad(p, '/runs/log-inputs', one({ ...wine, source_type: 's'.repeat(37) }), "'source_type' exceeds the maximum length of 36 characters");
      await bad(p, '/runs/log-inputs', one({ ...wine, source: 's'.repeat(65536) }), "'source' exceeds the maximum length of 65535 characters");
      await bad(p, '/runs/log-inputs', one(wine, [{ value: 'v' }]), 'InputTag key cannot be None');
      await bad(p, '/runs/log-inputs', one(wine, [{ key: 'k' }]), 'InputTag value cannot be None');
      await bad(p, '/runs/log-inputs', one(wine, [{ key: 'k'.repeat(256), value: 'v' }]), "'key' exceeds the maximum length of 255 characters");
      await bad(p, '/runs/log-inputs', one(wine, [{ key: 'k', value: 'v'.repeat(501) }]), "'value' exceeds the maximum length of 500 characters");
      await bad(p, '/runs/log-inputs', { run_id: id, datasets: 'wine' }, /^Invalid value "wine" for parameter 'datasets' supplied/);
      await bad(p, '/runs/log-inputs', { run_id: 'f'.repeat(32), datasets: [{ dataset: wine }] }, `Run with id=${'f'.repeat(32)} not found`, 404, 'RESOURCE_DOES_NOT_EXIST');
      await bad(p, '/runs/log-inputs', { run_id: theirs, datasets: [{ dataset: wine }] }, `Run with id=${theirs} not found`, 404, 'RESOURCE_DOES_NOT_EXIST');
      expect((await getRun(p, id)).inputs).toEqual({});
      expect((await getRun(q, theirs)).inputs).toEqual({});
      expect(await s.t.db('datasets').whereIn('experiment_id', s.t.db('experiments').whereIn('project_id', [p.id, q.id]).select('id'))).toEqual([]);
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('runs/log-model and runs/outputs', () => {
    it('log-model appends to the mlflow.log-model.history tag, a JSON list written as Python writes it', async () => {
      const p = await freshProject();
      const id = await createRun(p, await createExperiment(p, 'e'));
      const first = {
        run_id: id,
        artifact_path: 'model',
        utc_time_created: '2024-04-05 19:21:18.901234',
        flavors: { python_function: { loader_module: 'mlflow.sklearn', python_version: '3.11.4', config: { x: 1 } }, sklearn: { sklearn_version: '1.4.2' } },
        model_uuid: 'a1b2c3',
        mlflow_version: '2.12.1',
        signature: { inputs: '[]' },
      };
      await ok(p, '/runs/log-model', { run_id: id, model_json: JSON.stringify(first) });
      const tag1 = tagsOf(await getRun(p, id))['mlflow.log-model.history'];
      expect(tag1).toBe(
        `[{"run_id": "${id}", "artifact_path": "model", "utc_time_created": "2024-04-05 19:21:18.901234", "model_uuid": "a1b2c3", ` +
          '"flavors": {"python_function": {"loader_module": "mlflow.sklearn", "python_version": "3.11.4"}, "sklearn": {"sklearn_version": "1.4.2"}}}]',
      );

      const second = { run_id: id, artifact_path: 'dir/model2', utc_time_created: '2024-04-05 19:22:00.000000', flavors: { pytorch: { pytorch_version: '2.2', code: null } }, extra: 'é' };
      await ok(p, '/runs/log-model', { run_uuid: id, model_json: JSON.stringify(second) });
      const history = JSON.parse(tagsOf(await getRun(p, id))['mlflow.log-model.history']);
      expect(history).toEqual([
        JSON.parse(tag1)[0],
        { run_id: id, artifact_path: 'dir/model2', utc_time_created: '2024-04-05 19:22:00.000000', model_uuid: null, flavors: { pytorch: { pytorch_version: '2.2', code: null } } },
      ]);
      await ok(p, '/runs/log-model', { run_id: id, model_json: JSON.stringify({ ...second, artifact_path: 'third' }) });
      expect(JSON.parse(tagsOf(await getRun(p, id))['mlflow.log-model.history']).map((m: any) => m.artifact_path)).toEqual(['model', 'dir/model2', 'third']);
    });

    it('log-model validation', async () => {
      const p = await freshProject();
      const q = await freshProject();
      const id = await createRun(p, await createExperiment(p, 'e'));
      const theirs = await createRun(q, await createExperiment(q, 'e'));
      const full = JSON.stringify({ artifact_path: 'm', flavors: {}, utc_time_created: 't', run_id: id });
      await bad(p, '/runs/log-model', { model_json: full }, MISSING('run_id'));
      await bad(p, '/runs/log-model', { run_id: id }, MISSING('model_json'));
      await bad(p, '/runs/log-model', { run_id: id, model_json: '' }, MISSING('model_json'));
      await bad(p, '/runs/log-model', { run_id: id, model_json: '{not json' }, 'Malformed model info. \n {not json \n is not a valid JSON.');
      await bad(p, '/runs/log-model', { run_id: id, model_json: JSON.stringify({ artifact_path: 'm', run_id: id }) },
        "Model json is missing mandatory fields: {'flavors', 'utc_time_created'}");
      await bad(p, '/runs/log-model', { run_id: id, model_json: '[1, 2]' },
        "Model json is missing mandatory fields: {'artifact_path', 'flavors', 'utc_time_created', 'run_id'}");
      await bad(p, '/runs/log-model', { run_id: theirs, model_json: full }, `Run with id=${theirs} not found`, 404, 'RESOURCE_DOES_NOT_EXIST');
      expect(tagsOf(await getRun(p, id))['mlflow.log-model.history']).toBeUndefined();
      expect(tagsOf(await getRun(q, theirs))['mlflow.log-model.history']).toBeUndefined();
    });

    it('runs/outputs (MLflow 3 LogOutputs) answers {} and records nothing', async () => {
      const p = await freshProject();
      const id = await createRun(p, await createExperiment(p, 'e'));
      const before = await getRun(p, id);
      await ok(p, '/runs/outputs', { run_id: id, models: [{ model_id: 'm-0123456789abcdef0123456789abcdef', step: 3 }] });
      await ok(p, '/runs/outputs', { run_id: id, models: [] });
      expect(await getRun(p, id)).toEqual(before);
      await bad(p, '/runs/outputs', { models: [] }, MISSING('run_id'));
      await bad(p, '/runs/outputs', { run_id: id }, MISSING('models'));
      await bad(p, '/runs/outputs', { run_id: 'f'.repeat(32), models: [] }, `Run with id=${'f'.repeat(32)} not found`, 404, 'RESOURCE_DOES_NOT_EXIST');
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('permissions', () => {
    it('read_api and reporter tokens cannot write (403); strangers do not see the project (404); nothing changes', async () => {
      const exp = await createExperiment(s.project, `perm-${kind}`);
      const id = await createRun(s.project, exp);
      const before = await getRun(s.project, id);
      const expBefore = await getExperiment(s.project, exp);
      const writes: [string, Record<string, unknown>][] = [
        ['/experiments/update', { experiment_id: exp, new_name: 'x' }],
        ['/experiments/delete', { experiment_id: exp }],
        ['/experiments/restore', { experiment_id: exp }],
        ['/experiments/set-experiment-tag', { experiment_id: exp, key: 'k', value: 'v' }],
        ['/experiments/delete-experiment-tag', { experiment_id: exp, key: 'k' }],
        ['/runs/set-tag', { run_id: id, key: 'k', value: 'v' }],
        ['/runs/delete-tag', { run_id: id, key: 'mlflow.runName' }],
        ['/runs/delete', { run_id: id }],
        ['/runs/restore', { run_id: id }],
        ['/runs/log-inputs', { run_id: id, datasets: [{ dataset: { name: 'd', digest: 'x', source_type: 'l', source: 's' } }] }],
        ['/runs/log-model', { run_id: id, model_json: '{"artifact_path": "m", "flavors": {}, "utc_time_created": "t", "run_id": "x"}' }],
        ['/runs/outputs', { run_id: id, models: [] }],
      ];
      for (const [path, body] of writes) {
        for (const token of [s.tokens.read, s.tokens.reporter]) {
          const res = await post(s.project, path, body, token);
          expect(res.status, `${path} ${JSON.stringify(res.body)}`).toBe(403);
          expect(res.body.error_code).toBe('PERMISSION_DENIED');
        }
        const stranger = await post(s.project, path, body, s.tokens.stranger);
        expect(stranger.status, path).toBe(404);
        expect(stranger.body.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
      }
      expect(await getRun(s.project, id)).toEqual(before);
      expect(await getExperiment(s.project, exp)).toEqual(expBefore);
    });
  });
});
