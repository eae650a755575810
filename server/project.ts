import type { NextFunction, Request, Response } from 'express';
import { findProjectForUser } from '../db/projects.ts';
import type { ProjectForUser } from '../db/tokens.ts';
import { MlflowError } from '../core/errors.ts';
import { ACCESS } from '../core/accounts.ts';
import type { RequestContext } from '../routers/context.ts';

/** The looked-up project on ctx.project if the caller may read it; else 404, exactly like a missing one. */
export function applyProject(ctx: RequestContext, p: ProjectForUser | undefined) {
  const readable = p && (p.access_level >= ACCESS.guest || p.visibility === 'public' || ctx.user!.isAdmin);
  if (!p || !readable) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', 'Project not found');
  ctx.project = { id: p.id, path: p.path, name: p.name, visibility: p.visibility, accessLevel: p.access_level };
}

/**
 * `:id` (numeric id, or URL-encoded full path) → project and the caller's role, on req.ctx.project.
 * A project the caller may not read is answered exactly like a missing one: 404.
 */
export function resolveProject(pick: (req: Request) => string) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    try {
      const ctx = req.ctx as RequestContext;
      // authenticate(projectOf) resolved it already, in the token's statement
      if (ctx.project) return next();
      const idOrPath = pick(req);
      applyProject(ctx, idOrPath ? await findProjectForUser(ctx.db, idOrPath, ctx.user!.id) : undefined);
      next();
    } catch (err) {
      next(err);
    }
  };
}
