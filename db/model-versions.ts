/**
 * Model versions of the registry: numbered per model from the model's `next_version` counter, which the creating
 * transaction bumps first (the UPDATE takes the model row's lock, so concurrent creations queue and get 1, 2, 3…
 * with no gap; on Galera a certification conflict is a 1213 that withTransaction retries whole). Deleting a
 * version is MLflow's soft delete: the row stays, redacted, so its number is never reused.
 */
import type { Db, Trx } from './knex.ts';
import { invalidParam, notFound } from '../core/errors.ts';
import { int64Col, type Int64 } from '../core/codecs.ts';
import type { KeyValue, ModelVersion } from '../core/entities.ts';
import { groupBy, lastValuePerKey, upsertKeyValues, withTransaction } from './tx.ts';
import { STAGES, STAGE_DELETED, type Stage } from '../core/registry-rules.ts';
import { requireModel } from './registered-models.ts';
import { recordVersionOnLoggedModel } from './model-sources.ts';
import type { Decoded, DbModelVersionRow, DbModelVersionTagRow, DbRegisteredModelAliasRow, DbRegisteredModelRow } from './tables.ts';

/** A version as the repository hands it out, with its model's name joined (VERSION_COLUMNS) for the wire. */
export type ModelVersionRow = Decoded<Omit<DbModelVersionRow, 'creator_id' | 'status'>, 'creation_time' | 'last_updated_time'> & {
  name: string;
  status: ModelVersion['status'];
};

export const VERSION_COLUMNS = [
  'v.id', 'v.model_id', 'm.name', 'v.version', 'v.creation_time', 'v.last_updated_time', 'v.description', 'v.user_id',
  'v.current_stage', 'v.source', 'v.storage_location', 'v.run_id', 'v.run_link', 'v.status', 'v.status_message',
  'v.logged_model_id',
];

/** A row of VERSION_COLUMNS, as read. */
export type DbVersionViewRow = Omit<DbModelVersionRow, 'creator_id'> & { name: string };

export function toVersionRow(r: DbVersionViewRow | ModelVersionRow): ModelVersionRow {
  return {
    ...r,
    status: r.status as ModelVersion['status'],
    id: Number(r.id),
    model_id: Number(r.model_id),
    version: Number(r.version),
    creation_time: int64Col(r.creation_time),
    last_updated_time: int64Col(r.last_updated_time),
  };
}

export const versionNotFound = (name: string, version: number | string) =>
  notFound(`Model Version (name=${name}, version=${version}) not found`);

/** The live (not deleted) version `version` of the model `name`, or a 404. */
export async function requireVersion(db: Db | Trx, projectId: number, name: string, version: number): Promise<ModelVersionRow> {
  const r: DbVersionViewRow | undefined = await db('model_versions as v')
    .join('registered_models as m', 'm.id', 'v.model_id')
    .where({ 'm.project_id': projectId, 'm.name': name, 'v.version': version })
    .whereNot('v.current_stage', STAGE_DELETED)
    .first(VERSION_COLUMNS);
  if (!r) throw versionNotFound(name, version);
  return toVersionRow(r);
}

/**
 * The latest version per stage of each model: the highest-numbered live version in each stage (of `stages`, or
 * all), in the order each stage first appears among the model's versions by ascending number, as MLflow lists
 * them. Two queries however many versions: the stage groups (from the (model_id, current_stage) index), then
 * those versions' rows.
 */
export async function latestPerStage(db: Db, modelIds: number[], stages?: readonly string[]): Promise<Map<number, ModelVersionRow[]>> {
  const out = new Map<number, ModelVersionRow[]>();
  if (!modelIds.length) return out;
  // an aggregate, not table rows: its result type is the one named below
  const q = db('model_versions')
    .whereIn('model_id', modelIds)
    .whereNot('current_stage', STAGE_DELETED)
    .groupBy('model_id', 'current_stage')
    .select('model_id', db.raw('MIN(version) AS first_version'), db.raw('MAX(version) AS last_version'));
  if (stages) q.whereIn('current_stage', [...stages]);
  const groups = (await q) as { model_id: number; first_version: number; last_version: number }[];
  if (!groups.length) return out;
  groups.sort((a, b) => Number(a.model_id) - Number(b.model_id) || Number(a.first_version) - Number(b.first_version));
  const rows: DbVersionViewRow[] = await db('model_versions as v')
    .join('registered_models as m', 'm.id', 'v.model_id')
    .whereIn(['v.model_id', 'v.version'], groups.map((g) => [Number(g.model_id), Number(g.last_version)]))
    .select(VERSION_COLUMNS);
  const byKey = new Map(rows.map(toVersionRow).map((r) => [`${r.model_id}/${r.version}`, r]));
  for (const g of groups) {
    const row = byKey.get(`${Number(g.model_id)}/${Number(g.last_version)}`);
    if (!row) continue;
    const list = out.get(row.model_id);
    if (list) list.push(row);
    else out.set(row.model_id, [row]);
  }
  return out;
}

