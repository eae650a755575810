import crypto from 'node:crypto';
import type { Db } from './knex.ts';
import type { DbAccessTokenRow, DbUserRow } from './tables.ts';
import { hotQuery } from './hot.ts';
import { projectKey, type ProjectRow } from './projects.ts';

export const SCOPES = ['api', 'read_api'] as const;
export type Scope = (typeof SCOPES)[number];

export interface TokenRow {
  id: number;
  user_id: number;
  name: string;
  scopes: string[];
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
  created_at: number;
}

/** Tokens are stored only as their SHA-256 digest. */
export const digestToken = (token: string) => crypto.createHash('sha256').update(token, 'utf8').digest('hex');

export const generateToken = () => 'mltpat-' + crypto.randomBytes(20).toString('base64url');

const orNull = (v: DbAccessTokenRow['expires_at']) => (v == null ? null : Number(v));
const toToken = (r: DbAccessTokenRow): TokenRow => ({
  id: r.id,
  user_id: r.user_id,
  name: r.name,
  scopes: String(r.scopes).split(',').filter(Boolean),
  expires_at: orNull(r.expires_at),
  revoked_at: orNull(r.revoked_at),
  last_used_at: orNull(r.last_used_at),
  created_at: Number(r.created_at),
});

/** Creates a token and returns its clear value, the only time it is ever available. */
export async function createToken(
  db: Db,
  t: { userId: number; name: string; scopes: Scope[]; expiresAt?: number | null; value?: string },
): Promise<{ token: string; row: TokenRow }> {
  const token = t.value ?? generateToken();
  const [id] = await db<DbAccessTokenRow>('access_tokens').insert({
    user_id: t.userId,
    name: t.name,
    token_digest: digestToken(token),
    scopes: [...new Set(t.scopes)].join(','),
    expires_at: t.expiresAt ?? null,
    created_at: Date.now(),
  });
  const row = await db<DbAccessTokenRow>('access_tokens').where({ id: Number(id) }).first();
  return { token, row: toToken(row!) };
}

export async function listTokens(db: Db, userId?: number): Promise<TokenRow[]> {
  const q = db<DbAccessTokenRow>('access_tokens').orderBy('id');
  if (userId !== undefined) q.where({ user_id: userId });
  return (await q).map(toToken);
}

export async function getToken(db: Db, id: number): Promise<TokenRow | undefined> {
  const r = await db<DbAccessTokenRow>('access_tokens').where({ id }).first();
  return r ? toToken(r) : undefined;
}

export async function revokeToken(db: Db, id: number): Promise<boolean> {
  const n = await db<DbAccessTokenRow>('access_tokens').where({ id }).whereNull('revoked_at').update({ revoked_at: Date.now() });
  return n > 0;
}

export type TokenCheck =
  | { ok: true; user: { id: number; username: string; isAdmin: boolean }; scopes: string[] }
  | { ok: false; reason: 'unknown' | 'expired' | 'revoked' };

/** last_used_at is written at most this often per token, to keep writes off the hot path (GitLab does the same). */
export const LAST_USED_INTERVAL_MS = 10 * 60 * 1000;

export async function authenticateToken(db: Db, token: string): Promise<TokenCheck> {
  type TokenUser = Pick<DbAccessTokenRow, 'id' | 'scopes' | 'expires_at' | 'revoked_at' | 'last_used_at' | 'user_id'> &
    Pick<DbUserRow, 'username' | 'is_admin'>;
  const row: TokenUser | undefined = await db('access_tokens as t')
    .join('users as u', 'u.id', 't.user_id')
    .where('t.token_digest', digestToken(token))
    .first('t.id', 't.scopes', 't.expires_at', 't.revoked_at', 't.last_used_at', 'u.id as user_id', 'u.username', 'u.is_admin');
  if (!row) return { ok: false, reason: 'unknown' };
  return checkTokenRow(db, row);
}

