import type { NextFunction, Request, Response } from 'express';
import { findProjectForUser } from '../db/projects.ts';
import { MlflowError } from '../core/errors.ts';
import { ACCESS } from '../core/accounts.ts';
import type { RequestContext } from '../routers/context.ts';

/**
 * `:id` (numeric id, or URL-encoded full path) → project and the caller's role, on req.ctx.project.
 * A project the caller may not read is answered exactly like a missing one: 404.
 */
export function resolveProject(pick: (req: Request) => string) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    try {
      const ctx = req.ctx as RequestContext;
      const user = ctx.user!;
      const idOrPath = pick(req);
      const p = idOrPath ? await findProjectForUser(ctx.db, idOrPath, user.id) : undefined;
      const readable = p && (p.access_level >= ACCESS.guest || p.visibility === 'public' || user.isAdmin);
      if (!p || !readable) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', 'Project not found');
      ctx.project = { id: p.id, path: p.path, name: p.name, visibility: p.visibility, accessLevel: p.access_level };
      next();
    } catch (err) {
      next(err);
    }
  };
}
