import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { runAdmin } from '../scripts/admin.ts';
import { createMltrackClient } from '../client/index.ts';

/** The admin procedures and the admin CLI apply one implementation of the account rules (core/accounts.ts). */
describe.each(DB_KINDS)('account rules, shared by the admin procedures and the CLI (%s)', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(kind);
  });
  afterAll(async () => s?.close());

  /** An admin procedure through the typed client: its status and MLflow error, if any. */
  const trpc = async (proc: 'createUser' | 'createProject', input: { username: string } | { path: string }) => {
    const admin = createMltrackClient({ url: s.baseUrl, token: s.tokens.admin, batch: false }).admin;
    try {
      await (admin[proc].mutate as (i: unknown) => Promise<unknown>)(input);
      return { status: 200, mlflow: undefined };
    } catch (err) {
      const data = (err as { data: { httpStatus: number; mlflow: { error_code: string; message: string } } }).data;
      return { status: data.httpStatus, mlflow: data.mlflow };
    }
  };
  const cli = async (...argv: string[]) => {
    try {
      await runAdmin(s.t.db, argv, () => {});
      return 'ok';
    } catch (err) {
      return (err as Error).message;
    }
  };

  it.each([
    ['username', ['user', 'create', '--username'], 'createUser', (v: string) => ({ username: v }), ['-bad', 'a b', 'x'.repeat(256)]],
    ['project path', ['project', 'create', '--owner', 'admin', '--path'], 'createProject', (v: string) => ({ path: v }), ['123', 'a//b', '/lead', 'x'.repeat(256)]],
  ] as const)('the same %s is refused by both, with the same message, and nothing is written', async (_what, argv, proc, input, bad) => {
    const users = (await s.t.db('users').count({ n: '*' }).first())!.n;
    const projects = (await s.t.db('projects').count({ n: '*' }).first())!.n;
    for (const v of bad) {
      const res = await trpc(proc, input(v));
      expect(res.status).toBe(400);
      const message = res.mlflow!.message;
      expect(res.mlflow!.error_code).toBe('INVALID_PARAMETER_VALUE');
      expect(message).toMatch(/^(Invalid (username|project path) '|A project path cannot be only digits)/);
      expect(await cli(...argv.slice(0, -1), `${argv.at(-1)}=${v}`)).toBe(`${argv.at(-1)}: ${message}`);
    }
    expect((await s.t.db('users').count({ n: '*' }).first())!.n).toBe(users);
    expect((await s.t.db('projects').count({ n: '*' }).first())!.n).toBe(projects);
  });

  it('accepts the same good names in both', async () => {
    expect((await trpc('createUser', { username: 'dora.k-1' })).status).toBe(200);
    expect(await cli('user', 'create', '--username', 'eve_2')).toBe('ok');
    expect((await trpc('createProject', { path: 'team-a/sub.group/p_1' })).status).toBe(200);
    expect(await cli('project', 'create', '--owner', 'eve_2', '--path', 'team-b/p')).toBe('ok');
  });
});
