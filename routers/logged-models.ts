import { z } from 'zod';
import { readProcedure, router, writeProcedure } from './trpc.ts';
import { bool, empty, idString, int32, int64Out, keyValue, keyValueIn, queryBool, requiredId } from './schemas.ts';
import { fileInfoOut } from './artifacts.ts';
import { validateLoggedModelName, validateMaxResults, validateParam, validateRunId, validateTag } from '../core/validation.ts';
import { validateModelType } from '../core/column-rules.ts';
import { safeRelativePath } from '../artifacts/paths.ts';
import { listBelowRoot } from '../artifacts/locations.ts';
import * as models from '../db/logged-models.ts';
import { parseLoggedModelFilter, parseLoggedModelOrder } from '../db/search/parse.ts';
import { searchLoggedModels } from '../db/search/logged-models.ts';
import { decodeCompactOffsetToken, encodeCompactOffsetToken } from '../core/page-token.ts';

/**
 * MLflow 3 logged models (service.proto CreateLoggedModel … LogLoggedModelParamsRequest; handlers.py
 * `_create_logged_model` …). Model ids are `m-<32 hex>`, artifacts live at
 * `<experiment artifact_location>/models/<model_id>/artifacts` (served by the mlflow-artifacts proxy).
 */

const MLFLOW = ['MLflow logged models'];

const loggedModelOut = z.object({
  info: z.object({
    model_id: z.string(),
    experiment_id: z.string(),
    name: z.string(),
    creation_timestamp_ms: int64Out,
    last_updated_timestamp_ms: int64Out,
    artifact_uri: z.string(),
    status: z.enum(['LOGGED_MODEL_PENDING', 'LOGGED_MODEL_READY', 'LOGGED_MODEL_UPLOAD_FAILED']),
    model_type: z.string().optional(),
    source_run_id: z.string().optional(),
    status_message: z.string().optional(),
    tags: z.array(keyValue).optional(),
  }),
  data: z.object({ params: z.array(keyValue).optional() }),
});

/** LoggedModelStatus by name (LOGGED_MODEL_READY, or READY), or by its proto number (1..3). */
const loggedModelStatus = z.union([z.string(), z.number().int()]).transform((v, ctx): models.LoggedModelStatus => {
  const s = String(v).trim().toUpperCase();
  const byNumber: Record<string, models.LoggedModelStatus> = { '1': 'PENDING', '2': 'READY', '3': 'FAILED' };
  const byName: Record<string, models.LoggedModelStatus> = {
    LOGGED_MODEL_PENDING: 'PENDING', LOGGED_MODEL_READY: 'READY', LOGGED_MODEL_UPLOAD_FAILED: 'FAILED',
    PENDING: 'PENDING', READY: 'READY', FAILED: 'FAILED', UPLOAD_FAILED: 'FAILED',
  };
  const status = byNumber[s] ?? byName[s];
  if (!status) {
    ctx.addIssue({ code: 'custom', message: 'invalid logged model status' });
    return z.NEVER;
  }
  return status;
});

type KV = { key: string; value: string };
const checkParams = (params: KV[] | undefined, field: string, truncate: boolean) =>
  (params ?? []).map((p, i) => ({ key: p.key, value: validateParam(p.key, p.value, `${field}[${i}]`, truncate) }));
const checkTags = (tags: KV[] | undefined, field: string, truncate: boolean) =>
  (tags ?? []).map((t, i) => ({ key: t.key, value: validateTag(t.key, t.value, `${field}[${i}]`, truncate) }));

async function one(ctx: { db: Parameters<typeof models.toLoggedModelsOut>[0] }, row: models.LoggedModelRow) {
  const [model] = await models.toLoggedModelsOut(ctx.db, [row]);
  return { model: model! };
}

/** Page sizes: MLflow's default is 50; we cap a page at 1000. */
const SEARCH_DEFAULT = 50;
const SEARCH_MAX = 1000;

