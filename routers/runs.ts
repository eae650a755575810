import { z } from 'zod';
import { searchRunsProcedure } from './search.ts';
import { readProcedure, router, writeProcedure } from './trpc.ts';
import { double, empty, idString, int64, keyValueIn, runInfoOut, runOut, runStatus } from './schemas.ts';
import { missingParam, requireRunId } from './errors.ts';
import { invalidParam } from '../server/errors.ts';
import * as runs from '../db/runs.ts';
import {
  LIMITS,
  validateBatchLimits,
  validateDatasetInput,
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

/** The run name column holds 250 characters (MLflow's too); a longer name is a client error, never a 500. */
function checkRunName(name: string): void {
  if ([...name].length > LIMITS.MAX_ENTITY_KEY_LENGTH) {
    throw invalidParam(`Run name '${name}' exceeds the maximum length of ${LIMITS.MAX_ENTITY_KEY_LENGTH} characters.`);
  }
}

/** The user_id column holds 256 characters, as MLflow's does; longer (from the request or the mlflow.user tag) is a 400. */
function checkUserId(userId: string): string {
  if ([...userId].length > 256) throw invalidParam("'user_id' exceeds the maximum length of 256 characters");
  return userId;
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
      const tags = (input.tags ?? []).map((t) => ({ key: t.key, value: validateTag(t.key, t.value) }));
      if (input.run_name !== undefined) checkRunName(input.run_name);
      const nameTag = tags.find((t) => t.key === runs.RUN_NAME_TAG);
      if (nameTag) checkRunName(nameTag.value);
      const userTag = tags.find((t) => t.key === 'mlflow.user')?.value;
      const id = await runs.createRun(ctx.db, {
        projectId: ctx.project.id,
        experimentId: input.experiment_id || '0',
        userId: checkUserId(input.user_id || userTag || ctx.user.username),
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
      const [run] = await runs.loadRuns(ctx.db, [row]);
      return { run: run! };
    }),

  update: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/runs/update', tags: MLFLOW, summary: 'UpdateRun' } })
    .input(z.object({ ...runIdFields, status: runStatus.optional(), end_time: int64.optional(), run_name: z.string().optional() }))
    .output(z.object({ run_info: runInfoOut }))
    .mutation(async ({ ctx, input }) => {
      const runId = requireRunId(input);
      if (input.run_name !== undefined) checkRunName(validateTag(runs.RUN_NAME_TAG, input.run_name));
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
      for (const t of tags) if (t.key === runs.RUN_NAME_TAG) checkRunName(t.value);
      await runs.logBatch(ctx.db, ctx.project.id, runId, { metrics, params, tags });
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
      const value = validateTag(input.key, input.value ?? '');
      if (input.key === runs.RUN_NAME_TAG) checkRunName(value);
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
        validateDatasetInput(d.dataset as runs.DatasetIn, tags as { key: string; value: string }[]);
        const ds = d.dataset as runs.DatasetIn;
        checkDatasetColumns(ds);
        return { dataset: ds, tags: tags as { key: string; value: string }[] };
      });
      await runs.logInputs(ctx.db, ctx.project.id, runId, inputs);
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
      await runs.appendLoggedModel(ctx.db, ctx.project.id, runId, modelHistoryEntry(input.model_json));
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

/**
 * Dataset columns MLflow does not validate but its (and our) schema bounds: source_type is VARCHAR(36), and schema
 * and profile are MEDIUMTEXT on MySQL (16 MiB of bytes, whatever the character count).
 */
function checkDatasetColumns(ds: runs.DatasetIn): void {
  if ([...ds.source_type].length > 36) throw invalidParam("'source_type' exceeds the maximum length of 36 characters");
  for (const field of ['source', 'schema', 'profile'] as const) {
    const v = ds[field];
    if (v !== undefined && Buffer.byteLength(v, 'utf8') > 16777215) {
      throw invalidParam(`'${field}' exceeds the maximum size of 16777215 bytes`);
    }
  }
}

const MODEL_FIELDS = ['artifact_path', 'flavors', 'utc_time_created', 'run_id'] as const;

/**
 * What MLflow records for a logged model (`Model.from_dict(model).get_tags_dict()`): run_id, artifact_path,
 * utc_time_created, model_uuid and the flavors without their "config", in that order. The request must carry
 * the four fields MLflow's handler requires.
 */
function modelHistoryEntry(modelJson: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(modelJson);
  } catch {
    throw invalidParam(`Malformed model info. \n ${modelJson} \n is not a valid JSON.`);
  }
  const model = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  const missing = MODEL_FIELDS.filter((k) => !(k in model));
  if (missing.length) throw invalidParam(`Model json is missing mandatory fields: {${missing.map((k) => `'${k}'`).join(', ')}}`);
  const flavors = model.flavors ?? {};
  if (typeof flavors !== 'object' || Array.isArray(flavors)) throw invalidParam("Model json field 'flavors' must be a JSON object.");
  const entry: Record<string, unknown> = {};
  if (model.run_id != null) entry.run_id = model.run_id;
  if (model.artifact_path != null) entry.artifact_path = model.artifact_path;
  entry.utc_time_created = model.utc_time_created ? pyStr(model.utc_time_created) : utcNow();
  entry.model_uuid = model.model_uuid ?? null;
  entry.flavors = Object.fromEntries(
    Object.entries(flavors as Record<string, unknown>).map(([name, config]) => [
      name,
      config !== null && typeof config === 'object' && !Array.isArray(config)
        ? Object.fromEntries(Object.entries(config as Record<string, unknown>).filter(([k]) => k !== 'config'))
        : config,
    ]),
  );
  return entry;
}

/** Python's `str()` of a JSON value, as `Model.__init__` applies it to utc_time_created. */
function pyStr(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  return JSON.stringify(v);
}

/** Python's `str(datetime.utcnow())`: "2024-04-05 19:21:18.901000". */
function utcNow(): string {
  const iso = new Date().toISOString(); // 2024-04-05T19:21:18.901Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000`;
}
