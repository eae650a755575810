import crypto from 'node:crypto';
import { promisify } from 'node:util';
import type { Db } from './knex.ts';
import { digestToken } from './tokens.ts';

const scrypt = promisify(crypto.scrypt) as (pw: string, salt: Buffer, len: number, opts: crypto.ScryptOptions) => Promise<Buffer>;
// N=2^15, r=8: ~40 ms per check here, 32 MB of memory (OWASP's scrypt floor is N=2^17 with r=8, p=1 … or N=2^15 at
// higher p; p=3 keeps the work close to it without raising memory beyond 32 MB).
const SCRYPT = { N: 32768, r: 8, p: 3, maxmem: 64 * 1024 * 1024 };

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const hash = await scrypt(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export async function verifyPassword(password: string, digest: string | null | undefined): Promise<boolean> {
  const parts = (digest ?? '').split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') {
    // Spend the same time on an unknown user as on a known one.
    await scrypt(password, Buffer.alloc(16), 32, SCRYPT);
    return false;
  }
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64url');
  const got = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem });
  return crypto.timingSafeEqual(expected, got);
}

export async function setPassword(db: Db, userId: number, password: string): Promise<void> {
  await db('users').where({ id: userId }).update({ password_digest: await hashPassword(password) });
}

/** username + password → user id, or undefined. */
export async function checkPassword(db: Db, username: string, password: string): Promise<number | undefined> {
  const u = await db('users').where({ username }).first('id', 'password_digest');
  const ok = await verifyPassword(password, u?.password_digest);
  return ok && u ? Number(u.id) : undefined;
}

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

/** Creates a session and returns the cookie value, the only time it exists in clear. */
export async function createSession(db: Db, s: { userId: number; tokenId: number | null; scopes: string[]; ttlMs?: number }): Promise<string> {
  const value = crypto.randomBytes(32).toString('base64url');
  const now = Date.now();
  // a user's ended sessions are removed when they sign in again (live ones are checked and removed on use)
  await db('ui_sessions').where('user_id', s.userId).andWhere('expires_at', '<=', now).delete();
  await db('ui_sessions').insert({
    session_digest: digestToken(value),
    user_id: s.userId,
    token_id: s.tokenId,
    scopes: s.scopes.join(','),
    created_at: now,
    expires_at: now + (s.ttlMs ?? SESSION_TTL_MS),
  });
  return value;
}

export type SessionCheck =
  | { ok: true; user: { id: number; username: string; isAdmin: boolean }; scopes: string[] }
  | { ok: false };

/** Cookie value → user and scopes. Expired sessions, and sessions whose token was revoked or expired, end here. */
export async function authenticateSession(db: Db, value: string): Promise<SessionCheck> {
  const digest = digestToken(value);
  const row = await db('ui_sessions as s')
    .join('users as u', 'u.id', 's.user_id')
    .leftJoin('access_tokens as t', 't.id', 's.token_id')
    .where('s.session_digest', digest)
    .first('s.id', 's.scopes', 's.expires_at', 's.token_id', 't.revoked_at', 't.expires_at as token_expires_at', 't.scopes as token_scopes', 'u.id as user_id', 'u.username', 'u.is_admin');
  if (!row) return { ok: false };
  const now = Date.now();
  const tokenGone = row.token_id != null && (row.revoked_at != null || (row.token_expires_at != null && Number(row.token_expires_at) <= now));
  if (Number(row.expires_at) <= now || tokenGone) {
    await db('ui_sessions').where({ id: row.id }).delete();
    return { ok: false };
  }
  return { ok: true, user: { id: row.user_id, username: row.username, isAdmin: Boolean(row.is_admin) }, scopes: String(row.scopes).split(',').filter(Boolean) };
}

export async function deleteSession(db: Db, value: string): Promise<void> {
  await db('ui_sessions').where({ session_digest: digestToken(value) }).delete();
}

/** The token row behind a personal access token, for signing in with it. */
export async function tokenIdOf(db: Db, token: string): Promise<number | undefined> {
  const r = await db('access_tokens').where({ token_digest: digestToken(token) }).first('id');
  return r ? Number(r.id) : undefined;
}
