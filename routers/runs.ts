import { z } from 'zod';
import { notePointsIngested } from '../db/observe.ts';
import { searchRunsProcedure } from './search.ts';
import { readProcedure, router, trustedOutput, writeProcedure } from './trpc.ts';
import { double, empty, idString, int64, keyValueIn, plainMetrics, requiredString, runInfoOut, runOut, runRequest, runStatus, withFastPath } from './schemas.ts';
import * as runs from '../db/runs.ts';
import { type MetricIn } from '../db/log-batch.ts';
import { logBatchGrouped } from '../db/batch-group.ts';
import { getRunView, loadRuns, newRunView, runInfo } from '../db/run-view.ts';
import { hotPath } from '../db/hot.ts';
import { notFound } from '../core/errors.ts';
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
} from '../core/validation.ts';
import { validateDatasetColumns, validateRunName, validateUserId } from '../core/column-rules.ts';

const MLFLOW = ['MLflow runs'];

/** Metric (service.proto): key, value and timestamp required; step defaults to 0. */
const metricIn = z.object({
  key: requiredString,
  value: double,
  timestamp: int64,
  step: int64.optional(),
});

/** `_validate_metric` on a metric of the request; `path` is its prefix in messages ("" or "metrics[i]"). */
function checkMetric(m: z.output<typeof metricIn>, path?: string): MetricIn {
  const metric = { key: m.key, value: m.value, timestamp: m.timestamp, step: m.step ?? 0 };
  validateMetric(metric.key, metric.value, metric.timestamp, metric.step, path);
  return metric;
}

/**
 * checkMetric over a log-batch's metrics, in order (the first bad item is the one reported). A key that passed once
 * is not checked again (name and length rules depend on the key alone; zod has made value a number and step an
 * int64), only the timestamp's sign: the name regexes per point were ~0.15 ms of a 1000-point batch.
 */
function checkMetrics(items: z.output<typeof metricIn>[]): MetricIn[] {
  const ok = new Set<string>();
  const out: MetricIn[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const m = items[i]!;
    if (m.step !== undefined && m.timestamp >= 0 && ok.has(m.key)) out[i] = m as MetricIn;
    else {
      out[i] = checkMetric(m, `metrics[${i}]`);
      ok.add(m.key);
    }
  }
  return out;
}

/** Param and RunTag of a log-batch: the key is required, an absent value is "". */
const keyValueItem = z.object({ key: requiredString, value: z.string().optional() });

