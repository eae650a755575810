import type { NextFunction, Request, Response } from 'express';
import { authenticateToken, authenticateTokenForProject, type ProjectForUser } from '../db/tokens.ts';
import { hotPath } from '../db/hot.ts';
import { applyProject } from './project.ts';
import { MlflowError } from '../core/errors.ts';
import type { RequestContext } from '../routers/context.ts';
import { authenticateCookie } from './session.ts';

/** The token of a request: `Authorization: Bearer`, Basic auth with the token as password, `PRIVATE-TOKEN`, or `?private_token=`. */
export function readToken(req: Request): string | undefined {
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^(Bearer|Basic)\s+(.+)$/i.exec(auth.trim());
    if (m) {
      if (m[1]!.toLowerCase() === 'bearer') return m[2]!.trim();
      const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i >= 0 && decoded.length > i + 1) return decoded.slice(i + 1);
    }
  }
  const header = req.headers['private-token'];
  if (typeof header === 'string' && header) return header;
  const q = req.query?.private_token;
  if (typeof q === 'string' && q) return q;
  return undefined;
}

const REASONS = {
  unknown: 'Invalid access token.',
  expired: 'Token is expired. You can either do re-authorization or token refresh.',
  revoked: 'Token was revoked. You have to re-authorize from the user.',
} as const;

/**
 * Token → user and scopes, on req.ctx. No valid token → 401 UNAUTHENTICATED.
 * With `projectOf` (the project the URL names), a token's check also resolves that project in the same statement
 * (db/tokens.ts authenticateTokenForProject) and sets ctx.project as resolveProject would (which then has nothing
 * left to do): one database statement for auth per request instead of two.
 */
export function authenticate(projectOf?: (req: Request) => string) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    try {
      const ctx = req.ctx as RequestContext;
      const token = readToken(req);
      // No token: the web UI's session cookie (server/session.ts), which also demands a same-origin proof for writes.
      const session = token ? undefined : await authenticateCookie(req);
      if (!token && !session) throw new MlflowError('UNAUTHENTICATED', 'Authentication required: send a personal access token (Authorization: Bearer <token>).');
      let project: ProjectForUser | undefined | null = null;
      let check;
      if (session) check = { ok: true, ...session } as const;
      else if (projectOf && hotPath.enabled) ({ check, project } = await authenticateTokenForProject(ctx.db, token!, projectOf(req)));
      else check = await authenticateToken(ctx.db, token!);
      if (!check.ok) throw new MlflowError('UNAUTHENTICATED', REASONS[check.reason]);
      ctx.user = check.user;
      ctx.scopes = check.scopes;
      // Scopes are enforced per operation (routers/trpc.ts): `read_api` is enough for every read, including the
      // searches MLflow clients send as POST; any write needs `api`.
      if (!check.scopes.includes('api') && !check.scopes.includes('read_api')) {
        throw new MlflowError('PERMISSION_DENIED', 'The token lacks the read_api or api scope.');
      }
      if (project !== null) applyProject(ctx, project);
      next();
    } catch (err) {
      next(err);
    }
  };
}
