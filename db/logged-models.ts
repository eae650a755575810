/**
 * MLflow 3 logged models: rows, tags and params (their search is db/search/logged-models.ts).
 * Everything is per project: a model of another project is not found.
 */
import crypto from 'node:crypto';
import type { Db, Trx } from './knex.ts';
import { invalidParam, notFound } from '../core/errors.ts';
import { chunk, groupBy, INSERT_CHUNK, lastValuePerKey, upsertKeyValues, withTransaction } from './tx.ts';
import { requireExperiment } from './experiments.ts';
import { generateRunName } from './run-names.ts';
import { requireRun } from './runs.ts';
import { int64Col, type Int64 } from '../core/codecs.ts';
import type { Decoded, DbLoggedModelRow, DbModelKeyValueRow, ExperimentKey, ExperimentNumber } from './tables.ts';

export type LoggedModelStatus = DbLoggedModelRow['status'];
export const LOGGED_MODEL_STATUSES: LoggedModelStatus[] = ['PENDING', 'READY', 'FAILED'];

/** Status names on the wire (service.proto LoggedModelStatus). */
export const WIRE_STATUS = {
  PENDING: 'LOGGED_MODEL_PENDING',
  READY: 'LOGGED_MODEL_READY',
  FAILED: 'LOGGED_MODEL_UPLOAD_FAILED',
} as const satisfies Record<LoggedModelStatus, string>;

/** A logged model as the repository hands it out, with its experiment's key and MLflow number (LOGGED_MODEL_COLUMNS). */
export type LoggedModelRow = Decoded<DbLoggedModelViewRow, 'creation_time' | 'last_updated_time'>;

/** The wire shape of a LoggedModel (fields in service.proto order; unset ones omitted). */
export interface LoggedModelOut {
  info: {
    model_id: string;
    experiment_id: string;
    name: string;
    creation_timestamp_ms: Int64;
    last_updated_timestamp_ms: Int64;
    artifact_uri: string;
    status: (typeof WIRE_STATUS)[LoggedModelStatus];
    model_type?: string;
    source_run_id?: string;
    status_message?: string;
    tags?: { key: string; value: string }[];
  };
  data: { params?: { key: string; value: string }[] };
}

/** The columns of a LoggedModelRow, from `logged_models as m` joined with `experiments as e`. */
export const LOGGED_MODEL_COLUMNS = [
  'm.id', 'm.model_id', 'm.project_id', 'm.experiment_id as experiment_key', 'e.experiment_id as experiment_number', 'm.name',
  'm.artifact_location', 'm.status', 'm.status_message', 'm.creation_time', 'm.last_updated_time', 'm.source_run_id',
  'm.model_type', 'm.lifecycle_stage',
];

/** A row of LOGGED_MODEL_COLUMNS, as read: logged_models.experiment_id as experiment_key, experiments.experiment_id as
 * experiment_number. */
export type DbLoggedModelViewRow = Omit<DbLoggedModelRow, 'experiment_id' | 'deleted_time' | 'creator_id'> & {
  experiment_key: ExperimentKey;
  experiment_number: ExperimentNumber;
};

export function toLoggedModelRow(r: DbLoggedModelViewRow): LoggedModelRow {
  return {
    ...r,
    experiment_number: Number(r.experiment_number) as ExperimentNumber,
    creation_time: int64Col(r.creation_time),
    last_updated_time: int64Col(r.last_updated_time),
  };
}

export const newModelId = () => `m-${crypto.randomUUID().replace(/-/g, '')}`;
const MODEL_ID_RE = /^m-[0-9a-f]{32}$/;

const modelNotFound = (modelId: string) => notFound(`Logged model with ID '${modelId}' not found.`);