export const runsRouter = router({
  search: searchRunsProcedure,

  create: trustedOutput(writeProcedure
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
      const created = await runs.createRun(ctx.db, {
        projectId: ctx.project.id,
        experimentId: input.experiment_id || '0',
        userId: validateUserId(input.user_id || userTag || ctx.user.username),
        creatorId: ctx.user.id,
        runName: input.run_name || undefined,
        startTime: input.start_time ?? Date.now(),
        tags,
        foldedAuth: ctx.createAuth,
      });
      return { run: newRunView(created.row, created.tags) };
    })),

  get: trustedOutput(readProcedure
    .meta({ openapi: { method: 'GET', path: '/runs/get', tags: MLFLOW, summary: 'GetRun' } })
    .input(runRequest({}))
    .output(z.object({ run: runOut }))
    .query(async ({ ctx, input }) => {
      if (hotPath.enabled) {
        const run = await getRunView(ctx.db, ctx.project.id, input.run_id);
        if (!run) throw notFound(`Run with id=${input.run_id} not found`);
        return { run };
      }
      const row = await runs.requireRun(ctx.db, ctx.project.id, input.run_id);
      const [run] = await loadRuns(ctx.db, [row]);
      return { run: run! };
    })),

  update: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/update', tags: MLFLOW, summary: 'UpdateRun' } })
    .input(runRequest({ status: runStatus.optional(), end_time: int64.optional(), run_name: z.string().optional() }))
    .output(z.object({ run_info: runInfoOut }))
    .mutation(async ({ ctx, input }) => {
      const runId = input.run_id;
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
    .input(runRequest({ ...metricIn.shape, model_id: z.string().optional(), dataset_name: z.string().optional(), dataset_digest: z.string().optional() }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const metric = checkMetric(input);
      await logBatchGrouped(ctx.db, ctx.project.id, input.run_id, { metrics: [metric], params: [], tags: [] });
      notePointsIngested(1);
      return {};
    }),

  logParam: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/log-parameter', tags: MLFLOW, summary: 'LogParam' } })
    .input(runRequest({ key: requiredString, value: z.string().optional() }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const runId = input.run_id;
      const value = validateParam(input.key, input.value ?? '', '', ctx.config.truncateLongValues);
      await logBatchGrouped(ctx.db, ctx.project.id, runId, { metrics: [], params: [{ key: input.key, value }], tags: [] });
      return {};
    }),

  logBatch: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/log-batch', tags: MLFLOW, summary: 'LogBatch' } })
    .input(
      runRequest({
        metrics: withFastPath(z.array(metricIn), plainMetrics).optional(),
        params: z.array(keyValueItem).optional(),
        tags: z.array(keyValueItem).optional(),
      }),
    )
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const runId = input.run_id;
      validateRunId(runId);
      const truncate = ctx.config.truncateLongValues;
      const metrics = checkMetrics(input.metrics ?? []);
      const params = (input.params ?? []).map((p, i) => ({ key: p.key, value: validateParam(p.key, p.value ?? '', `params[${i}]`, truncate) }));
      const tags = (input.tags ?? []).map((t, i) => ({ key: t.key, value: validateTag(t.key, t.value ?? '', `tags[${i}]`, truncate) }));
      validateBatchLimits(metrics.length, params.length, tags.length);
      validateNoDuplicateParamKeys(params);
      for (const t of tags) if (t.key === runs.RUN_NAME_TAG) validateRunName(t.value);
      await logBatchGrouped(ctx.db, ctx.project.id, runId, { metrics, params, tags });
      notePointsIngested(metrics.length);
      return {};
    }),

  /** SetTag: upsert a run tag; `mlflow.runName` renames the run. */
  setTag: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/set-tag', tags: MLFLOW, summary: 'SetTag' } })
    .input(runRequest({ key: requiredString, value: z.string().optional() }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const runId = input.run_id;
      const value = validateTag(input.key, input.value ?? '', '', ctx.config.truncateLongValues);
      if (input.key === runs.RUN_NAME_TAG) validateRunName(value);
      await runs.setTag(ctx.db, ctx.project.id, runId, input.key, value);
      return {};
    }),

  /** DeleteTag: the run must be active; a missing tag is 404. */
  deleteTag: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/delete-tag', tags: MLFLOW, summary: 'DeleteTag' } })
    .input(runRequest({ key: requiredString }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      await runs.deleteTag(ctx.db, ctx.project.id, input.run_id, input.key);
      return {};
    }),

  /** DeleteRun: soft delete (lifecycle_stage "deleted", deleted_time set). */
  delete: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/delete', tags: MLFLOW, summary: 'DeleteRun' } })
    .input(runRequest({}))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      await runs.setRunLifecycle(ctx.db, ctx.project.id, input.run_id, 'deleted');
      return {};
    }),

  /** RestoreRun: active again, unless its experiment is deleted. */
  restore: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/restore', tags: MLFLOW, summary: 'RestoreRun' } })
    .input(runRequest({}))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      await runs.setRunLifecycle(ctx.db, ctx.project.id, input.run_id, 'active');
      return {};
    }),

  /**
   * LogInputs: dataset inputs (shared per experiment, deduplicated on name and digest) with their input tags.
   * MLflow 3's `models` (model inputs) are accepted and not recorded.
   */
  logInputs: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/log-inputs', tags: MLFLOW, summary: 'LogInputs' } })
    .input(
      runRequest({
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
      const runId = input.run_id;
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
    .input(runRequest({ model_json: requiredString }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      await appendLoggedModel(ctx.db, ctx.project.id, input.run_id, input.model_json);
      return {};
    }),

  /** LogOutputs (MLflow 3, path `runs/outputs`): the run must exist and be active; model outputs are not recorded. */
  logOutputs: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/outputs', tags: MLFLOW, summary: 'LogOutputs' } })
    .input(
      runRequest({
        models: z.array(z.object({ model_id: z.string().optional(), step: int64.optional() })),
      }),
    )
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      await runs.requireActiveRun(ctx.db, ctx.project.id, input.run_id);
      return {};
    }),
});