/** Revoked, expired or good; last_used_at is touched at most every LAST_USED_INTERVAL_MS. */
async function checkTokenRow(
  db: Db,
  row: Pick<DbAccessTokenRow, 'id' | 'scopes' | 'expires_at' | 'revoked_at' | 'last_used_at'> & Pick<DbUserRow, 'username' | 'is_admin'> & { user_id: number },
): Promise<TokenCheck> {
  if (row.revoked_at != null) return { ok: false, reason: 'revoked' };
  const now = Date.now();
  if (row.expires_at != null && Number(row.expires_at) <= now) return { ok: false, reason: 'expired' };
  if (row.last_used_at == null || now - Number(row.last_used_at) > LAST_USED_INTERVAL_MS) {
    await db<DbAccessTokenRow>('access_tokens').where({ id: row.id }).update({ last_used_at: now });
  }
  return {
    ok: true,
    user: { id: Number(row.user_id), username: row.username, isAdmin: Boolean(row.is_admin) },
    scopes: String(row.scopes).split(',').filter(Boolean),
  };
}

/** The project a request names, as the caller sees it; undefined when there is no such project. */
export type ProjectForUser = ProjectRow & { access_level: number };

const TOKEN_COLUMNS =
  't.id, t.scopes, t.expires_at, t.revoked_at, t.last_used_at, u.id AS user_id, u.username, u.is_admin';
const PROJECT_COLUMNS =
  'p.id AS p_id, p.path AS p_path, p.name AS p_name, p.visibility AS p_visibility, p.created_at AS p_created_at, m.access_level AS p_access_level';
const FROM_TOKEN = 'FROM access_tokens t JOIN users u ON u.id = t.user_id';
const JOIN_MEMBER = 'LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = u.id';
const SQL_TOKEN = `SELECT ${TOKEN_COLUMNS} ${FROM_TOKEN} WHERE t.token_digest = ?`;
export const SQL_BY_ID = `SELECT ${TOKEN_COLUMNS}, ${PROJECT_COLUMNS} ${FROM_TOKEN} LEFT JOIN projects p ON p.id = ? ${JOIN_MEMBER} WHERE t.token_digest = ?`;
const SQL_BY_PATH = `SELECT ${TOKEN_COLUMNS}, ${PROJECT_COLUMNS} ${FROM_TOKEN} LEFT JOIN projects p ON p.path = ? ${JOIN_MEMBER} WHERE t.token_digest = ?`;

type TokenProjectRow = Pick<DbAccessTokenRow, 'id' | 'scopes' | 'expires_at' | 'revoked_at' | 'last_used_at'> &
  Pick<DbUserRow, 'username' | 'is_admin'> & {
    user_id: number;
    p_id?: number | null; p_path?: string; p_name?: string; p_visibility?: string; p_created_at?: number; p_access_level?: number | null;
  };

/**
 * authenticateToken and findProjectForUser in one indexed statement (token digest → user, the named project and the
 * caller's membership), read afresh on every request: a revoked token, a removed member or a lowered role counts
 * from the very next request, with no cache to go stale. `idOrPath` as findProjectForUser takes it.
 */
export async function authenticateTokenForProject(
  db: Db,
  token: string,
  idOrPath: string,
): Promise<{ check: TokenCheck; project: ProjectForUser | undefined }> {
  const key = idOrPath ? projectKey(idOrPath) : undefined;
  const digest = digestToken(token);
  const [row] = await hotQuery<TokenProjectRow[]>(
    db,
    key === undefined ? SQL_TOKEN : typeof key === 'number' ? SQL_BY_ID : SQL_BY_PATH,
    key === undefined ? [digest] : [key, digest],
  );
  if (!row) return { check: { ok: false, reason: 'unknown' }, project: undefined };
  const check = await checkTokenRow(db, row);
  const project: ProjectForUser | undefined =
    row.p_id == null
      ? undefined
      : {
          id: Number(row.p_id),
          path: row.p_path!,
          name: row.p_name!,
          visibility: row.p_visibility as ProjectRow['visibility'],
          created_at: Number(row.p_created_at),
          access_level: row.p_access_level == null ? 0 : Number(row.p_access_level),
        };
  return { check, project };
}
