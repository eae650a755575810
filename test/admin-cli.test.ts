import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS, freshDb, type TestDb } from './helpers/db.ts';
import { runAdmin } from '../scripts/admin.ts';
import { authenticateToken, digestToken } from '../db/tokens.ts';
import { checkPassword } from '../db/sessions.ts';

describe.each(DB_KINDS)('admin CLI (%s)', (kind) => {
  let t: TestDb;
  const run = async (...argv: string[]) => {
    const lines: string[] = [];
    await runAdmin(t.db, argv, (l) => lines.push(l));
    return lines;
  };
  beforeAll(async () => {
    t = await freshDb(kind);
  });
  afterAll(async () => t?.drop());

  it('creates users, projects, memberships and tokens, and revokes tokens', async () => {
    expect(await run('user', 'create', '--username', 'alice', '--admin')).toEqual(['created user alice (id 1, admin)']);
    await run('user', 'create', '--username', 'bob');
    expect(await run('user', 'list')).toEqual(['1\talice\tadmin', '2\tbob\t']);
    const [created] = await run('project', 'create', '--path', 'ml/vision', '--owner', 'alice', '--visibility', 'public');
    expect(created).toMatch(/^created project ml\/vision \(id 1, public\)/);
    await run('member', 'add', '--project', 'ml/vision', '--user', 'bob', '--role', 'developer');
    expect(await run('member', 'list', '--project', '1')).toEqual(['1\talice\towner', '2\tbob\tdeveloper']);
    expect(await run('member', 'remove', '--project', 'ml/vision', '--user', 'bob')).toEqual(['bob is no longer a member of project 1']);
    expect(await run('member', 'list', '--project', 'ml/vision')).toEqual(['1\talice\towner']);
    await run('member', 'add', '--project', '1', '--user', 'bob', '--role', 'developer');
    await expect(run('member', 'list', '--project', 'no/such')).rejects.toThrow(/no project no\/such/);

    const out = await run('token', 'create', '--user', 'bob', '--name', 'ci', '--scopes', 'read_api');
    const token = out[1]!;
    expect(token).toMatch(/^mltpat-/);
    // only the digest is stored
    const row = await t.db('access_tokens').where({ id: 1 }).first();
    expect(row.token_digest).toBe(digestToken(token));
    expect(JSON.stringify(row)).not.toContain(token);
    const ok = await authenticateToken(t.db, token);
    expect(ok).toMatchObject({ ok: true, user: { username: 'bob' }, scopes: ['read_api'] });

    expect(await run('token', 'revoke', '--id', '1')).toEqual(['revoked token 1']);
    expect(await authenticateToken(t.db, token)).toEqual({ ok: false, reason: 'revoked' });
    expect((await run('token', 'list'))[0]).toMatch(/^1\tuser 2\tci\tread_api\trevoked\tlast used /);
  });

  it('rejects bad input without writing', async () => {
    await expect(run('member', 'add', '--project', 'ml/vision', '--user', 'bob', '--role', 'boss')).rejects.toThrow(/--role/);
    await expect(run('token', 'create', '--user', 'bob', '--name', 'x', '--scopes', 'sudo')).rejects.toThrow(/--scopes/);
    await expect(run('project', 'create', '--path', '123', '--owner', 'alice')).rejects.toThrow(/--path/);
    expect((await t.db('access_tokens').count({ n: '*' }).first())!.n).toBe(1);
  });

  it('sets a password (scrypt digest, never printed) for the web UI sign-in', async () => {
    await runAdmin(t.db, ['user', 'create', '--username', 'pw-user'], () => {});
    const lines: string[] = [];
    await runAdmin(t.db, ['user', 'password', '--user', 'pw-user'], (l) => lines.push(l), async () => 's3cret-passphrase');
    expect(lines).toEqual(['password set for pw-user; sign in to the web UI with it']);
    const row = await t.db('users').where({ username: 'pw-user' }).first('password_digest');
    expect(row.password_digest).toMatch(/^scrypt\$/);
    expect(row.password_digest).not.toContain('s3cret');
    expect(await checkPassword(t.db, 'pw-user', 's3cret-passphrase')).toBeTypeOf('number');
    expect(await checkPassword(t.db, 'pw-user', 'wrong')).toBeUndefined();
    await expect(runAdmin(t.db, ['user', 'password', '--user', 'pw-user'], () => {}, async () => 'short')).rejects.toThrow(/at least 8/);
  });
});