export interface NewVersion {
  projectId: number;
  name: string;
  source: string;
  storageLocation?: string;
  runId?: string;
  runLink?: string;
  description?: string;
  tags: KeyValue[];
  loggedModelId?: string;
  /** internal logged_models.id whose `mlflow.modelVersions` tag records the new version (MLflow 3) */
  loggedModelKey?: number;
  userId?: string;
  creatorId: number;
}

/** Creates the next version of the model: 3 statements plus one for tags, in one transaction. */
export async function createVersion(db: Db, v: NewVersion): Promise<ModelVersionRow> {
  return withTransaction(db, async (trx) => {
    const model = await requireModel(trx, v.projectId, v.name);
    const now = Date.now();
    // the UPDATE locks the model row: a concurrent creation waits here and then reads the bumped counter
    await trx<DbRegisteredModelRow>('registered_models').where({ id: model.id }).update({ next_version: trx.raw('next_version + 1'), last_updated_time: now });
    const counter = await trx<DbRegisteredModelRow>('registered_models').where({ id: model.id }).first('next_version');
    const version = Number(counter!.next_version) - 1;
    const [id] = await trx<DbModelVersionRow>('model_versions').insert({
      model_id: model.id,
      version,
      creation_time: now,
      last_updated_time: now,
      description: v.description ?? '',
      user_id: v.userId ?? null,
      current_stage: 'None',
      source: v.source,
      storage_location: v.storageLocation ?? null,
      run_id: v.runId ?? '',
      run_link: v.runLink ?? '',
      status: 'READY',
      status_message: null,
      logged_model_id: v.loggedModelId ?? null,
      creator_id: v.creatorId,
    });
    await upsertKeyValues(trx, 'model_version_tags', { version_id: Number(id) }, lastValuePerKey(v.tags));
    if (v.loggedModelKey !== undefined) await recordVersionOnLoggedModel(trx, v.loggedModelKey, v.name, version);
    return {
      id: Number(id), model_id: model.id, name: v.name, version, creation_time: now, last_updated_time: now,
      description: v.description ?? '', user_id: v.userId ?? null, current_stage: 'None', source: v.source,
      storage_location: v.storageLocation ?? null, run_id: v.runId ?? '', run_link: v.runLink ?? '', status: 'READY',
      status_message: null, logged_model_id: v.loggedModelId ?? null,
    };
  });
}

/** update: the description is replaced; absent → NULL (omitted from later answers). Only the version's time moves. */
export async function updateVersionDescription(
  db: Db, projectId: number, name: string, version: number, description: string | undefined,
): Promise<ModelVersionRow> {
  return withTransaction(db, async (trx) => {
    const row = await requireVersion(trx, projectId, name, version);
    const now = Date.now();
    await trx<DbModelVersionRow>('model_versions').where({ id: row.id }).update({ description: description ?? null, last_updated_time: now });
    return { ...row, description: description ?? null, last_updated_time: now };
  });
}

/** Soft delete, redacted as MLflow redacts it; aliases pointing at the version go (MLflow leaves them dangling). */
export async function deleteVersion(db: Db, projectId: number, name: string, version: number): Promise<void> {
  await withTransaction(db, async (trx) => {
    const row = await requireVersion(trx, projectId, name, version);
    const now = Date.now();
    await trx<DbModelVersionRow>('model_versions').where({ id: row.id }).update({
      current_stage: STAGE_DELETED, source: 'REDACTED-SOURCE-PATH', run_id: 'REDACTED-RUN-ID', run_link: 'REDACTED-RUN-LINK',
      storage_location: null, description: null, user_id: null, status_message: null, last_updated_time: now,
    });
    await trx<DbRegisteredModelAliasRow>('registered_model_aliases').where({ model_id: row.model_id, version }).del();
    await trx<DbRegisteredModelRow>('registered_models').where({ id: row.model_id }).update({ last_updated_time: now });
  });
}

/**
 * transition-stage: moves the version; with `archiveExisting`, every other version in the target stage becomes
 * Archived (only when the target is Staging or Production). Bumps the version's and the model's times.
 */
