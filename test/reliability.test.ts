import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { createToken } from '../db/tokens.ts';
import { createMltrackClient } from '../client/index.ts';

/**
 * The access cells of the reliability report (issue 9), each sent exactly as reported, with the answer and what is
 * stored afterwards asserted (the bad requests are in bad-input.test.ts).
 */
describe.each(DB_KINDS)('access, as reported (%s)', (kind) => {
  let s: TestServer;
  const auth = () => ({ Authorization: `Bearer ${s.tokens.write}` });
  beforeAll(async () => {
    s = await startServer(kind);
  });
  afterAll(async () => s?.close());

  it("an admin's read_api token may read the admin lists, never write", async () => {
    const { token } = await createToken(s.t.db, { userId: 1, name: 'ro', scopes: ['read_api'] });
    const admin = createMltrackClient({ url: s.baseUrl, token, batch: false }).admin;
    expect((await admin.listUsers.query()).map((u) => u.username)).toContain('admin');
    expect((await admin.listProjects.query()).map((p) => p.path)).toContain('group/project');
    expect((await admin.listTokens.query({})).length).toBeGreaterThan(0);
    const denied = await admin.createUser.mutate({ username: 'nope' }).catch((e) => e);
    expect(denied.data.httpStatus).toBe(403);
    expect(await s.t.db('users').where({ username: 'nope' }).first()).toBeUndefined();
  });

  it('POST logged-models with a source_run_id of another project is 404, and stores nothing', async () => {
    const foreignRun = (await s.request.post(`${s.mlflow(s.another)}/runs/create`).set(auth()).send({ experiment_id: '0' })).body.run.info.run_id;
    const before = await s.t.db('logged_models').count({ n: '*' }).first();
    const res = await s.request.post(`${s.mlflow()}/logged-models`).set(auth()).send({ experiment_id: '0', source_run_id: foreignRun });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Run with id=${foreignRun} not found` });
    expect(await s.t.db('logged_models').count({ n: '*' }).first()).toEqual(before);
  });
});
