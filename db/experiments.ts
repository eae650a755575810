import type { Db, Trx } from './knex.ts';
import { alreadyExists, invalidParam, MlflowError, notFound } from '../core/errors.ts';
import { groupBy, isDuplicateKey, lastValuePerKey, requireActiveStage, upsertKeyValues, withTransaction } from './tx.ts';
import type { Experiment } from '../core/entities.ts';
import { int64Col } from '../core/codecs.ts';
import type { Decoded, DbExperimentRow, DbExperimentTagRow, DbProjectRow, DbRunRow, ExperimentKey, ExperimentNumber } from './tables.ts';

/** An experiment as the repository hands it out: `id` is its ExperimentKey, `experiment_id` its ExperimentNumber. */
export type ExperimentRow = Decoded<Omit<DbExperimentRow, 'creator_id'>, 'creation_time' | 'last_update_time' | 'deleted_time'>;

/** MLflow's experiment id on the wire as the per-project number it names, or undefined when it names none
 * (non-numeric, or too long for the column): such an id is simply not found, never a 500. Only the canonical
 * decimal names an experiment: "01", "+1", " 1" name none (the reliability report had "01" rename experiment 1). */
export function experimentNumber(experimentId: string): ExperimentNumber | undefined {
  return /^(0|[1-9]\d{0,8})$/.test(experimentId) ? (Number(experimentId) as ExperimentNumber) : undefined;
}

/** The distinct per-project numbers among wire experiment ids; ids naming none are left out. */
export function experimentNumbers(experimentIds: readonly string[]): ExperimentNumber[] {
  const out = new Set<ExperimentNumber>();
  for (const id of experimentIds) {
    const n = experimentNumber(id);
    if (n !== undefined) out.add(n);
  }
  return [...out];
}

export const defaultArtifactLocation = (number: ExperimentNumber) => `mlflow-artifacts:/${number}`;

/** Inserts an experiment with the given per-project number (used for "Default" = 0). */
export async function insertExperiment(
  trx: Trx | Db,
  e: { projectId: number; number: ExperimentNumber; name: string; artifactLocation?: string; creatorId?: number | null },
): Promise<ExperimentKey> {
  const now = Date.now();
  const [id] = await trx<DbExperimentRow>('experiments').insert({
    project_id: e.projectId,
    experiment_id: e.number,
    name: e.name,
    artifact_location: e.artifactLocation || defaultArtifactLocation(e.number),
    lifecycle_stage: 'active',
    creation_time: now,
    last_update_time: now,
    creator_id: e.creatorId ?? null,
  });
  return Number(id) as ExperimentKey;
}

/**
 * Creates an experiment. Its number comes from the project's counter, bumped inside the same transaction
 * (never from AUTO_INCREMENT, which is not consecutive on a Galera cluster).
 */
export async function createExperiment(
  db: Db,
  e: { projectId: number; name: string; artifactLocation?: string; tags: { key: string; value: string }[]; creatorId: number },
): Promise<string> {
  try {
    return await withTransaction(db, async (trx) => {
      const clash = await trx<DbExperimentRow>('experiments').where({ project_id: e.projectId, name: e.name }).first('id');
      if (clash) throw experimentExists(e.name);
      await trx<DbProjectRow>('projects').where({ id: e.projectId }).increment('last_experiment_iid', 1);
      const p = await trx<DbProjectRow>('projects').where({ id: e.projectId }).first('last_experiment_iid');
      const number = Number(p!.last_experiment_iid) as ExperimentNumber;
      const id = await insertExperiment(trx, { ...e, number });
      await upsertKeyValues<DbExperimentTagRow>(trx, 'experiment_tags', { experiment_id: id }, lastValuePerKey(e.tags));
      return String(number);
    });
  } catch (err) {
    if (isDuplicateKey(err)) throw experimentExists(e.name);
    throw err;
  }
}

const experimentExists = (name: string) => alreadyExists(`Experiment(name=${name}) already exists.`);

const toRow = (r: DbExperimentRow): ExperimentRow => ({
  id: r.id,
  project_id: r.project_id,
  experiment_id: r.experiment_id,
  name: r.name,
  artifact_location: r.artifact_location,
  lifecycle_stage: r.lifecycle_stage,
  creation_time: int64Col(r.creation_time),
  last_update_time: int64Col(r.last_update_time),
  deleted_time: r.deleted_time == null ? null : int64Col(r.deleted_time),
});

export async function getExperimentRowByIid(db: Db | Trx, projectId: number, experimentId: string): Promise<ExperimentRow | undefined> {
  const number = experimentNumber(experimentId);
  if (number === undefined) return undefined;
  const r = await db<DbExperimentRow>('experiments').where({ project_id: projectId, experiment_id: number }).first();
  return r ? toRow(r) : undefined;
}

/** The experiment or MLflow's 404. Non-numeric ids are simply not found (never a 500). */
export async function requireExperiment(db: Db | Trx, projectId: number, experimentId: string): Promise<ExperimentRow> {
  const row = await getExperimentRowByIid(db, projectId, experimentId);
  if (!row) throw notFound(`No Experiment with id=${experimentId} exists`);
  return row;
}

export async function requireActiveExperiment(db: Db | Trx, projectId: number, experimentId: string): Promise<ExperimentRow> {
  return requireActiveStage(await requireExperiment(db, projectId, experimentId), 'experiment', experimentId);
}

/** get-by-name: an active experiment is preferred; deleted ones are returned too, as MLflow does. */
export async function getExperimentRowByName(db: Db, projectId: number, name: string): Promise<ExperimentRow | undefined> {
  const r = await db<DbExperimentRow>('experiments').where({ project_id: projectId, name }).first();
  return r ? toRow(r) : undefined;
}