/** The model with this id in this project (deleted ones only with allowDeleted), or undefined. */
export async function getLoggedModelRow(
  db: Db | Trx,
  projectId: number,
  modelId: string,
  allowDeleted = false,
): Promise<LoggedModelRow | undefined> {
  if (!MODEL_ID_RE.test(modelId)) return undefined;
  const q = db('logged_models as m')
    .join('experiments as e', 'e.id', 'm.experiment_id')
    .where('m.model_id', modelId)
    .andWhere('m.project_id', projectId);
  if (!allowDeleted) q.andWhere('m.lifecycle_stage', 'active');
  const r: DbLoggedModelViewRow | undefined = await q.first(LOGGED_MODEL_COLUMNS);
  return r ? toLoggedModelRow(r) : undefined;
}

export async function requireLoggedModel(db: Db | Trx, projectId: number, modelId: string, allowDeleted = false): Promise<LoggedModelRow> {
  const row = await getLoggedModelRow(db, projectId, modelId, allowDeleted);
  if (!row) throw modelNotFound(modelId);
  return row;
}

type KV = { key: string; value: string };
const keyValue = (r: KV): KV => ({ key: r.key, value: r.value });

const paramChanged = (modelId: string, key: string, old: string, value: string) =>
  invalidParam(
    `Changing param values is not allowed. Param with key='${key}' was already logged with value='${old}' ` +
      `for logged model ID='${modelId}'. Attempted logging new value '${value}'.`,
  );

/** Params are immutable: re-logging the same value is a no-op, another value is refused (nothing written). */
async function insertParams(trx: Trx, row: { id: number; model_id: string }, params: KV[]): Promise<void> {
  if (!params.length) return;
  const wanted = new Map<string, string>();
  for (const p of params) {
    const prev = wanted.get(p.key);
    if (prev !== undefined && prev !== p.value) throw paramChanged(row.model_id, p.key, prev, p.value);
    wanted.set(p.key, p.value);
  }
  const existing = await trx<DbModelKeyValueRow>('logged_model_params').where('model_id', row.id).whereIn('key', [...wanted.keys()]).select('key', 'value');
  for (const e of existing) {
    const v = wanted.get(e.key)!;
    if (e.value !== v) throw paramChanged(row.model_id, e.key, e.value, v);
    wanted.delete(e.key);
  }
  for (const part of chunk([...wanted], INSERT_CHUNK)) {
    await trx<DbModelKeyValueRow>('logged_model_params').insert(part.map(([key, value]) => ({ model_id: row.id, key, value })));
  }
}

export async function createLoggedModel(
  db: Db,
  m: {
    projectId: number;
    experimentId: string;
    name?: string;
    modelType?: string;
    sourceRunId?: string;
    params: KV[];
    tags: KV[];
    creatorId: number;
  },
): Promise<LoggedModelRow> {
  return withTransaction(db, async (trx) => {
    const exp = await requireExperiment(trx, m.projectId, m.experimentId);
    if (exp.lifecycle_stage !== 'active') {
      throw invalidParam(`Could not create model under non-active experiment with ID ${m.experimentId}.`);
    }
    // a run of another project is refused exactly as a missing one is
    if (m.sourceRunId) await requireRun(trx, m.projectId, m.sourceRunId);
    const modelId = newModelId();
    const now = Date.now();
    const [id] = await trx<DbLoggedModelRow>('logged_models').insert({
      model_id: modelId,
      project_id: m.projectId,
      experiment_id: exp.id,
      name: m.name || generateRunName(),
      artifact_location: `${exp.artifact_location.replace(/\/+$/, '')}/models/${modelId}/artifacts`,
      status: 'PENDING',
      creation_time: now,
      last_updated_time: now,
      source_run_id: m.sourceRunId || null,
      model_type: m.modelType || null,
      lifecycle_stage: 'active',
      creator_id: m.creatorId,
    });
    const row = { id: Number(id), model_id: modelId };
    await upsertKeyValues<DbModelKeyValueRow>(trx, 'logged_model_tags', { model_id: row.id }, lastValuePerKey(m.tags));
    await insertParams(trx, row, m.params);
    return (await getLoggedModelRow(trx, m.projectId, modelId))!;
  });
}

