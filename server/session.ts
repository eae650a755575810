import express, { type NextFunction, type Request, type Response } from 'express';
import { authenticateToken } from '../db/tokens.ts';
import { authenticateSession, checkPassword, createSession, deleteSession, SESSION_TTL_MS, tokenIdOf } from '../db/sessions.ts';
import { MlflowError } from '../core/errors.ts';
import type { Config } from '../core/config.ts';

export const SESSION_COOKIE = 'mltrack_session';
/** The header the UI sends with every request: a cross-site form or <img> cannot set it (same-origin proof). */
export const UI_HEADER = 'x-mltrack-ui';

export function readSessionCookie(req: Request): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === SESSION_COOKIE) return decodeURIComponent(part.slice(i + 1).trim()) || undefined;
  }
  return undefined;
}

/**
 * Same-origin proof for a cookie-authenticated write: the UI's custom header (browsers send custom headers
 * cross-origin only after a CORS preflight, which this server never grants), or an Origin equal to our own.
 */
export function sameOrigin(req: Request, config: Config): boolean {
  if (req.headers[UI_HEADER] === '1') return true;
  const origin = req.headers.origin;
  if (!origin) return false;
  const own = config.publicUrl ? new URL(config.publicUrl).origin : `${req.protocol}://${req.headers.host}`;
  return origin === own;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Session cookie → user, for requests without a token. Throws the same 401 as a bad token. */
export async function authenticateCookie(req: Request): Promise<{ user: { id: number; username: string; isAdmin: boolean }; scopes: string[] } | undefined> {
  const value = readSessionCookie(req);
  if (!value) return undefined;
  const check = await authenticateSession(req.ctx.db, value);
  if (!check.ok) throw new MlflowError('UNAUTHENTICATED', 'Your session has ended; sign in again.');
  if (!SAFE.has(req.method) && !sameOrigin(req, req.ctx.config)) {
    throw new MlflowError('PERMISSION_DENIED', 'Cross-site request refused: a cookie-authenticated write needs the X-Mltrack-UI header or a same-origin Origin.');
  }
  return check;
}

function cookie(config: Config, value: string, maxAgeS: number): string {
  const secure = config.publicUrl?.startsWith('https:') ? '; Secure' : '';
  return `${SESSION_COOKIE}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure}`;
}

/**
 * POST /api/v4/ui/session {token} or {username, password} → sets the session cookie; GET → who is signed in;
 * DELETE → signs out. Plain express routes rather than tRPC procedures because they set and clear a cookie, which is
 * HTTP, not an operation of the API; they never take a token in the URL.
 */
export function sessionRoutes(config: Config) {
  const r = express.Router();
  r.use(express.json({ limit: '10kb' }));
  r.post('/', async (req: Request, res: Response, next: NextFunction) => {
    try {
      if (!sameOrigin(req, config)) throw new MlflowError('PERMISSION_DENIED', 'Sign-in needs the X-Mltrack-UI header or a same-origin Origin.');
      const body = (req.body ?? {}) as { token?: unknown; username?: unknown; password?: unknown };
      const db = req.ctx.db;
      let userId: number, tokenId: number | null, scopes: string[];
      if (typeof body.token === 'string' && body.token) {
        const check = await authenticateToken(db, body.token);
        if (!check.ok) throw new MlflowError('UNAUTHENTICATED', 'That access token is not valid (unknown, expired or revoked).');
        userId = check.user.id;
        tokenId = (await tokenIdOf(db, body.token))!;
        scopes = check.scopes;
      } else if (typeof body.username === 'string' && typeof body.password === 'string' && body.username && body.password) {
        const id = await checkPassword(db, body.username, body.password);
        if (id === undefined) throw new MlflowError('UNAUTHENTICATED', 'Wrong username or password.');
        userId = id;
        tokenId = null;
        scopes = ['api'];
      } else {
        throw new MlflowError('INVALID_PARAMETER_VALUE', 'Send {"token"} or {"username", "password"}.');
      }
      const value = await createSession(db, { userId, tokenId, scopes });
      res.setHeader('Set-Cookie', cookie(config, value, SESSION_TTL_MS / 1000));
      res.setHeader('Cache-Control', 'no-store');
      const u = await db('users').where({ id: userId }).first('username', 'is_admin');
      res.json({ user: { username: u.username, isAdmin: Boolean(u.is_admin) }, scopes });
    } catch (err) {
      next(err);
    }
  });
  r.get('/', async (req: Request, res: Response, next: NextFunction) => {
    try {
      const s = await authenticateCookie(req);
      if (!s) throw new MlflowError('UNAUTHENTICATED', 'Not signed in.');
      res.setHeader('Cache-Control', 'no-store');
      res.json({ user: { username: s.user.username, isAdmin: s.user.isAdmin }, scopes: s.scopes });
    } catch (err) {
      next(err);
    }
  });
  r.delete('/', async (req: Request, res: Response, next: NextFunction) => {
    try {
      if (!sameOrigin(req, config)) throw new MlflowError('PERMISSION_DENIED', 'Sign-out needs the X-Mltrack-UI header or a same-origin Origin.');
      const value = readSessionCookie(req);
      if (value) await deleteSession(req.ctx.db, value);
      res.setHeader('Set-Cookie', cookie(config, '', 0));
      res.json({});
    } catch (err) {
      next(err);
    }
  });
  return r;
}
