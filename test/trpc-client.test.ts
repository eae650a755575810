import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRPCClientError } from '@trpc/client';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { createMltrackClient } from '../client/index.ts';

describe.each(DB_KINDS)('typed tRPC client (%s)', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(kind);
  });
  afterAll(async () => s?.close());

  it('creates and reads experiments and runs with typed results', async () => {
    const c = createMltrackClient({ url: s.baseUrl, token: s.tokens.write, project: s.project.path });
    const { experiment_id } = await c.experiments.create.mutate({ name: 'typed', tags: [{ key: 'k', value: 'v' }] });
    expect(experiment_id).toBe('1');
    const { experiment } = await c.experiments.get.query({ experiment_id });
    expect(experiment.name).toBe('typed');
    expect(experiment.tags).toEqual([{ key: 'k', value: 'v' }]);
    const { run } = await c.runs.create.mutate({ experiment_id, run_name: 'r1', start_time: 1000 });
    expect(run.info.run_name).toBe('r1');
    await c.runs.logBatch.mutate({
      run_id: run.info.run_id,
      metrics: [
        { key: 'm', value: 0.5, timestamp: 1, step: 9007199254740993n },
        { key: 'n', value: Number.NaN, timestamp: 1, step: 0 },
      ],
      params: [{ key: 'p', value: 'x' }],
    });
    const got = await c.runs.get.query({ run_id: run.info.run_id });
    expect(got.run.data.params).toEqual([{ key: 'p', value: 'x' }]);
    expect(got.run.data.metrics).toEqual([
      { key: 'm', value: 0.5, timestamp: 1, step: 9007199254740993n },
      { key: 'n', value: 'NaN', timestamp: 1, step: 0 },
    ]);
  });

  it('maps errors: MLflow error code in error.data.mlflow and the matching HTTP status', async () => {
    const c = createMltrackClient({ url: s.baseUrl, token: s.tokens.write, project: s.project.id });
    const err = await c.runs.get.query({ run_id: 'f'.repeat(32) }).catch((e) => e);
    expect(err).toBeInstanceOf(TRPCClientError);
    expect(err.data.httpStatus).toBe(404);
    expect(err.data.mlflow).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Run with id=${'f'.repeat(32)} not found` });

    const dup = await c.experiments.create.mutate({ name: 'Default' }).catch((e) => e);
    expect(dup.data.mlflow.error_code).toBe('RESOURCE_ALREADY_EXISTS');
    expect(dup.data.httpStatus).toBe(400);
  });

  it('applies the same middleware: read_api token cannot write, strangers see no project', async () => {
    const ro = createMltrackClient({ url: s.baseUrl, token: s.tokens.read, project: s.project.id, batch: false });
    expect((await ro.experiments.list.query({})).experiments.map((e) => e.name)).toContain('Default');
    const w = await ro.experiments.create.mutate({ name: 'nope' }).catch((e) => e);
    expect(w.data.httpStatus).toBe(403);
    const stranger = createMltrackClient({ url: s.baseUrl, token: s.tokens.stranger, project: s.project.id, batch: false });
    const nf = await stranger.experiments.list.query({}).catch((e) => e);
    expect(nf.data?.httpStatus ?? nf.meta?.response?.status).toBe(404);
  });

  it('admin procedures: users, projects, members, tokens', async () => {
    const admin = createMltrackClient({ url: s.baseUrl, token: s.tokens.admin });
    const u = await admin.admin.createUser.mutate({ username: 'carol' });
    const p = await admin.admin.createProject.mutate({ path: 'carol/work', owner_id: u.id });
    const { token, info } = await admin.admin.createToken.mutate({ user_id: u.id, name: 'laptop', scopes: ['api'] });
    expect(info.scopes).toEqual(['api']);
    const carol = createMltrackClient({ url: s.baseUrl, token, project: 'carol/work' });
    expect((await carol.experiments.create.mutate({ name: 'mine' })).experiment_id).toBe('1');
    expect((await admin.admin.revokeToken.mutate({ id: info.id })).revoked).toBe(true);
    const denied = await carol.experiments.list.query({}).catch((e) => e);
    expect(denied.data?.httpStatus ?? denied.meta?.response?.status).toBe(401);
    expect(p.path).toBe('carol/work');
    expect(await admin.admin.removeMember.mutate({ project_id: p.id, user_id: u.id })).toEqual({ removed: true });
    expect(await admin.admin.listMembers.query({ project_id: p.id })).toEqual([]);
    const dev = createMltrackClient({ url: s.baseUrl, token: s.tokens.write });
    const forbidden = await dev.admin.listUsers.query().catch((e) => e);
    expect(forbidden.data.httpStatus).toBe(403);
  });
});