export async function transitionStage(
  db: Db, projectId: number, name: string, version: number, stage: Stage, archiveExisting: boolean,
): Promise<ModelVersionRow> {
  if (archiveExisting && stage !== 'Staging' && stage !== 'Production') {
    throw invalidParam(
      `Model version transition cannot archive existing model versions because '${stage}' is not an Active stage. ` +
        "Valid stages are ['Staging', 'Production']",
    );
  }
  return withTransaction(db, async (trx) => {
    const row = await requireVersion(trx, projectId, name, version);
    const now = Date.now();
    if (archiveExisting) {
      await trx<DbModelVersionRow>('model_versions')
        .where({ model_id: row.model_id, current_stage: stage })
        .whereNot('id', row.id)
        .update({ current_stage: 'Archived', last_updated_time: now });
    }
    await trx<DbModelVersionRow>('model_versions').where({ id: row.id }).update({ current_stage: stage, last_updated_time: now });
    await trx<DbRegisteredModelRow>('registered_models').where({ id: row.model_id }).update({ last_updated_time: now });
    return { ...row, current_stage: stage, last_updated_time: now };
  });
}

export async function setVersionTag(db: Db, projectId: number, name: string, version: number, key: string, value: string): Promise<void> {
  await withTransaction(db, async (trx) => {
    const row = await requireVersion(trx, projectId, name, version);
    await upsertKeyValues(trx, 'model_version_tags', { version_id: row.id }, [{ key, value }]);
  });
}

/** delete-tag: the version must exist; a missing key is a no-op. */
export async function deleteVersionTag(db: Db, projectId: number, name: string, version: number, key: string): Promise<void> {
  await withTransaction(db, async (trx) => {
    const row = await requireVersion(trx, projectId, name, version);
    await trx<DbModelVersionTagRow>('model_version_tags').where({ version_id: row.id, key }).del();
  });
}

/** Model versions for the wire, in the order of `rows`, with tags (and aliases when asked): two queries at most. */
export async function loadModelVersions(db: Db, rows: ModelVersionRow[], opts: { aliases: boolean }): Promise<ModelVersion[]> {
  if (!rows.length) return [];
  const [tags, aliases] = await Promise.all([
    db<DbModelVersionTagRow>('model_version_tags').whereIn('version_id', rows.map((r) => r.id)).select('version_id', 'key', 'value'),
    opts.aliases
      ? db<DbRegisteredModelAliasRow>('registered_model_aliases').whereIn('model_id', [...new Set(rows.map((r) => r.model_id))]).select('model_id', 'alias', 'version')
      : Promise.resolve([]),
  ]);
  const tagsBy = groupBy(tags, (t) => Number(t.version_id));
  const aliasesBy = groupBy(aliases as Pick<DbRegisteredModelAliasRow, 'model_id' | 'alias' | 'version'>[], (a) => `${a.model_id}/${a.version}`);
  return rows.map((r) => {
    const out: ModelVersion = {
      name: r.name,
      version: String(r.version),
      creation_timestamp: r.creation_time,
      last_updated_timestamp: r.last_updated_time,
      current_stage: r.current_stage,
      source: r.source,
      run_id: r.run_id ?? '',
      status: r.status,
      run_link: r.run_link ?? '',
    };
    if (r.description !== null) out.description = r.description;
    if (r.status_message) out.status_message = r.status_message;
    const ts = tagsBy.get(r.id);
    if (ts?.length) out.tags = ts.map((t) => ({ key: t.key, value: t.value })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const as = aliasesBy.get(`${r.model_id}/${r.version}`);
    if (as?.length) out.aliases = as.map((a) => a.alias).sort();
    if (r.logged_model_id) out.model_id = r.logged_model_id;
    return out;
  });
}

/** get-download-uri: where the files are (a models:/ source was resolved at creation), else the source. */
export const downloadUri = (row: ModelVersionRow) => row.storage_location ?? row.source;



/** Version rows by internal id, in the order of `ids` (a search page). */
export async function versionRowsByIds(db: Db, ids: number[]): Promise<ModelVersionRow[]> {
  if (!ids.length) return [];
  const rows = (await db('model_versions as v').join('registered_models as m', 'm.id', 'v.model_id').whereIn('v.id', ids).select(VERSION_COLUMNS)).map(toVersionRow);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** The highest live version of the model carrying tag `key` = `value` (GitLab's `gitlab.version`), or undefined. */
export async function taggedVersion(db: Db, modelId: number, key: string, value: string): Promise<number | undefined> {
  const r = await db('model_versions as v')
    .join('model_version_tags as t', 't.version_id', 'v.id')
    .where({ 'v.model_id': modelId, 't.key': key, 't.value': value })
    .whereNot('v.current_stage', STAGE_DELETED)
    .max({ version: 'v.version' })
    .first();
  return r?.version == null ? undefined : Number(r.version);
}
