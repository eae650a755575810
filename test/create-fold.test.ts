import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS, statements } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { createUser } from '../db/users.ts';
import { createProject, removeMember, setMember } from '../db/projects.ts';
import { createToken } from '../db/tokens.ts';
import { INSERT_RUN_FOLDED } from '../db/runs.ts';
import { ACCESS } from '../core/accounts.ts';

/**
 * runs/create with its authorization folded into the run's INSERT (server/create-fold.ts, db/create-auth.ts; MySQL
 * only, SQLite always goes the usual way): once a token has created runs in a project, its next runs/create there
 * skips the token's SELECT. Whatever changed since (token revoked, expired, scopes, membership, role, experiment,
 * project path) must be answered exactly as the usual way answers it, leaving no rows; both databases answer the
 * same literal values, MySQL through the folded attempt first.
 */
const isAuthSelect = (sql: string) => sql.startsWith('SELECT t.id, t.scopes');

describe.each(DB_KINDS)('runs/create with the folded authorization (%s)', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(kind);
  });
  afterAll(async () => s?.close());

  let seq = 0;
  /** A developer with an api token in a project of their own (single-segment path: the URL may name it plainly). */
  async function fixture() {
    const n = ++seq;
    const user = await createUser(s.t.db, { username: `folder-${n}` });
    const project = await createProject(s.t.db, { path: `fold-${kind}-${n}`, ownerId: 1 });
    await setMember(s.t.db, project.id, user.id, ACCESS.developer);
    const { token, row } = await createToken(s.t.db, { userId: user.id, name: 'fold', scopes: ['api', 'read_api'] });
    return { user, project, token, tokenId: row.id };
  }
  type Fixture = Awaited<ReturnType<typeof fixture>>;

  const create = (f: Fixture, body: object, via: string | number = f.project.id) =>
    s.request.post(`/api/v4/projects/${via}/ml/mlflow/api/2.0/mlflow/runs/create`).set({ Authorization: `Bearer ${f.token}` }).send(body);
  const count = async (table: string, where: Record<string, unknown> = {}) =>
    Number(((await s.t.db(table).where(where).count({ n: '*' })) as { n: number }[])[0]!.n);

  /** Creates until a create takes the folded way (MySQL: the script pool is open and the token's facts remembered). */
  async function warm(f: Fixture, experimentId = '0', via: string | number = f.project.id) {
    for (let i = 0; i < 3; i++) {
      let res;
      const sql = await statements(s.t.db, async () => (res = await create(f, { experiment_id: experimentId, run_name: `warm-${i}` }, via)));
      expect(res!.status).toBe(200);
      if (i === 2) {
        expect(sql.includes(INSERT_RUN_FOLDED)).toBe(kind === 'mysql');
        expect(sql.some(isAuthSelect)).toBe(kind === 'sqlite');
      }
    }
  }

  /**
   * The request is answered `status` and `body`, and nothing was written. On MySQL, `before` is what the folded
   * attempt sent before the usual way's token SELECT: its INSERT (`insert`), the experiment's lookup for a create
   * that failed before its INSERT (`lookup`), or nothing (`none`: it failed before any statement, or was not folded).
   */
  async function refused(f: Fixture, body: object, status: number, expected: object, via: string | number = f.project.id, before: 'insert' | 'lookup' | 'none' = 'insert') {
    const runs = await count('runs');
    const tags = await count('tags');
    let res;
    const sql = await statements(s.t.db, async () => (res = await create(f, body, via)));
    expect({ status: res!.status, body: res!.body }).toEqual({ status, body: expected });
    const auth = sql.findIndex(isAuthSelect);
    expect(auth).toBeGreaterThanOrEqual(0);
    const attempt = sql.slice(0, auth);
    if (kind === 'mysql' && before === 'insert') expect(attempt).toEqual(['BEGIN', INSERT_RUN_FOLDED, expect.stringMatching(/^INSERT INTO tags/), 'COMMIT']);
    else if (kind === 'mysql' && before === 'lookup') expect(attempt).toEqual([expect.stringMatching(/^select .* from `experiments`/)]);
    else expect(attempt).toEqual([]);
    expect(sql.includes(INSERT_RUN_FOLDED)).toBe(kind === 'mysql' && before === 'insert');
    expect(await count('runs')).toBe(runs);
    expect(await count('tags')).toBe(tags);
    // and again, the same answer
    const again = await create(f, body, via);
    expect({ status: again.status, body: again.body }).toEqual({ status, body: expected });
    expect(await count('runs')).toBe(runs);
  }

  const unauthenticated = (message: string) => ({ error_code: 'UNAUTHENTICATED', message });
  const denied = (message: string) => ({ error_code: 'PERMISSION_DENIED', message });
  const projectNotFound = { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Project not found' };

  it('a folded create answers and stores what the usual way does', async () => {
    const f = await fixture();
    const body = { experiment_id: '0', run_name: 'same', start_time: 1700000000123, tags: [{ key: 'a', value: '1' }, { key: 'b', value: '' }] };
    // the first create goes the usual way on both databases (nothing remembered yet)
    const usual = await create(f, body);
    await warm(f);
    let folded;
    const sql = await statements(s.t.db, async () => (folded = await create(f, body)));
    expect(sql.some(isAuthSelect)).toBe(kind === 'sqlite');
    if (kind === 'mysql') expect(sql).toEqual(['BEGIN', INSERT_RUN_FOLDED, expect.stringMatching(/^INSERT INTO tags/), 'COMMIT']);
    for (const res of [usual, folded!]) {
      expect(res.status).toBe(200);
      const id = res.body.run.info.run_id;
      expect(res.body).toEqual({
        run: {
          info: {
            run_id: id, run_uuid: id, run_name: 'same', experiment_id: '0', user_id: `folder-${seq}`, status: 'RUNNING',
            start_time: 1700000000123, artifact_uri: expect.stringMatching(new RegExp(`/${id}/artifacts$`)), lifecycle_stage: 'active',
          },
          data: { tags: [{ key: 'a', value: '1' }, { key: 'b', value: '' }, { key: 'mlflow.runName', value: 'same' }] },
          inputs: {},
          outputs: {},
        },
      });
      const row = await s.t.db('runs').where({ run_uuid: id }).first('id', 'project_id', 'creator_id', 'user_id', 'name', 'status', 'lifecycle_stage', 'artifact_uri');
      expect(row).toMatchObject({ project_id: f.project.id, creator_id: f.user.id, user_id: `folder-${seq}`, name: 'same', status: 'RUNNING', lifecycle_stage: 'active' });
      expect(row.artifact_uri).toBe(res.body.run.info.artifact_uri);
      expect(await s.t.db('tags').where({ run_id: row.id }).orderBy('key').select('key', 'value')).toEqual([
        { key: 'a', value: '1' }, { key: 'b', value: '' }, { key: 'mlflow.runName', value: 'same' },
      ]);
    }
    // the user_id given, or the mlflow.user tag, wins over the caller's name on the folded way too
    const named = await create(f, { experiment_id: '0', tags: [{ key: 'mlflow.user', value: 'someone' }] });
    expect(named.body.run.info.user_id).toBe('someone');
  });

  it('a revoked token', async () => {
    const f = await fixture();
    await warm(f);
    await s.t.db('access_tokens').where({ id: f.tokenId }).update({ revoked_at: Date.now() });
    await refused(f, { experiment_id: '0' }, 401, unauthenticated('Token was revoked. You have to re-authorize from the user.'));
  });

  it('a revoked token with a bad request: the token is answered first', async () => {
    const f = await fixture();
    await warm(f);
    await s.t.db('access_tokens').where({ id: f.tokenId }).update({ revoked_at: Date.now() });
    const revoked = unauthenticated('Token was revoked. You have to re-authorize from the user.');
    // (the folded attempt fails before any statement: the tag is refused in-process)
    await refused(f, { experiment_id: '0', tags: [{ key: 'bad key!', value: '1' }] }, 401, revoked, f.project.id, 'none');
    const res = await s.request.post(`/api/v4/projects/${f.project.id}/ml/mlflow/api/2.0/mlflow/runs/create`)
      .set({ Authorization: `Bearer ${f.token}`, 'Content-Type': 'application/json' }).send('{not json');
    expect({ status: res.status, body: res.body }).toEqual({ status: 401, body: revoked });
  });

  it('a deleted token', async () => {
    const f = await fixture();
    await warm(f);
    await s.t.db('access_tokens').where({ id: f.tokenId }).del();
    await refused(f, { experiment_id: '0' }, 401, unauthenticated('Invalid access token.'));
  });

  it('an expired token', async () => {
    const f = await fixture();
    await warm(f);
    await s.t.db('access_tokens').where({ id: f.tokenId }).update({ expires_at: Date.now() - 1000 });
    await refused(f, { experiment_id: '0' }, 401, unauthenticated('Token is expired. You can either do re-authorization or token refresh.'));
  });

  it('a token that may only read', async () => {
    const f = await fixture();
    await warm(f);
    await s.t.db('access_tokens').where({ id: f.tokenId }).update({ scopes: 'read_api' });
    await refused(f, { experiment_id: '0' }, 403, denied('This request needs a token with the api scope; read_api allows reading only.'));
  });

  it('a member removed from the project', async () => {
    const f = await fixture();
    await warm(f);
    expect(await removeMember(s.t.db, f.project.id, f.user.id)).toBe(true);
    await refused(f, { experiment_id: '0' }, 404, projectNotFound);
  });

  for (const role of ['reporter', 'guest'] as const) {
    it(`a member now a ${role}`, async () => {
      const f = await fixture();
      await warm(f);
      await setMember(s.t.db, f.project.id, f.user.id, ACCESS[role]);
      await refused(f, { experiment_id: '0' }, 403, denied('Writing to this project needs the developer role or above.'));
    });
  }

  it('a deleted experiment', async () => {
    const f = await fixture();
    const exp = await s.request.post(`/api/v4/projects/${f.project.id}/ml/mlflow/api/2.0/mlflow/experiments/create`)
      .set({ Authorization: `Bearer ${f.token}` }).send({ name: 'to-delete' });
    const id = exp.body.experiment_id as string;
    await warm(f, id);
    // behind the server's back: nothing this server saw says the experiment changed
    await s.t.db('experiments').where({ project_id: f.project.id, experiment_id: Number(id) }).update({ lifecycle_stage: 'deleted' });
    await refused(f, { experiment_id: id }, 400, {
      error_code: 'INVALID_PARAMETER_VALUE', message: `The experiment ${id} must be in the 'active' state. Current state is deleted.`,
    });
  });

  it('an experiment that now belongs to another project, and one that only another project has', async () => {
    const f = await fixture();
    const other = await createProject(s.t.db, { path: `fold-other-${kind}`, ownerId: 1 });
    await setMember(s.t.db, other.id, f.user.id, ACCESS.developer);
    const exp = await s.request.post(`/api/v4/projects/${f.project.id}/ml/mlflow/api/2.0/mlflow/experiments/create`)
      .set({ Authorization: `Bearer ${f.token}` }).send({ name: 'moving' });
    const id = exp.body.experiment_id as string;
    await warm(f, id);
    await s.t.db('experiments').where({ project_id: f.project.id, experiment_id: Number(id) }).update({ project_id: other.id });
    const gone = { error_code: 'RESOURCE_DOES_NOT_EXIST', message: `No Experiment with id=${id} exists` };
    await refused(f, { experiment_id: id }, 404, gone);
    // the other project's experiment 7, which this project does not have
    await s.t.db('experiments').insert({ project_id: other.id, experiment_id: 7, name: 'seven', artifact_location: '/x', lifecycle_stage: 'active', creation_time: 1, last_update_time: 1 });
    await refused(f, { experiment_id: '7' }, 404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'No Experiment with id=7 exists' }, f.project.id, 'lookup');
  });

  it('a project path that now names another project', async () => {
    const f = await fixture();
    const path = f.project.path;
    await warm(f, '0', path);
    // the caller's project moves away; one the caller is no member of takes its path
    const stranger = await createProject(s.t.db, { path: `${path}-stranger`, ownerId: 1 });
    await s.t.db('projects').where({ id: f.project.id }).update({ path: `${path}-moved` });
    await s.t.db('projects').where({ id: stranger.id }).update({ path });
    await refused(f, { experiment_id: '0' }, 404, projectNotFound, path);
    // a path that names no project at all
    await refused(f, { experiment_id: '0' }, 404, projectNotFound, `${path}-nowhere`, 'none');
  });

  it('an administrator who is no member writes folded, and no longer once no longer an administrator', async () => {
    const f = await fixture();
    const admin = await createUser(s.t.db, { username: `fold-admin-${kind}`, isAdmin: true });
    const { token, row } = await createToken(s.t.db, { userId: admin.id, name: 'admin', scopes: ['api'] });
    const a = { ...f, user: admin, token, tokenId: row.id };
    await warm(a);
    expect(await count('project_members', { project_id: f.project.id, user_id: admin.id })).toBe(0);
    await s.t.db('users').where({ id: admin.id }).update({ is_admin: false });
    await refused(a, { experiment_id: '0' }, 404, projectNotFound);
  });

  it('stale facts that still allow the create: it succeeds the usual way, once', async () => {
    const f = await fixture();
    await warm(f);
    // renamed (the run's user_id is the caller's name) and the token due for its last_used_at
    await s.t.db('users').where({ id: f.user.id }).update({ username: `renamed-${seq}` });
    await s.t.db('access_tokens').where({ id: f.tokenId }).update({ last_used_at: Date.now() - 11 * 60 * 1000 });
    const before = Date.now();
    const runs = await count('runs', { creator_id: f.user.id });
    const res = await create(f, { experiment_id: '0', run_name: 'stale' });
    expect(res.status).toBe(200);
    expect(res.body.run.info.user_id).toBe(`renamed-${seq}`);
    expect(await count('runs', { creator_id: f.user.id })).toBe(runs + 1);
    expect(await s.t.db('runs').where({ run_uuid: res.body.run.info.run_id }).first('user_id')).toEqual({ user_id: `renamed-${seq}` });
    const token = await s.t.db('access_tokens').where({ id: f.tokenId }).first('last_used_at');
    expect(Number(token.last_used_at)).toBeGreaterThanOrEqual(before);
    // and the next one is folded again
    const sql = await statements(s.t.db, () => create(f, { experiment_id: '0' }));
    expect(sql.includes(INSERT_RUN_FOLDED)).toBe(kind === 'mysql');
  });
});
