import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS, statements } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { createUser } from '../db/users.ts';
import { createToken, revokeToken } from '../db/tokens.ts';
import { removeMember, setMember } from '../db/projects.ts';
import { ACCESS } from '../core/accounts.ts';
import { hotPath } from '../db/hot.ts';

/**
 * The lean request path (issue 11, CPU per request): auth and project in one statement, runs/create in four, and
 * nothing remembered across requests that could let a revoked token or a removed member through.
 */
describe.each(DB_KINDS)('request path (%s)', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(kind);
  });
  afterAll(async () => s?.close());

  const auth = (token = s.tokens.write) => ({ Authorization: `Bearer ${token}` });
  const create = (body: object, token?: string, project?: { id: number }) =>
    s.request.post(s.mlflow(project) + '/runs/create').set(auth(token)).send(body);

  it('runs/create is one auth statement and four more: BEGIN, INSERT run, INSERT tags, COMMIT', async () => {
    const { experiment_id } = (await s.request.post(s.mlflow() + '/experiments/create').set(auth()).send({ name: 'counted' })).body;
    expect((await create({ experiment_id })).status).toBe(200); // the first create of an experiment looks it up
    const sqls = await statements(s.t.db, async () => {
      const res = await create({ experiment_id, run_name: 'r', tags: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }] });
      expect(res.status).toBe(200);
    });
    const authSql = sqls.filter((q) => /from access_tokens/i.test(q));
    expect(authSql).toHaveLength(1);
    const rest = sqls.filter((q) => !authSql.includes(q));
    expect(rest).toHaveLength(4);
    expect(rest[0]).toMatch(/^BEGIN/i);
    expect(rest[1]).toMatch(/^INSERT INTO runs /);
    expect(rest[2]).toMatch(/^INSERT INTO tags /);
    expect(rest[3]).toMatch(/^COMMIT/i);
  });

  it('runs/get is one auth statement and at most four more (on MySQL one script: one round trip)', async () => {
    const { run } = (await create({ experiment_id: '0' })).body;
    const sqls = await statements(s.t.db, async () => {
      expect((await s.request.get(s.mlflow() + '/runs/get').set(auth()).query({ run_id: run.info.run_id })).status).toBe(200);
    });
    expect(sqls.filter((q) => /from access_tokens/i.test(q))).toHaveLength(1);
    const rest = sqls.filter((q) => !/from access_tokens/i.test(q));
    if (kind === 'mysql') {
      // db/run-view.ts getRunScript: the four reads between the script's BEGIN and COMMIT, each naming the run by its MLflow id
      expect(rest.map((q) => q.split(' ')[0]!.toUpperCase())).toEqual(['BEGIN', 'SELECT', 'SELECT', 'SELECT', 'SELECT', 'COMMIT']);
      expect(rest.slice(2, 5).every((q) => /run_id = \(SELECT id FROM runs WHERE run_uuid = \?/.test(q))).toBe(true);
    } else {
      expect(rest.length).toBeLessThanOrEqual(4);
    }
  });

  it("runs/create's answer, built without reading back, is what runs/get reads", async () => {
    const { experiment_id } = (await s.request.post(s.mlflow() + '/experiments/create').set(auth()).send({ name: 'same answer', artifact_location: 's3://bucket/x//' })).body;
    for (const body of [
      { experiment_id },
      { experiment_id, run_name: 'named', start_time: 1234, tags: [{ key: 'z', value: '1' }, { key: 'Z', value: '2' }, { key: 'z', value: '3' }, { key: 'é', value: '' }] },
      { experiment_id, user_id: 'someone', tags: [{ key: 'mlflow.runName', value: 'by tag' }], start_time: '9007199254740993' },
      { experiment_id: Number(experiment_id), tags: [{ key: 'mlflow.user', value: 'tagged' }] },
    ]) {
      const created = await create(body);
      expect(created.status).toBe(200);
      const got = await s.request.get(s.mlflow() + '/runs/get').set(auth()).query({ run_id: created.body.run.info.run_id });
      expect(created.text).toBe(got.text);
    }
    const named = await create({ experiment_id, run_name: 'n2', start_time: 5 });
    expect(named.body.run).toEqual({
      info: {
        run_id: named.body.run.info.run_id,
        run_uuid: named.body.run.info.run_id,
        run_name: 'n2',
        experiment_id,
        user_id: 'developer',
        status: 'RUNNING',
        start_time: 5,
        artifact_uri: `s3://bucket/x/${named.body.run.info.run_id}/artifacts`,
        lifecycle_stage: 'active',
      },
      data: { tags: [{ key: 'mlflow.runName', value: 'n2' }] },
      inputs: {},
      outputs: {},
    });
  });

  it('runs/get reads the same run whole as the general loader does: params, tags, NaN and infinite metrics, datasets', async () => {
    const { run } = (await create({ experiment_id: '0', tags: [{ key: 't', value: 'v' }] })).body;
    const run_id = run.info.run_id;
    const batch = {
      run_id,
      params: [{ key: 'p2', value: 'b' }, { key: 'p1', value: '' }],
      tags: [{ key: 'a', value: 'x'.repeat(3000) }],
      metrics: [
        { key: 'nan', value: 'NaN', timestamp: 1, step: 0 },
        { key: 'inf', value: 'Infinity', timestamp: 2, step: 1 },
        { key: 'ninf', value: '-Infinity', timestamp: 3, step: 2 },
        { key: 'big', value: 1.5e300, timestamp: '9007199254740993', step: '-9007199254740993' },
        { key: 'z', value: -0.25, timestamp: 4, step: 3 },
      ],
    };
    expect((await s.request.post(s.mlflow() + '/runs/log-batch').set(auth()).send(batch)).status).toBe(200);
    const datasets = [
      { tags: [{ key: 'mlflow.data.context', value: 'train' }, { key: 'b', value: '2' }], dataset: { name: 'd1', digest: 'x1', source_type: 'local', source: '{}', schema: '{"a":1}' } },
      { dataset: { name: 'd2', digest: 'x2', source_type: 'local', source: '{}', profile: '{"n":2}' } },
    ];
    expect((await s.request.post(s.mlflow() + '/runs/log-inputs').set(auth()).send({ run_id, datasets })).status).toBe(200);
    const lean = await s.request.get(s.mlflow() + '/runs/get').set(auth()).query({ run_id });
    hotPath.enabled = false;
    try {
      const general = await s.request.get(s.mlflow() + '/runs/get').set(auth()).query({ run_id });
      expect(lean.text).toBe(general.text);
    } finally {
      hotPath.enabled = true;
    }
    expect(lean.body.run.data.metrics.map((m: { key: string }) => m.key)).toEqual(['big', 'inf', 'nan', 'ninf', 'z']);
    expect(lean.body.run.data.params).toEqual([{ key: 'p1', value: '' }, { key: 'p2', value: 'b' }]);
    expect(lean.body.run.inputs.dataset_inputs).toHaveLength(2);
    const missing = await s.request.get(s.mlflow() + '/runs/get').set(auth()).query({ run_id: 'f'.repeat(32) });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Run with id=${'f'.repeat(32)} not found` });
  });

  it('an experiment deleted (or restored) after runs were created in it is seen by the very next create', async () => {
    const { experiment_id } = (await s.request.post(s.mlflow() + '/experiments/create').set(auth()).send({ name: 'goes away' })).body;
    expect((await create({ experiment_id })).status).toBe(200);
    expect((await s.request.post(s.mlflow() + '/experiments/delete').set(auth()).send({ experiment_id })).status).toBe(200);
    const refused = await create({ experiment_id });
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: `The experiment ${experiment_id} must be in the 'active' state. Current state is deleted.`,
    });
    expect((await s.request.post(s.mlflow() + '/experiments/restore').set(auth()).send({ experiment_id })).status).toBe(200);
    expect((await create({ experiment_id })).status).toBe(200);
    // the same experiment number in another project is another experiment
    const other = await s.developerProject(`group/other-${kind}`);
    const missing = await create({ experiment_id }, undefined, other);
    expect(missing.status).toBe(404);
    expect(missing.body.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
  });

  it('a revoked token is refused on the very next request', async () => {
    const { token, row } = await createToken(s.t.db, { userId: 2, name: 'soon revoked', scopes: ['api'] });
    expect((await create({ experiment_id: '0' }, token)).status).toBe(200);
    expect((await s.request.get(s.mlflow() + '/experiments/get').set(auth(token)).query({ experiment_id: '0' })).status).toBe(200);
    await revokeToken(s.t.db, row.id);
    for (const res of [await create({ experiment_id: '0' }, token), await s.request.get(s.mlflow() + '/experiments/get').set(auth(token)).query({ experiment_id: '0' })]) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error_code: 'UNAUTHENTICATED', message: 'Token was revoked. You have to re-authorize from the user.' });
    }
  });

  it('a removed member, or one whose role was lowered, is refused on the very next request', async () => {
    const user = await createUser(s.t.db, { username: `leaving-${kind}` });
    await setMember(s.t.db, s.project.id, user.id, ACCESS.developer);
    const { token } = await createToken(s.t.db, { userId: user.id, name: 't', scopes: ['api'] });
    expect((await create({ experiment_id: '0' }, token)).status).toBe(200);
    await setMember(s.t.db, s.project.id, user.id, ACCESS.reporter);
    const lowered = await create({ experiment_id: '0' }, token);
    expect(lowered.status).toBe(403);
    expect(lowered.body.error_code).toBe('PERMISSION_DENIED');
    expect((await s.request.get(s.mlflow() + '/experiments/get').set(auth(token)).query({ experiment_id: '0' })).status).toBe(200);
    await removeMember(s.t.db, s.project.id, user.id);
    for (const res of [await create({ experiment_id: '0' }, token), await s.request.get(s.mlflow() + '/experiments/get').set(auth(token)).query({ experiment_id: '0' })]) {
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Project not found' });
    }
    // and the same by path, and on the root mount (project 1, where the user never was a member)
    expect((await s.request.get(s.mlflow(s.project.path) + '/experiments/get').set(auth(token)).query({ experiment_id: '0' })).status).toBe(404);
    expect((await s.request.get('/api/2.0/mlflow/experiments/get').set(auth(token)).query({ experiment_id: '0' })).status).toBe(404);
  });
});
