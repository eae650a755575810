import { z } from 'zod';
import { readProcedure, router, writeProcedure } from './trpc.ts';
import { double, empty, idString, int64, keyValueIn, runInfoOut, runOut, runStatus } from './schemas.ts';
import { missingParam, requireRunId } from './errors.ts';
import { invalidParam } from '../server/errors.ts';
import * as runs from '../db/runs.ts';
import {
  LIMITS,
  validateBatchLimits,
  validateMetric,
  validateNoDuplicateParamKeys,
  validateParam,
  validateRunId,
  validateTag,
} from './validation.ts';

const MLFLOW = ['MLflow runs'];

const runIdFields = { run_id: z.string().optional(), run_uuid: z.string().optional() };

const metricIn = z.object({
  key: z.string().optional(),
  value: double.optional(),
  timestamp: int64.optional(),
  step: int64.optional(),
});

function checkMetric(m: z.infer<typeof metricIn>, path: string): runs.MetricIn {
  if (!m.key) throw missingParam(`${path}key`);
  if (m.value === undefined) throw missingParam(`${path}value`);
  if (m.timestamp === undefined) throw missingParam(`${path}timestamp`);
  const metric = { key: m.key, value: m.value, timestamp: m.timestamp, step: m.step ?? 0 };
  validateMetric(metric.key, metric.value, metric.timestamp, metric.step, path ? path.slice(0, -1) : undefined);
  return metric;
}

export const runsRouter = router({
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
      const tags = (input.tags ?? []).map((t) => ({ key: t.key, value: validateTag(t.key, t.value) }));
      if (input.run_name !== undefined && [...input.run_name].length > LIMITS.MAX_ENTITY_KEY_LENGTH) {
        throw invalidParam(`Run name '${input.run_name}' exceeds the maximum length of ${LIMITS.MAX_ENTITY_KEY_LENGTH} characters.`);
      }
      const userTag = tags.find((t) => t.key === 'mlflow.user')?.value;
      const id = await runs.createRun(ctx.db, {
        projectId: ctx.project.id,
        experimentId: input.experiment_id || '0',
        userId: input.user_id || userTag || ctx.user.username,
        creatorId: ctx.user.id,
        runName: input.run_name || undefined,
        startTime: input.start_time ?? Date.now(),
        tags,
      });
      const [run] = await runs.loadRuns(ctx.db, [id]);
      return { run: run! };
    }),

  get: readProcedure
    .meta({ openapi: { method: 'GET', path: '/runs/get', tags: MLFLOW, summary: 'GetRun' } })
    .input(z.object(runIdFields))
    .output(z.object({ run: runOut }))
    .query(async ({ ctx, input }) => {
      const runId = requireRunId(input);
      const row = await runs.requireRun(ctx.db, ctx.project.id, runId);
      const [run] = await runs.loadRuns(ctx.db, [row.id]);
      return { run: run! };
    }),

  update: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/update', tags: MLFLOW, summary: 'UpdateRun' } })
    .input(z.object({ ...runIdFields, status: runStatus.optional(), end_time: int64.optional(), run_name: z.string().optional() }))
    .output(z.object({ run_info: runInfoOut }))
    .mutation(async ({ ctx, input }) => {
      const runId = requireRunId(input);
      if (input.run_name !== undefined) validateTag(runs.RUN_NAME_TAG, input.run_name);
      const row = await runs.updateRun(ctx.db, ctx.project.id, runId, {
        status: input.status,
        endTime: input.end_time,
        runName: input.run_name,
      });
      return { run_info: runs.runInfo(row) };
    }),

  logMetric: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/log-metric', tags: MLFLOW, summary: 'LogMetric' } })
    .input(z.object({ ...runIdFields, ...metricIn.shape, model_id: z.string().optional(), dataset_name: z.string().optional(), dataset_digest: z.string().optional() }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const runId = requireRunId(input);
      const metric = checkMetric(input, '');
      await runs.logBatch(ctx.db, ctx.project.id, runId, { metrics: [metric], params: [], tags: [] });
      return {};
    }),

  logParam: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/log-parameter', tags: MLFLOW, summary: 'LogParam' } })
    .input(z.object({ ...runIdFields, key: z.string().optional(), value: z.string().optional() }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const runId = requireRunId(input);
      if (!input.key) throw missingParam('key');
      const value = validateParam(input.key, input.value ?? '');
      await runs.logBatch(ctx.db, ctx.project.id, runId, { metrics: [], params: [{ key: input.key, value }], tags: [] });
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
        return { key: p.key, value: validateParam(p.key, p.value ?? '', `params[${i}]`) };
      });
      const tags = inTags.map((t, i) => {
        if (!t.key) throw missingParam(`tags[${i}].key`);
        return { key: t.key, value: validateTag(t.key, t.value ?? '', `tags[${i}]`) };
      });
      validateBatchLimits(metrics.length, params.length, tags.length);
      validateNoDuplicateParamKeys(params);
      await runs.logBatch(ctx.db, ctx.project.id, runId, { metrics, params, tags });
      return {};
    }),
});
