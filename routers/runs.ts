import { z } from 'zod';
import { searchRunsProcedure } from './search.ts';
import { readProcedure, router, writeProcedure } from './trpc.ts';
import { double, empty, idString, int64, keyValueIn, runInfoOut, runOut, runStatus } from './schemas.ts';
import { invalidParam, missingParam } from '../core/errors.ts';
import * as runs from '../db/runs.ts';
import { logBatch, type MetricIn } from '../db/log-batch.ts';
import { loadRuns, runInfo } from '../db/run-view.ts';
import { logInputs, type DatasetIn } from '../db/datasets.ts';
import { appendLoggedModel } from '../db/log-model-history.ts';
import {
  LIMITS,
  validateBatchLimits,
  validateDatasetInput,
  validateMetric,
  validateNoDuplicateParamKeys,
  validateParam,
  validateRunId,
  validateTag,
  validateRunName,
  validateUserId,
  validateDatasetColumns,
  requireRunId,
} from '../core/validation.ts';

const MLFLOW = ['MLflow runs'];

const runIdFields = { run_id: z.string().optional(), run_uuid: z.string().optional() };

const metricIn = z.object({
  key: z.string().optional(),
  value: double.optional(),
  timestamp: int64.optional(),
  step: int64.optional(),
});

function checkMetric(m: z.infer<typeof metricIn>, path: string): MetricIn {
  if (!m.key) throw missingParam(`${path}key`);
  if (m.value === undefined) throw missingParam(`${path}value`);
  if (m.timestamp === undefined) throw missingParam(`${path}timestamp`);
  const metric = { key: m.key, value: m.value, timestamp: m.timestamp, step: m.step ?? 0 };
  validateMetric(metric.key, metric.value, metric.timestamp, metric.step, path ? path.slice(0, -1) : undefined);
  return metric;
}