export async function finalizeLoggedModel(db: Db, projectId: number, modelId: string, status: LoggedModelStatus): Promise<LoggedModelRow> {
  return withTransaction(db, async (trx) => {
    const row = await requireLoggedModel(trx, projectId, modelId);
    await trx<DbLoggedModelRow>('logged_models').where('id', row.id).update({ status, last_updated_time: nextUpdateTime(row) });
    return (await getLoggedModelRow(trx, projectId, modelId))!;
  });
}

/** Now, but strictly after the previous update, so last_updated_timestamp moves on every change. */
function nextUpdateTime(row: LoggedModelRow): number {
  const prev = Number(row.last_updated_time);
  return Math.max(Date.now(), prev + 1);
}

/** Soft delete, as MLflow does: the model is no longer found or searched; its artifacts stay. */
export async function deleteLoggedModel(db: Db, projectId: number, modelId: string): Promise<void> {
  await withTransaction(db, async (trx) => {
    const row = await requireLoggedModel(trx, projectId, modelId);
    const now = nextUpdateTime(row);
    await trx<DbLoggedModelRow>('logged_models').where('id', row.id).update({ lifecycle_stage: 'deleted', deleted_time: now, last_updated_time: now });
  });
}

export async function setLoggedModelTags(db: Db, projectId: number, modelId: string, tags: KV[]): Promise<void> {
  await withTransaction(db, async (trx) => {
    const row = await requireLoggedModel(trx, projectId, modelId);
    await upsertKeyValues<DbModelKeyValueRow>(trx, 'logged_model_tags', { model_id: row.id }, lastValuePerKey(tags));
    await trx<DbLoggedModelRow>('logged_models').where('id', row.id).update({ last_updated_time: nextUpdateTime(row) });
  });
}

export async function deleteLoggedModelTag(db: Db, projectId: number, modelId: string, key: string): Promise<void> {
  await withTransaction(db, async (trx) => {
    const row = await requireLoggedModel(trx, projectId, modelId);
    const n = await trx<DbModelKeyValueRow>('logged_model_tags').where({ model_id: row.id, key }).del();
    if (!n) throw notFound(`No tag with key '${key}' found for logged model with ID '${modelId}'.`);
    await trx<DbLoggedModelRow>('logged_models').where('id', row.id).update({ last_updated_time: nextUpdateTime(row) });
  });
}

export async function logLoggedModelParams(db: Db, projectId: number, modelId: string, params: KV[]): Promise<void> {
  await withTransaction(db, async (trx) => {
    const row = await requireLoggedModel(trx, projectId, modelId);
    await insertParams(trx, row, params);
  });
}

/** Shapes models for the wire with their tags and params, in three queries however many there are. */
export async function toLoggedModelsOut(db: Db, rows: LoggedModelRow[]): Promise<LoggedModelOut[]> {
  if (!rows.length) return [];
  const ids = rows.map((r) => r.id);
  const [tags, params] = await Promise.all([
    db<DbModelKeyValueRow>('logged_model_tags').whereIn('model_id', ids).orderBy(['model_id', 'key']).select('model_id', 'key', 'value'),
    db<DbModelKeyValueRow>('logged_model_params').whereIn('model_id', ids).orderBy(['model_id', 'key']).select('model_id', 'key', 'value'),
  ]);
  const tagsBy = groupBy(tags, (t) => Number(t.model_id));
  const paramsBy = groupBy(params, (p) => Number(p.model_id));
  return rows.map((r) => {
    const info: LoggedModelOut['info'] = {
      model_id: r.model_id,
      experiment_id: String(r.experiment_number),
      name: r.name,
      creation_timestamp_ms: r.creation_time,
      last_updated_timestamp_ms: r.last_updated_time,
      artifact_uri: r.artifact_location,
      status: WIRE_STATUS[r.status],
    };
    if (r.model_type != null) info.model_type = r.model_type;
    if (r.source_run_id != null) info.source_run_id = r.source_run_id;
    if (r.status_message != null) info.status_message = r.status_message;
    const t = tagsBy.get(r.id);
    if (t?.length) info.tags = t.map(keyValue);
    const p = paramsBy.get(r.id);
    return { info, data: p?.length ? { params: p.map(keyValue) } : {} };
  });
}
