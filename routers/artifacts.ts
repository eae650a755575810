import { z } from 'zod';
import { createCallerFactory, readProcedure, router, writeProcedure } from './trpc.ts';
import { int64Out, runRequest } from './schemas.ts';
import { notFound } from '../core/errors.ts';
import { safeRelativePath } from '../artifacts/paths.ts';
import { listBelowRoot, projectScope, proxyPathOf } from '../artifacts/locations.ts';
import * as runs from '../db/runs.ts';
import * as loggedModels from '../db/logged-models.ts';
import type { Db } from '../db/knex.ts';

const MLFLOW = ['MLflow artifacts'];

/** FileInfo (service.proto): `file_size` only for files. */
export const fileInfoOut = z.object({
  path: z.string(),
  is_dir: z.boolean(),
  file_size: int64Out.optional(),
});

export const artifactsRouter = router({
  /** ListArtifacts: the run's artifacts under `path`, with run-relative paths (`dir/f.txt`). No pagination. */
  list: readProcedure
    .meta({ openapi: { method: 'GET', path: '/artifacts/list', tags: MLFLOW, summary: 'ListArtifacts' } })
    .input(
      runRequest({
        path: z.string().optional(),
        page_token: z.string().optional(),
      }),
    )
    .output(z.object({ root_uri: z.string(), files: z.array(fileInfoOut).optional(), next_page_token: z.string().optional() }))
    .query(async ({ ctx, input }) => {
      const rel = input.path !== undefined ? safeRelativePath(input.path) : '';
      const run = await runs.requireRun(ctx.db, ctx.project.id, input.run_id);
      const files = await listBelowRoot(ctx.artifacts, ctx.project.id, run.artifact_uri, rel);
      return files.length ? { root_uri: run.artifact_uri, files } : { root_uri: run.artifact_uri };
    }),
});

// ---------------------------------------------------------------------------------------------------------------
// Access rules of the mlflow-artifacts proxy (server/artifacts/routes.ts). They run through readProcedure and
// writeProcedure, so the proxy applies exactly the tracking API's rules (role, token scope, deferred auth errors).
// This router is not part of appRouter: it has no REST route and no tRPC endpoint.

const RUN_ID = /^[0-9a-f]{32}$/;
const MODEL_ID = /^m-[0-9a-f]{32}$/;

/**
 * The artifact root (`<location>/<run_id>/artifacts` or `<location>/models/<model_id>/artifacts`) that `rel` lies
 * in, checked against the database: the run or logged model must exist in this project and its artifact URI must
 * be exactly that root. Otherwise 404, so uploads can't create arbitrary trees.
 */
async function requireArtifactOwner(db: Db, projectId: number, rel: string, allowRoot: boolean): Promise<void> {
  const segs = rel === '' ? [] : rel.split('/');
  for (let i = 0; i + 1 < segs.length; i++) {
    if (segs[i + 1] !== 'artifacts') continue;
    const id = segs[i]!;
    let uri: string | undefined;
    if (MODEL_ID.test(id) && segs[i - 1] === 'models') {
      const model = await loggedModels.getLoggedModelRow(db, projectId, id, true);
      if (!model) throw notFound(`Logged model with ID '${id}' not found.`);
      uri = model.artifact_location;
    } else if (RUN_ID.test(id)) {
      const run = await runs.getRunRow(db, projectId, id);
      if (!run) throw notFound(`Run with id=${id} not found`);
      uri = run.artifact_uri;
    } else {
      continue;
    }
    const root = segs.slice(0, i + 2).join('/');
    const inside = allowRoot ? segs.length >= i + 2 : segs.length > i + 2;
    if (proxyPathOf(uri) === root && inside) return;
    break;
  }
  throw notFound(`'${rel}' is not inside the artifact location of a run or logged model of this project`);
}

const proxyAccessRouter = router({
  /** Read access to the project (reader role, read_api or api): the store scope to read from. */
  read: readProcedure
    .input(z.object({ path: z.string() }))
    .query(({ ctx }) => ({ scope: projectScope(ctx.project.id) })),
  /**
   * Write access (developer role, api scope), and `path` must lie below the artifact root of a run or logged model
   * of this project (or be that root, for deletes).
   */
  write: writeProcedure
    .input(z.object({ path: z.string(), allowRoot: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      await requireArtifactOwner(ctx.db, ctx.project.id, safeRelativePath(input.path), input.allowRoot);
      return { scope: projectScope(ctx.project.id) };
    }),
});

/** A caller of the proxy's access rules for one request's context. */
export const proxyAccess = createCallerFactory(proxyAccessRouter);