export const loggedModelsRouter = router({
  create: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/logged-models', tags: MLFLOW, summary: 'CreateLoggedModel' } })
    .input(
      z.object({
        experiment_id: requiredId,
        name: z.string().optional(),
        model_type: z.string().optional(),
        source_run_id: z.string().optional(),
        params: z.array(keyValueIn).optional(),
        tags: z.array(keyValueIn).optional(),
      }),
    )
    .output(z.object({ model: loggedModelOut }))
    .mutation(async ({ ctx, input }) => {
      if (input.name) validateLoggedModelName(input.name);
      if (input.model_type) validateModelType(input.model_type);
      if (input.source_run_id) validateRunId(input.source_run_id, 'source_run_id');
      const params = checkParams(input.params, 'params', ctx.config.truncateLongValues);
      const tags = checkTags(input.tags, 'tags', ctx.config.truncateLongValues);
      const row = await models.createLoggedModel(ctx.db, {
        projectId: ctx.project.id,
        experimentId: input.experiment_id,
        name: input.name || undefined,
        modelType: input.model_type || undefined,
        sourceRunId: input.source_run_id || undefined,
        params,
        tags,
        creatorId: ctx.user.id,
      });
      return one(ctx, row);
    }),

  get: readProcedure
    .meta({ openapi: { method: 'GET', path: '/logged-models/{model_id}', tags: MLFLOW, summary: 'GetLoggedModel' } })
    .input(z.object({ model_id: z.string(), allow_deleted: queryBool.optional() }))
    .output(z.object({ model: loggedModelOut }))
    .query(async ({ ctx, input }) => {
      const row = await models.requireLoggedModel(ctx.db, ctx.project.id, input.model_id, input.allow_deleted ?? false);
      return one(ctx, row);
    }),

  finalize: writeProcedure
    .meta({ openapi: { method: 'PATCH', path: '/logged-models/{model_id}', tags: MLFLOW, summary: 'FinalizeLoggedModel' } })
    .input(z.object({ model_id: z.string(), status: loggedModelStatus }))
    .output(z.object({ model: loggedModelOut }))
    .mutation(async ({ ctx, input }) => {
      const row = await models.finalizeLoggedModel(ctx.db, ctx.project.id, input.model_id, input.status);
      return one(ctx, row);
    }),

  delete: writeProcedure
    .meta({ openapi: { method: 'DELETE', path: '/logged-models/{model_id}', tags: MLFLOW, summary: 'DeleteLoggedModel' } })
    .input(z.object({ model_id: z.string() }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      await models.deleteLoggedModel(ctx.db, ctx.project.id, input.model_id);
      return {};
    }),

  /**
   * SearchLoggedModels. Filter subset: model_id, name, model_type, status, source_run_id (=, !=, LIKE, ILIKE),
   * creation_timestamp / last_updated_timestamp (=, !=, <, <=, >, >=), tags.<key> and params.<key>
   * (=, !=, LIKE, ILIKE), joined with AND. Ordering by those attributes; not by metrics; `datasets` is ignored.
   */
  search: readProcedure
    .meta({ openapi: { method: 'POST', path: '/logged-models/search', tags: MLFLOW, summary: 'SearchLoggedModels' } })
    .input(
      z.object({
        experiment_ids: z.array(idString).min(1),
        filter: z.string().optional(),
        datasets: z.array(z.object({ dataset_name: z.string().optional(), dataset_digest: z.string().optional() })).optional(),
        max_results: int32.optional(),
        order_by: z
          .array(
            z.object({
              field_name: z.string().optional(),
              ascending: bool.optional(),
              dataset_name: z.string().optional(),
              dataset_digest: z.string().optional(),
            }),
          )
          .optional(),
        page_token: z.string().optional(),
      }),
    )
    .output(z.object({ models: z.array(loggedModelOut).optional(), next_page_token: z.string().optional() }))
    .mutation(async ({ ctx, input }) => {
      const limit = input.max_results ?? SEARCH_DEFAULT;
      validateMaxResults(limit, Infinity); // larger pages are cut to SEARCH_MAX below
      const clauses = parseLoggedModelFilter(input.filter);
      const order = parseLoggedModelOrder(input.order_by);
      const offset = decodeCompactOffsetToken(input.page_token);
      const { rows, more } = await searchLoggedModels(ctx.db, ctx.project.id, {
        experimentIds: input.experiment_ids,
        clauses,
        order,
        limit: Math.min(limit, SEARCH_MAX),
        offset,
      });
      const out: { models?: z.infer<typeof loggedModelOut>[]; next_page_token?: string } = {};
      if (rows.length) out.models = await models.toLoggedModelsOut(ctx.db, rows);
      if (more) out.next_page_token = encodeCompactOffsetToken(offset + rows.length);
      return out;
    }),

  setTags: writeProcedure
    .meta({ openapi: { method: 'PATCH', path: '/logged-models/{model_id}/tags', tags: MLFLOW, summary: 'SetLoggedModelTags' } })
    .input(z.object({ model_id: z.string(), tags: z.array(keyValueIn).optional() }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const tags = checkTags(input.tags, 'tags', ctx.config.truncateLongValues);
      await models.setLoggedModelTags(ctx.db, ctx.project.id, input.model_id, tags);
      return {};
    }),

  deleteTag: writeProcedure
    .meta({
      openapi: { method: 'DELETE', path: '/logged-models/{model_id}/tags/{tag_key}', tags: MLFLOW, summary: 'DeleteLoggedModelTag' },
    })
    .input(z.object({ model_id: z.string(), tag_key: z.string() }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      await models.deleteLoggedModelTag(ctx.db, ctx.project.id, input.model_id, input.tag_key);
      return {};
    }),

  logParams: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/logged-models/{model_id}/params', tags: MLFLOW, summary: 'LogLoggedModelParams' } })
    .input(z.object({ model_id: z.string(), params: z.array(keyValueIn).optional() }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const params = checkParams(input.params, 'params', ctx.config.truncateLongValues);
      await models.logLoggedModelParams(ctx.db, ctx.project.id, input.model_id, params);
      return {};
    }),

  /** ListLoggedModelArtifacts: like artifacts/list, for the model's artifact location. */
  listArtifacts: readProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/logged-models/{model_id}/artifacts/directories',
        tags: MLFLOW,
        summary: 'ListLoggedModelArtifacts',
      },
    })
    .input(z.object({ model_id: z.string(), artifact_directory_path: z.string().optional(), page_token: z.string().optional() }))
    .output(z.object({ root_uri: z.string(), files: z.array(fileInfoOut).optional(), next_page_token: z.string().optional() }))
    .query(async ({ ctx, input }) => {
      const rel = input.artifact_directory_path !== undefined ? safeRelativePath(input.artifact_directory_path) : '';
      const row = await models.requireLoggedModel(ctx.db, ctx.project.id, input.model_id);
      const files = await listBelowRoot(ctx.artifacts, ctx.project.id, row.artifact_location, rel);
      return files.length ? { root_uri: row.artifact_location, files } : { root_uri: row.artifact_location };
    }),
});
