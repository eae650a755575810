/**
 * The model registry's registered models, their tags and aliases (model versions are in model-versions.ts), per
 * project. Every write is one transaction; rows refer to a model by its internal id, so a rename is one UPDATE.
 * Cascades are explicit DELETEs rather than foreign-key actions: SQLite enforces foreign keys only when asked, and
 * the same statements then run on every engine.
 */
import type { Db, Trx } from './knex.ts';
import { alreadyExists, notFound } from '../core/errors.ts';
import { int64Col, type Int64 } from '../core/codecs.ts';
import type { KeyValue, RegisteredModel } from '../core/entities.ts';
import { groupBy, isDuplicateKey, lastValuePerKey, upsertKeyValues, withTransaction } from './tx.ts';
import { STAGES, STAGE_DELETED, type Stage } from '../core/registry-rules.ts';
import { latestPerStage, loadModelVersions, type ModelVersionRow } from './model-versions.ts';
import type { Decoded, DbModelKeyValueRow, DbModelVersionRow, DbModelVersionTagRow, DbRegisteredModelAliasRow, DbRegisteredModelRow } from './tables.ts';

export type RegisteredModelRow = Decoded<Omit<DbRegisteredModelRow, 'creator_id'>, 'creation_time' | 'last_updated_time'>;

const MODEL_COLUMNS = ['id', 'project_id', 'name', 'description', 'creation_time', 'last_updated_time', 'next_version'] as const;
type ModelColumns = Pick<DbRegisteredModelRow, (typeof MODEL_COLUMNS)[number]>;

const toModelRow = (r: ModelColumns): RegisteredModelRow => ({
  id: Number(r.id),
  project_id: Number(r.project_id),
  name: String(r.name),
  description: r.description == null ? null : String(r.description),
  creation_time: int64Col(r.creation_time),
  last_updated_time: int64Col(r.last_updated_time),
  next_version: Number(r.next_version),
});

export const modelNotFound = (name: string) => notFound(`Registered Model with name=${name} not found`);
const modelExists = (name: string) => alreadyExists(`Registered Model (name=${name}) already exists.`);

export async function getModelRow(db: Db | Trx, projectId: number, name: string): Promise<RegisteredModelRow | undefined> {
  const r = await db<DbRegisteredModelRow>('registered_models').where({ project_id: projectId, name }).first(...MODEL_COLUMNS);
  return r ? toModelRow(r) : undefined;
}

export async function requireModel(db: Db | Trx, projectId: number, name: string): Promise<RegisteredModelRow> {
  const model = await getModelRow(db, projectId, name);
  if (!model) throw modelNotFound(name);
  return model;
}

export async function createModel(
  db: Db,
  m: { projectId: number; name: string; description?: string; tags: KeyValue[]; creatorId: number },
): Promise<RegisteredModelRow> {
  try {
    return await withTransaction(db, async (trx) => {
      if (await getModelRow(trx, m.projectId, m.name)) throw modelExists(m.name);
      const now = Date.now();
      const [id] = await trx<DbRegisteredModelRow>('registered_models').insert({
        project_id: m.projectId,
        name: m.name,
        description: m.description ?? null,
        creation_time: now,
        last_updated_time: now,
        next_version: 1,
        creator_id: m.creatorId,
      });
      await upsertKeyValues(trx, 'registered_model_tags', { model_id: Number(id) }, lastValuePerKey(m.tags));
      return (await getModelRow(trx, m.projectId, m.name))!;
    });
  } catch (err) {
    // two creations of one name raced: the loser sees the unique key
    if (isDuplicateKey(err)) throw modelExists(m.name);
    throw err;
  }
}

/** Renames the model; its versions follow (they refer to it by id) and get a new last-updated time, as in MLflow. */
export async function renameModel(db: Db, projectId: number, name: string, newName: string): Promise<RegisteredModelRow> {
  try {
    return await withTransaction(db, async (trx) => {
      const model = await requireModel(trx, projectId, name);
      if (newName !== name && (await getModelRow(trx, projectId, newName))) throw modelExists(newName);
      const now = Date.now();
      await trx<DbRegisteredModelRow>('registered_models').where({ id: model.id }).update({ name: newName, last_updated_time: now });
      await trx<DbModelVersionRow>('model_versions').where({ model_id: model.id }).update({ last_updated_time: now });
      return { ...model, name: newName, last_updated_time: now };
    });
  } catch (err) {
    if (isDuplicateKey(err)) throw modelExists(newName);
    throw err;
  }
}

/** update: the description becomes the request's ("" when absent, as MLflow clears it). */
export async function updateModelDescription(db: Db, projectId: number, name: string, description: string): Promise<RegisteredModelRow> {
  return withTransaction(db, async (trx) => {
    const model = await requireModel(trx, projectId, name);
    const now = Date.now();
    await trx<DbRegisteredModelRow>('registered_models').where({ id: model.id }).update({ description, last_updated_time: now });
    return { ...model, description, last_updated_time: now };
  });
}