export const runsRouter = router({
  search: searchRunsProcedure,

  create: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/create', tags: MLFLOW, summary: 'CreateRun' } })
    .input(
      z.object({
        experiment_id: idString.optional(),
        user_id: z.string().optional(),
        run_name: z.string().optional(),
        start_time: int64.optional(),
        tags: z.array(keyValueIn).optional(),
      }),
    )
    .output(z.object({ run: runOut }))
    .mutation(async ({ ctx, input }) => {
      const tags = (input.tags ?? []).map((t) => ({ key: t.key, value: validateTag(t.key, t.value, '', ctx.config.truncateLongValues) }));
      if (input.run_name !== undefined) validateRunName(input.run_name);
      const nameTag = tags.find((t) => t.key === runs.RUN_NAME_TAG);
      if (nameTag) validateRunName(nameTag.value);
      const userTag = tags.find((t) => t.key === 'mlflow.user')?.value;
      const id = await runs.createRun(ctx.db, {
        projectId: ctx.project.id,
        experimentId: input.experiment_id || '0',
        userId: validateUserId(input.user_id || userTag || ctx.user.username),
        creatorId: ctx.user.id,
        runName: input.run_name || undefined,
        startTime: input.start_time ?? Date.now(),
        tags,
      });
      const [run] = await loadRuns(ctx.db, [id]);
      return { run: run! };
    }),

  get: readProcedure
    .meta({ openapi: { method: 'GET', path: '/runs/get', tags: MLFLOW, summary: 'GetRun' } })
    .input(z.object(runIdFields))
    .output(z.object({ run: runOut }))
    .query(async ({ ctx, input }) => {
      const runId = requireRunId(input);
      const row = await runs.requireRun(ctx.db, ctx.project.id, runId);
      const [run] = await loadRuns(ctx.db, [row]);
      return { run: run! };
    }),

  update: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/update', tags: MLFLOW, summary: 'UpdateRun' } })
    .input(z.object({ ...runIdFields, status: runStatus.optional(), end_time: int64.optional(), run_name: z.string().optional() }))
    .output(z.object({ run_info: runInfoOut }))
    .mutation(async ({ ctx, input }) => {
      const runId = requireRunId(input);
      if (input.run_name !== undefined) validateRunName(validateTag(runs.RUN_NAME_TAG, input.run_name, '', ctx.config.truncateLongValues));
      const row = await runs.updateRun(ctx.db, ctx.project.id, runId, {
        status: input.status,
        endTime: input.end_time,
        runName: input.run_name,
      });
      return { run_info: runInfo(row) };
    }),

  logMetric: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/log-metric', tags: MLFLOW, summary: 'LogMetric' } })
    .input(z.object({ ...runIdFields, ...metricIn.shape, model_id: z.string().optional(), dataset_name: z.string().optional(), dataset_digest: z.string().optional() }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const runId = requireRunId(input);
      const metric = checkMetric(input, '');
      await logBatch(ctx.db, ctx.project.id, runId, { metrics: [metric], params: [], tags: [] });
      return {};
    }),

  logParam: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/log-parameter', tags: MLFLOW, summary: 'LogParam' } })
    .input(z.object({ ...runIdFields, key: z.string().optional(), value: z.string().optional() }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const runId = requireRunId(input);
      if (!input.key) throw missingParam('key');
      const value = validateParam(input.key, input.value ?? '', '', ctx.config.truncateLongValues);
      await logBatch(ctx.db, ctx.project.id, runId, { metrics: [], params: [{ key: input.key, value }], tags: [] });
      return {};
    }),

  logBatch: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/log-batch', tags: MLFLOW, summary: 'LogBatch' } })
    .input(
      z.object({
        ...runIdFields,
        metrics: z.array(metricIn).optional(),
        params: z.array(z.object({ key: z.string().optional(), value: z.string().optional() })).optional(),
        tags: z.array(z.object({ key: z.string().optional(), value: z.string().optional() })).optional(),
      }),
    )
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const runId = requireRunId(input);
      const inMetrics = input.metrics ?? [];
      const inParams = input.params ?? [];
      const inTags = input.tags ?? [];
      validateRunId(runId);
      const metrics = inMetrics.map((m, i) => checkMetric(m, `metrics[${i}].`));
      const params = inParams.map((p, i) => {
        if (!p.key) throw missingParam(`params[${i}].key`);
        return { key: p.key, value: validateParam(p.key, p.value ?? '', `params[${i}]`, ctx.config.truncateLongValues) };
      });
      const tags = inTags.map((t, i) => {
        if (!t.key) throw missingParam(`tags[${i}].key`);
        return { key: t.key, value: validateTag(t.key, t.value ?? '', `tags[${i}]`, ctx.config.truncateLongValues) };
      });
      validateBatchLimits(metrics.length, params.length, tags.length);
      validateNoDuplicateParamKeys(params);
      for (const t of tags) if (t.key === runs.RUN_NAME_TAG) validateRunName(t.value);
      await logBatch(ctx.db, ctx.project.id, runId, { metrics, params, tags });
      return {};
    }),

  /** SetTag: upsert a run tag; `mlflow.runName` renames the run. */
  setTag: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/set-tag', tags: MLFLOW, summary: 'SetTag' } })
    .input(z.object({ ...runIdFields, key: z.string().optional(), value: z.string().optional() }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const runId = requireRunId(input);
      if (!input.key) throw missingParam('key');
      const value = validateTag(input.key, input.value ?? '', '', ctx.config.truncateLongValues);
      if (input.key === runs.RUN_NAME_TAG) validateRunName(value);
      await runs.setTag(ctx.db, ctx.project.id, runId, input.key, value);
      return {};
    }),

  /** DeleteTag: the run must be active; a missing tag is 404. */
  deleteTag: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/delete-tag', tags: MLFLOW, summary: 'DeleteTag' } })
    .input(z.object({ ...runIdFields, key: z.string().optional() }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const runId = requireRunId(input);
      if (!input.key) throw missingParam('key');
      await runs.deleteTag(ctx.db, ctx.project.id, runId, input.key);
      return {};
    }),

  /** DeleteRun: soft delete (lifecycle_stage "deleted", deleted_time set). */
  delete: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/delete', tags: MLFLOW, summary: 'DeleteRun' } })
    .input(z.object(runIdFields))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      await runs.setRunLifecycle(ctx.db, ctx.project.id, requireRunId(input), 'deleted');
      return {};
    }),

  /** RestoreRun: active again, unless its experiment is deleted. */
  restore: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/restore', tags: MLFLOW, summary: 'RestoreRun' } })
    .input(z.object(runIdFields))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      await runs.setRunLifecycle(ctx.db, ctx.project.id, requireRunId(input), 'active');
      return {};
    }),

  /**
   * LogInputs: dataset inputs (shared per experiment, deduplicated on name and digest) with their input tags.
   * MLflow 3's `models` (model inputs) are accepted and not recorded.
   */
  logInputs: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/log-inputs', tags: MLFLOW, summary: 'LogInputs' } })
    .input(
      z.object({
        ...runIdFields,
        datasets: z
          .array(
            z.object({
              tags: z.array(z.object({ key: z.string().optional(), value: z.string().optional() })).optional(),
              dataset: z
                .object({
                  name: z.string().optional(),
                  digest: z.string().optional(),
                  source_type: z.string().optional(),
                  source: z.string().optional(),
                  schema: z.string().optional(),
                  profile: z.string().optional(),
                })
                .optional(),
            }),
          )
          .optional(),
        models: z.array(z.object({ model_id: z.string().optional() })).optional(),
      }),
    )
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const runId = requireRunId(input);
      validateRunId(runId);
      const inputs = (input.datasets ?? []).map((d) => {
        const tags = d.tags ?? [];
        validateDatasetInput(d.dataset as DatasetIn, tags as { key: string; value: string }[]);
        const ds = d.dataset as DatasetIn;
        validateDatasetColumns(ds);
        return { dataset: ds, tags: tags as { key: string; value: string }[] };
      });
      await logInputs(ctx.db, ctx.project.id, runId, inputs);
      return {};
    }),

  /** LogModel: appends the model's summary to the run tag `mlflow.log-model.history`, as MLflow's SQL store does. */
  logModel: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/log-model', tags: MLFLOW, summary: 'LogModel' } })
    .input(z.object({ ...runIdFields, model_json: z.string().optional() }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const runId = requireRunId(input);
      if (!input.model_json) throw missingParam('model_json');
      await appendLoggedModel(ctx.db, ctx.project.id, runId, input.model_json);
      return {};
    }),

  /** LogOutputs (MLflow 3, path `runs/outputs`): the run must exist and be active; model outputs are not recorded. */
  logOutputs: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/outputs', tags: MLFLOW, summary: 'LogOutputs' } })
    .input(
      z.object({
        ...runIdFields,
        models: z.array(z.object({ model_id: z.string().optional(), step: int64.optional() })).optional(),
      }),
    )
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const runId = requireRunId(input);
      if (!input.models) throw missingParam('models');
      await runs.requireActiveRun(ctx.db, ctx.project.id, runId);
      return {};
    }),
});
