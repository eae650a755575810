/**
 * runs/create on MySQL in one round trip, its authorization included (db/create-auth.ts). The usual way is two: the
 * token's SELECT (server/auth.ts, with the project and the caller's role) and then the run's script.
 *
 * A runs/create whose token and project path passed the usual checks once leaves here what they found (user, scopes,
 * project), remembered per database by token digest and project: only facts, never a verdict. The next runs/create of
 * the same token and project skips the token's SELECT and takes the caller from there; its INSERT finds the
 * experiment only if all of it still holds (db/create-auth.ts), in the same transaction. Anything else (the INSERT
 * refused, a bad body, any error at all before the run's transaction committed) drops what was remembered and runs
 * the request again the usual way from the start (auth, project, handler; the body is already read), which answers
 * exactly as before: nothing was written, and whatever the caller was denied is answered by the usual checks first.
 * Only the hint's use is new; no verdict is cached, so a revoked token or a removed member counts on the next request.
 * SQLite (no round trips), Galera (its causal reads cover plain SELECTs only) and cookie sessions go the usual way.
 */
import type { NextFunction, Request, Response } from 'express';
import { readToken } from './auth.ts';
import { digestToken } from '../db/tokens.ts';
import { hasScriptPool, hotPath } from '../db/hot.ts';
import type { FoldedAuth } from '../db/create-auth.ts';
import type { Db } from '../db/knex.ts';
import { ACCESS } from '../core/accounts.ts';
import { MlflowError } from '../core/errors.ts';
import type { AuthUser, ProjectAccess, RequestContext } from '../routers/context.ts';

type Middleware = (req: Request, res: Response, next: NextFunction) => unknown;

/** What the usual checks found for a token and project: who, what scopes, which project. */
interface Hint {
  user: AuthUser;
  scopes: string[];
  project: ProjectAccess;
}

const hints = new WeakMap<Db, Map<string, Hint>>();
const HINTS_MAX = 10_000;

function hintsOf(db: Db) {
  let m = hints.get(db);
  if (!m) hints.set(db, (m = new Map()));
  return m;
}

/** Remembers what the usual checks set on ctx, if it is a caller who may create runs there (no use otherwise). */
function remember(ctx: RequestContext, key: string) {
  const { user, project, scopes } = ctx;
  if (!user || !project || !scopes.includes('api') || (project.accessLevel < ACCESS.developer && !user.isAdmin)) return;
  const m = hintsOf(ctx.db);
  if (m.size >= HINTS_MAX) m.clear();
  m.set(key, { user, scopes, project });
}

/** Runs `steps` in order as express would, then `done`; the first error goes to `next`. */
function run(steps: Middleware[], req: Request, res: Response, next: NextFunction, done: () => void) {
  let i = 0;
  const step = (err?: unknown) => {
    if (err) return next(err);
    const mw = steps[i++];
    if (mw) return void mw(req, res, step);
    done();
  };
  step();
}

/** A folded request's state between its step and its handler. */
interface Folding {
  id: string;
  key: string;
  auth: FoldedAuth;
}
const folding = new WeakMap<Request, Folding>();

/**
 * runs/create in the direct dispatch (server/app.ts directProjectApi): `step` stands for `chain` (auth and project, as
 * mounted with `:id`: req.params.id set) and `body` (the facade's body reader); `handler` wraps runs/create's handler.
 */
export function foldedCreate(chain: Middleware[], body: Middleware, handler: Middleware): { step: Middleware; handler: Middleware } {
  const step = (req: Request, res: Response, next: NextFunction) => {
    const ctx = req.ctx as RequestContext;
    const id = req.params.id as string;
    const token = hotPath.enabled && hasScriptPool(ctx.db) ? readToken(req) : undefined;
    const key = token ? `${digestToken(token)}\n${id}` : undefined;
    const hint = key ? hintsOf(ctx.db).get(key) : undefined;
    // the usual way: auth and project (remembered when they allow a create), then the body
    if (!hint) {
      return run(chain, req, res, next, () => {
        if (key) remember(ctx, key);
        body(req, res, next);
      });
    }
    body(req, res, (bodyErr?: unknown) => {
      // the usual order: whatever auth or project answers comes before the body's error
      if (bodyErr) return run(chain, req, res, next, () => next(bodyErr));
      const auth: FoldedAuth = {
        tokenDigest: key!.slice(0, key!.indexOf('\n')),
        userId: hint.user.id,
        username: hint.user.username,
        isAdmin: hint.user.isAdmin,
        scopes: hint.scopes.join(','),
        projectId: hint.project.id,
        projectPath: hint.project.path,
      };
      ctx.user = hint.user;
      ctx.scopes = hint.scopes;
      ctx.project = hint.project;
      ctx.createAuth = auth;
      folding.set(req, { id, key: key!, auth });
      next();
    });
  };

  const folded = (req: Request, res: Response, next: NextFunction) => {
    const f = folding.get(req);
    if (!f) return handler(req, res, next);
    folding.delete(req);
    const ctx = req.ctx as RequestContext;
    return handler(req, res, (err?: unknown) => {
      // committed: the caller was checked, the answer stands (so does a database outage's 503, which the usual way
      // would answer too, and which must not run the create a second time when its outcome is unknown)
      if (f.auth.confirmed || res.headersSent || (err instanceof MlflowError && err.errorCode === 'TEMPORARILY_UNAVAILABLE')) return next(err);
      hintsOf(ctx.db).delete(f.key);
      ctx.user = null;
      ctx.scopes = [];
      ctx.project = null;
      ctx.createAuth = undefined;
      // the usual way from the start, but for the body, which is read
      req.params = { id: f.id };
      run(chain, req, res, next, () => {
        remember(ctx, f.key);
        req.params = {}; // as the facade's own mount sees them: the handler copies path parameters into the input
        handler(req, res, next);
      });
    });
  };
  return { step, handler: folded };
}