/** A hard delete with everything under the model: versions (deleted ones too), their tags, the model's tags, aliases. */
export async function deleteModel(db: Db, projectId: number, name: string): Promise<void> {
  await withTransaction(db, async (trx) => {
    const model = await requireModel(trx, projectId, name);
    await trx<DbRegisteredModelAliasRow>('registered_model_aliases').where({ model_id: model.id }).del();
    await trx<DbModelVersionTagRow>('model_version_tags').whereIn('version_id', trx<DbModelVersionRow>('model_versions').where({ model_id: model.id }).select('id')).del();
    await trx<DbModelVersionRow>('model_versions').where({ model_id: model.id }).del();
    await trx<DbModelKeyValueRow>('registered_model_tags').where({ model_id: model.id }).del();
    await trx<DbRegisteredModelRow>('registered_models').where({ id: model.id }).del();
  });
}

/** set-tag: an upsert; no timestamp changes. */
export async function setModelTag(db: Db, projectId: number, name: string, key: string, value: string): Promise<void> {
  await withTransaction(db, async (trx) => {
    const model = await requireModel(trx, projectId, name);
    await upsertKeyValues(trx, 'registered_model_tags', { model_id: model.id }, [{ key, value }]);
  });
}

/** delete-tag: the model must exist; a missing key is a no-op, as in MLflow. */
export async function deleteModelTag(db: Db, projectId: number, name: string, key: string): Promise<void> {
  await withTransaction(db, async (trx) => {
    const model = await requireModel(trx, projectId, name);
    await trx<DbModelKeyValueRow>('registered_model_tags').where({ model_id: model.id, key }).del();
  });
}

/**
 * Points `alias` at a version of the model, moving it if it pointed elsewhere: one upsert, so two racing moves
 * leave the alias on exactly one of the two versions. The version must exist (and not be deleted).
 */
export async function setAlias(db: Db, projectId: number, name: string, alias: string, version: number): Promise<void> {
  await withTransaction(db, async (trx) => {
    const model = await getModelRow(trx, projectId, name);
    const v = model && (await trx<DbModelVersionRow>('model_versions').where({ model_id: model.id, version }).whereNot('current_stage', STAGE_DELETED).first('id'));
    if (!model || !v) throw notFound(`Model Version (name=${name}, version=${version}) not found`);
    await trx<DbRegisteredModelAliasRow>('registered_model_aliases').insert({ model_id: model.id, alias, version }).onConflict(['model_id', 'alias']).merge(['version']);
  });
}

/** delete-alias: the model must exist; a missing alias is a no-op. */
export async function deleteAlias(db: Db, projectId: number, name: string, alias: string): Promise<void> {
  await withTransaction(db, async (trx) => {
    const model = await requireModel(trx, projectId, name);
    await trx<DbRegisteredModelAliasRow>('registered_model_aliases').where({ model_id: model.id, alias }).del();
  });
}

/** The version number an alias names, or undefined. */
export async function aliasVersion(db: Db, modelId: number, alias: string): Promise<number | undefined> {
  const r = await db<DbRegisteredModelAliasRow>('registered_model_aliases').where({ model_id: modelId, alias }).first('version');
  return r ? Number(r.version) : undefined;
}

/** get-latest-versions: per requested stage (all four when none), the highest-numbered live version in it. */
export async function latestVersions(db: Db, model: RegisteredModelRow, stages: readonly Stage[]): Promise<ModelVersionRow[]> {
  return (await latestPerStage(db, [model.id], stages.length ? stages : STAGES)).get(model.id) ?? [];
}

/**
 * Registered models for the wire, in the order of `rows`, with their tags, aliases and latest version per stage:
 * four queries however many models and versions.
 */
export async function loadRegisteredModels(db: Db, rows: RegisteredModelRow[]): Promise<RegisteredModel[]> {
  if (!rows.length) return [];
  const ids = rows.map((r) => r.id);
  const [tags, aliases, latestBy] = await Promise.all([
    db<DbModelKeyValueRow>('registered_model_tags').whereIn('model_id', ids).select('model_id', 'key', 'value'),
    db<DbRegisteredModelAliasRow>('registered_model_aliases').whereIn('model_id', ids).select('model_id', 'alias', 'version'),
    latestPerStage(db, ids),
  ]);
  const tagsBy = groupBy(tags, (t) => Number(t.model_id));
  const aliasesBy = groupBy(aliases, (a) => Number(a.model_id));
  const latestRows = rows.flatMap((r) => latestBy.get(r.id) ?? []);
  // nested versions carry tags but no aliases, as MLflow's answers do
  const latest = groupBy(await loadModelVersions(db, latestRows, { aliases: false }), (v) => v.name);
  return rows.map((r) => {
    const out: RegisteredModel = { name: r.name, creation_timestamp: r.creation_time, last_updated_timestamp: r.last_updated_time };
    if (r.description) out.description = r.description;
    const lv = latest.get(r.name);
    if (lv?.length) out.latest_versions = lv;
    const ts = tagsBy.get(r.id);
    if (ts?.length) out.tags = ts.map((t) => ({ key: t.key, value: t.value })).sort(byKey);
    const as = aliasesBy.get(r.id);
    if (as?.length) out.aliases = as.map((a) => ({ alias: a.alias, version: String(a.version) })).sort((a, b) => cmp(a.alias, b.alias));
    return out;
  });
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byKey = (a: KeyValue, b: KeyValue) => cmp(a.key, b.key);


/** Model rows by internal id, in the order of `ids` (a search page). */
export async function modelRowsByIds(db: Db, ids: number[]): Promise<RegisteredModelRow[]> {
  if (!ids.length) return [];
  const rows = (await db<DbRegisteredModelRow>('registered_models').whereIn('id', ids).select(...MODEL_COLUMNS)).map(toModelRow);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}