/** Experiments of a project, newest first (GitLab's experiments/list). */
export async function listExperimentRows(db: Db, projectId: number): Promise<ExperimentRow[]> {
  return (await db<DbExperimentRow>('experiments').where({ project_id: projectId }).orderBy('experiment_id', 'desc')).map(toRow);
}

export async function getExperimentRowsByIds(db: Db, ids: ExperimentKey[]): Promise<ExperimentRow[]> {
  if (!ids.length) return [];
  const rows = (await db<DbExperimentRow>('experiments').whereIn('id', ids)).map(toRow);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id)).filter((r): r is ExperimentRow => !!r);
}

/** Shapes experiments for the wire, with their tags, in two queries however many there are. */
export async function toExperimentsOut(db: Db, rows: ExperimentRow[]): Promise<Experiment[]> {
  if (!rows.length) return [];
  const tags = await db<DbExperimentTagRow>('experiment_tags').whereIn('experiment_id', rows.map((r) => r.id)).orderBy(['experiment_id', 'key']);
  const byExp = groupBy(tags, (t) => t.experiment_id);
  return rows.map((r) => {
    const out: Experiment = {
      experiment_id: String(r.experiment_id),
      name: r.name,
      artifact_location: r.artifact_location,
      lifecycle_stage: r.lifecycle_stage,
      last_update_time: r.last_update_time,
      creation_time: r.creation_time,
    };
    const t = byExp.get(r.id);
    if (t?.length) out.tags = t.map((x) => ({ key: x.key, value: x.value }));
    return out;
  });
}

/**
 * experiments/update: renames an active experiment (MLflow refuses a deleted one with INVALID_STATE, which we
 * answer with 400, not MLflow's 500, so the client does not retry it). Another experiment of the project holding the
 * name, deleted or not, is a clash.
 */
export async function renameExperiment(db: Db, projectId: number, experimentId: string, newName: string): Promise<void> {
  try {
    await withTransaction(db, async (trx) => {
      const row = await requireExperiment(trx, projectId, experimentId);
      if (row.lifecycle_stage !== 'active') {
        throw new MlflowError('INVALID_STATE', 'Cannot rename a non-active experiment.', 400);
      }
      if (row.name !== newName) {
        const clash = await trx<DbExperimentRow>('experiments').where({ project_id: projectId, name: newName }).first('id');
        if (clash) throw experimentExists(newName);
      }
      await trx<DbExperimentRow>('experiments').where({ id: row.id }).update({ name: newName, last_update_time: Date.now() });
    });
  } catch (err) {
    if (isDuplicateKey(err)) throw experimentExists(newName);
    throw err;
  }
}

/**
 * Soft delete or restore; the experiment's runs follow it, as in MLflow (`delete_experiment` marks every run deleted
 * with a deleted_time, `restore_experiment` marks every run active again). As in MLflow's SQL store, deleting an
 * experiment that is not active, or restoring one that is not deleted, is "No Experiment with id=… exists" (404).
 * The name stays taken while the experiment is deleted. The Default experiment "0" cannot be deleted (MLflow's
 * FileStore rule; clients fall back to it when no experiment is set).
 */
export async function setExperimentLifecycle(db: Db, projectId: number, experimentId: string, stage: 'active' | 'deleted'): Promise<void> {
  await withTransaction(db, async (trx) => {
    const row = await requireExperiment(trx, projectId, experimentId);
    if (row.lifecycle_stage === stage) throw notFound(`No Experiment with id=${experimentId} exists`);
    if (stage === 'deleted' && row.experiment_id === 0) {
      throw invalidParam("Cannot delete the default experiment '0'. This is an internally reserved experiment.");
    }
    const now = Date.now();
    await trx<DbExperimentRow>('experiments').where({ id: row.id }).update({ lifecycle_stage: stage, last_update_time: now, deleted_time: stage === 'deleted' ? now : null });
    await trx<DbRunRow>('runs')
      .where({ experiment_id: row.id })
      .update({ lifecycle_stage: stage, deleted_time: stage === 'deleted' ? now : null });
  });
}

/** set-experiment-tag: the experiment must exist (404) and be active (400); upsert. MLflow leaves last_update_time. */
export async function setExperimentTag(db: Db, projectId: number, experimentId: string, key: string, value: string): Promise<void> {
  await withTransaction(db, async (trx) => {
    const row = await requireActiveExperiment(trx, projectId, experimentId);
    await upsertKeyValues<DbExperimentTagRow>(trx, 'experiment_tags', { experiment_id: row.id }, [{ key, value }]);
  });
}

/** delete-experiment-tag: exists (404) → active (400) → the tag exists (404). */
export async function deleteExperimentTag(db: Db, projectId: number, experimentId: string, key: string): Promise<void> {
  await withTransaction(db, async (trx) => {
    const row = await requireActiveExperiment(trx, projectId, experimentId);
    const n = await trx<DbExperimentTagRow>('experiment_tags').where({ experiment_id: row.id, key }).del();
    if (!n) throw notFound(`No tag with name: ${key} in experiment with id ${experimentId}`);
  });
}

/** Internal ids of the project's experiments among the given MLflow experiment ids; others are left out. */
export async function experimentInternalIds(db: Db, projectId: number, experimentIds: string[]): Promise<ExperimentKey[]> {
  const numbers = experimentNumbers(experimentIds);
  if (!numbers.length) return [];
  const rows = await db<DbExperimentRow>('experiments').where('project_id', projectId).whereIn('experiment_id', numbers).select('id');
  return rows.map((r) => r.id);
}
