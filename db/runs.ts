/**
 * The runs repository: run rows, their lifecycle and their tags. Metrics and params arrive through log-batch
 * (`log-batch.ts`), datasets through `datasets.ts`; `run-view.ts` assembles whole runs for reading.
 */
import crypto from 'node:crypto';
import { isMysql, type Db, type Trx } from './knex.ts';
import { invalidParam, notFound } from '../core/errors.ts';
import { int64Bind, int64Col, type Int64 } from '../core/codecs.ts';
import type { RunStatus } from '../core/entities.ts';
import { chunk, INSERT_CHUNK, requireActiveStage, upsertKeyValues, withTransaction } from './tx.ts';
import { hotPath, hotQuery, hotScriptTransaction, hotTransaction, ScriptOutcomeUnknown, type WriteResult } from './hot.ts';
import { requireActiveExperiment } from './experiments.ts';
import { generateRunName } from './run-names.ts';
import { FOLDED_EXPERIMENT, foldedExperimentBindings, FoldRefused, type FoldedAuth } from './create-auth.ts';
import type { Decoded, DbExperimentRow, DbRunKeyValueRow, DbRunRow, ExperimentKey, ExperimentNumber } from './tables.ts';

export const RUN_NAME_TAG = 'mlflow.runName';

/** A run as the repository hands it out, with its experiment's key and MLflow number (RUN_COLUMNS). */
export type RunRow = Decoded<DbRunViewRow, 'start_time' | 'end_time' | 'deleted_time'>;

export const RUN_COLUMNS = [
  'r.id', 'r.run_uuid', 'r.project_id', 'r.experiment_id as experiment_key', 'e.experiment_id as experiment_number', 'r.name',
  'r.user_id', 'r.status', 'r.start_time', 'r.end_time', 'r.lifecycle_stage', 'r.deleted_time', 'r.artifact_uri',
];

/** A row of RUN_COLUMNS, as read: runs.experiment_id as experiment_key, experiments.experiment_id as experiment_number. */
export type DbRunViewRow = Omit<DbRunRow, 'experiment_id' | 'creator_id'> & { experiment_key: ExperimentKey; experiment_number: ExperimentNumber };

export function toRunRow(r: DbRunViewRow): RunRow {
  return {
    ...r,
    experiment_number: Number(r.experiment_number) as ExperimentNumber,
    start_time: int64Col(r.start_time),
    end_time: r.end_time == null ? null : int64Col(r.end_time),
    deleted_time: r.deleted_time == null ? null : int64Col(r.deleted_time),
  };
}

/** The run with this MLflow run id in this project, or undefined. Runs of other projects are not found. */
export async function getRunRow(db: Db | Trx, projectId: number, runUuid: string): Promise<RunRow | undefined> {
  const r: DbRunViewRow | undefined = await db('runs as r')
    .join('experiments as e', 'e.id', 'r.experiment_id')
    .where('r.run_uuid', runUuid)
    .andWhere('r.project_id', projectId)
    .first(RUN_COLUMNS);
  return r ? toRunRow(r) : undefined;
}

export async function requireRun(db: Db | Trx, projectId: number, runUuid: string): Promise<RunRow> {
  const run = await getRunRow(db, projectId, runUuid);
  if (!run) throw notFound(`Run with id=${runUuid} not found`);
  return run;
}

export async function requireActiveRun(db: Db | Trx, projectId: number, runUuid: string): Promise<RunRow> {
  return requireActiveStage(await requireRun(db, projectId, runUuid), 'run', runUuid);
}

export interface NewRun {
  projectId: number;
  experimentId: string;
  userId: string;
  creatorId: number;
  runName?: string;
  startTime: Int64;
  tags: { key: string; value: string }[];
  /** The caller, unchecked: the run's INSERT checks it (db/create-auth.ts); FoldRefused when it does not pass. */
  foldedAuth?: FoldedAuth;
}

/** A new run's row and its tags (one per key, the last value of a repeated key), as stored: the answer needs no read. */
export async function createRun(db: Db, r: NewRun): Promise<{ row: RunRow; tags: { key: string; value: string }[] }> {
  const tags = new Map<string, string>();
  for (const t of r.tags) tags.set(t.key, t.value);
  const tagName = tags.get(RUN_NAME_TAG);
  if (r.runName && tagName !== undefined && tagName !== r.runName) {
    throw invalidParam(
      `Both 'run_name' argument and '${RUN_NAME_TAG}' tag are specified, but with different values ` +
        `(run_name='${r.runName}', ${RUN_NAME_TAG}='${tagName}').`,
    );
  }
  const name = r.runName || tagName || generateRunName();
  tags.set(RUN_NAME_TAG, name);
  const tagList = [...tags].map(([key, value]) => ({ key, value }));
  const runUuid = crypto.randomUUID().replace(/-/g, '');
  const startTime = int64Bind(r.startTime);

  // the statement-by-statement ways below do not check a folded caller
  if (r.foldedAuth && !(hotPath.enabled && isMysql(db))) throw new FoldRefused();
  const inserted = hotPath.enabled
    ? await insertRunHot(db, r, runUuid, name, startTime, tagList)
    : await withTransaction(db, async (trx) => {
        const exp = await requireActiveExperiment(trx, r.projectId, r.experimentId);
        const artifactUri = runArtifactUri(exp.artifact_location, runUuid);
        const [id] = await trx<DbRunRow>('runs').insert({
          run_uuid: runUuid,
          project_id: r.projectId,
          experiment_id: exp.id,
          name,
          user_id: r.userId,
          creator_id: r.creatorId,
          status: 'RUNNING',
          start_time: startTime,
          end_time: null,
          lifecycle_stage: 'active',
          artifact_uri: artifactUri,
        });
        const runId = Number(id);
        await upsertTags(trx, runId, tagList);
        return { id: runId, experimentKey: exp.id, experimentNumber: exp.experiment_id, artifactUri };
      });
  const row: RunRow = {
    id: inserted.id,
    run_uuid: runUuid,
    project_id: r.projectId,
    experiment_key: inserted.experimentKey,
    experiment_number: inserted.experimentNumber,
    name,
    user_id: r.userId,
    status: 'RUNNING',
    start_time: int64Col(startTime),
    end_time: null,
    lifecycle_stage: 'active',
    deleted_time: null,
    artifact_uri: inserted.artifactUri,
  };
  return { row, tags: tagList };
}

const runArtifactUri = (artifactLocation: string, runUuid: string) => `${artifactLocation.replace(/\/+$/, '')}/${runUuid}/artifacts`;

/**
 * What runs/create needs of an experiment, by (project, MLflow experiment id): its key and artifact location, which
 * never change once the experiment exists. Its state does change, so it is not cached: the INSERT below re-checks,
 * in the same statement, that the experiment still exists, belongs to the project and is active. A stale entry
 * inserts nothing and is dropped. Per database handle; bounded.
 */
type ExperimentFacts = { id: ExperimentKey; number: ExperimentNumber; artifactLocation: string };
const experimentFacts = new WeakMap<Db, Map<string, ExperimentFacts>>();
const EXPERIMENT_FACTS_MAX = 10_000;

/** INSERT … SELECT: the run is written only if its experiment is (still) the project's and active. */
export const INSERT_RUN =
  'INSERT INTO runs (run_uuid, project_id, experiment_id, name, user_id, creator_id, status, start_time, end_time, lifecycle_stage, artifact_uri) ' +
  "SELECT ?, ?, e.id, ?, ?, ?, 'RUNNING', ?, NULL, 'active', ? FROM experiments e WHERE e.id = ? AND e.project_id = ? AND e.lifecycle_stage = 'active'";
export const insertTagsSql = (n: number) => 'INSERT INTO tags (run_id, `key`, value) VALUES ' + Array(n).fill('(?, ?, ?)').join(', ');

/**
 * MySQL's runs/create in one round trip (db/hot.ts hotScriptTransaction): the run's INSERT fails (1048, experiment_id
 * cannot be null) unless the experiment is the project's and active, so that the tags' INSERT, which names the run by
 * LAST_INSERT_ID() (this session's, set by the run's INSERT just before), never runs after a run that was not written.
 * An INSERT … SELECT inserting no row would leave LAST_INSERT_ID() at an earlier run's id.
 */
const insertRunScriptSql = (experiment: string) =>
  'INSERT INTO runs (run_uuid, project_id, experiment_id, name, user_id, creator_id, status, start_time, end_time, lifecycle_stage, artifact_uri) ' +
  `VALUES (?, ?, ${experiment}, ?, ?, ?, 'RUNNING', ?, NULL, 'active', ?)`;
export const INSERT_RUN_SCRIPT = insertRunScriptSql("(SELECT e.id FROM experiments e WHERE e.id = ? AND e.project_id = ? AND e.lifecycle_stage = 'active')");
/** INSERT_RUN_SCRIPT that also checks the caller (db/create-auth.ts). */
export const INSERT_RUN_FOLDED = insertRunScriptSql(FOLDED_EXPERIMENT);
export const insertScriptTagsSql = (n: number) => 'INSERT INTO tags (run_id, `key`, value) VALUES ' + Array(n).fill('(LAST_INSERT_ID(), ?, ?)').join(', ');
const experimentGone = (err: unknown) => (err as { errno?: number; sqlMessage?: string }).errno === 1048 && /experiment_id/.test(String((err as { sqlMessage?: string }).sqlMessage));

/** The run's id on MySQL, in one round trip; undefined when its experiment is no longer the project's and active. */
async function insertRunScript(db: Db, r: NewRun, runUuid: string, name: string, startTime: number | string, artifactUri: string, experimentKey: number, tags: { key: string; value: string }[]) {
  const auth = r.foldedAuth;
  const statements = [
    {
      sql: auth ? INSERT_RUN_FOLDED : INSERT_RUN_SCRIPT,
      bindings: [runUuid, r.projectId, ...(auth ? foldedExperimentBindings(auth, experimentKey) : [experimentKey, r.projectId]), name, r.userId, r.creatorId, startTime, artifactUri],
    },
    ...chunk(tags, INSERT_CHUNK).map((part) => ({ sql: insertScriptTagsSql(part.length), bindings: part.flatMap((t) => [t.key, t.value]) })),
  ];
  for (let lost = 0; ; lost++) {
    try {
      const results = await hotScriptTransaction(db, statements);
      if (results === undefined) return null;
      if (auth) auth.confirmed = true;
      return (results[0] as WriteResult).insertId;
    } catch (err) {
      // folded: the caller or the experiment did not pass, which the usual way tells apart
      if (experimentGone(err)) return auth ? null : undefined;
      if (!(err instanceof ScriptOutcomeUnknown)) throw err;
      // the connection broke with the script out: if the run is there it committed (the uuid is this request's own)
      const [row] = await hotQuery<{ id: number }[]>(db, 'SELECT id FROM runs WHERE run_uuid = ?', [runUuid]).catch(() => {
        throw err.cause;
      });
      if (row) {
        if (auth) auth.confirmed = true;
        return Number(row.id);
      }
      if (lost >= 3) throw err.cause;
    }
  }
}

/**
 * runs/create in 4 statements (BEGIN, INSERT run, INSERT tags, COMMIT), with fixed SQL on the pool's connection
 * (db/hot.ts). The experiment is looked up (and its errors raised) by the usual code the first time only.
 */
async function insertRunHot(db: Db, r: NewRun, runUuid: string, name: string, startTime: number | string, tags: { key: string; value: string }[]) {
  let cache = experimentFacts.get(db);
  if (!cache) experimentFacts.set(db, (cache = new Map()));
  const cacheKey = `${r.projectId}:${r.experimentId}`;
  for (let attempt = 0; ; attempt++) {
    let exp = cache.get(cacheKey);
    if (!exp) {
      const e = await requireActiveExperiment(db, r.projectId, r.experimentId);
      exp = { id: e.id, number: e.experiment_id, artifactLocation: e.artifact_location };
      if (cache.size >= EXPERIMENT_FACTS_MAX) cache.clear();
      cache.set(cacheKey, exp);
    }
    const artifactUri = runArtifactUri(exp.artifactLocation, runUuid);
    const facts = exp;
    // MySQL (not Galera): one round trip; null: this database has no script pool
    const scripted = isMysql(db) ? await insertRunScript(db, r, runUuid, name, startTime, artifactUri, facts.id, tags) : null;
    // folded: only the script checks the caller; null (refused, or no script pool) goes the usual way from the start
    if (r.foldedAuth && !r.foldedAuth.confirmed) throw new FoldRefused();
    const id = scripted !== null ? scripted : await hotTransaction(db, async (exec) => {
      // On Galera the INSERT … SELECT below does not wait for the cluster (wsrep_sync_wait=1 covers plain SELECTs):
      // this SELECT does, so an experiment deleted through another node a moment ago is seen deleted here.
      if (exec.causalReads) await exec('SELECT id FROM experiments WHERE id = ?', [facts.id]);
      const run = await exec<WriteResult>(INSERT_RUN, [runUuid, r.projectId, name, r.userId, r.creatorId, startTime, artifactUri, facts.id, r.projectId]);
      if (run.changes === 0) return undefined;
      for (const part of chunk(tags, INSERT_CHUNK)) {
        const binds: unknown[] = [];
        for (const t of part) binds.push(run.insertId, t.key, t.value);
        await exec(insertTagsSql(part.length), binds);
      }
      return run.insertId;
    });
    if (id !== undefined) return { id, experimentKey: exp.id, experimentNumber: exp.number, artifactUri };
    // deleted (or gone) since it was cached: the usual lookup raises MLflow's error; if it passes, once more
    cache.delete(cacheKey);
    if (attempt > 0) throw invalidParam(`The experiment ${r.experimentId} must be in the 'active' state.`);
  }
}

export async function updateRun(
  db: Db,
  projectId: number,
  runUuid: string,
  u: { status?: RunStatus; endTime?: Int64; runName?: string },
): Promise<RunRow> {
  return withTransaction(db, async (trx) => {
    const run = await requireActiveRun(trx, projectId, runUuid);
    const patch: Partial<DbRunRow> = {};
    if (u.status !== undefined) patch.status = u.status;
    if (u.endTime !== undefined) patch.end_time = int64Bind(u.endTime);
    if (u.runName !== undefined && u.runName !== '') patch.name = u.runName;
    if (Object.keys(patch).length) await trx<DbRunRow>('runs').where({ id: run.id }).update(patch);
    if (patch.name !== undefined) await upsertTags(trx, run.id, [{ key: RUN_NAME_TAG, value: u.runName! }]);
    return (await getRunRow(trx, projectId, runUuid))!;
  });
}

export async function setRunLifecycle(db: Db, projectId: number, runUuid: string, stage: 'active' | 'deleted'): Promise<void> {
  await withTransaction(db, async (trx) => {
    const run = await requireRun(trx, projectId, runUuid);
    if (stage === 'active') {
      const exp = await trx<DbExperimentRow>('experiments').where({ id: run.experiment_key }).first('lifecycle_stage');
      if (exp?.lifecycle_stage !== 'active') {
        throw invalidParam(`Cannot restore run ${runUuid}: its experiment is deleted. Restore the experiment first.`);
      }
    }
    await trx<DbRunRow>('runs')
      .where({ id: run.id })
      .update({ lifecycle_stage: stage, deleted_time: stage === 'deleted' ? Date.now() : null });
  });
}

export const upsertTags = (trx: Trx, runId: number, tags: readonly { key: string; value: string }[]) =>
  upsertKeyValues<DbRunKeyValueRow>(trx, 'tags', { run_id: runId }, tags);

export async function deleteTag(db: Db, projectId: number, runUuid: string, key: string): Promise<void> {
  await withTransaction(db, async (trx) => {
    const run = await requireActiveRun(trx, projectId, runUuid);
    const n = await trx<DbRunKeyValueRow>('tags').where({ run_id: run.id, key }).del();
    if (!n) throw notFound(`No tag with name: ${key} in run with id ${runUuid}`);
  });
}

/**
 * runs/set-tag: upsert; `mlflow.runName` also renames the run. As in MLflow (where that tag goes through
 * update_run_info), an empty run name changes nothing.
 */
export async function setTag(db: Db, projectId: number, runUuid: string, key: string, value: string): Promise<void> {
  await withTransaction(db, async (trx) => {
    const run = await requireActiveRun(trx, projectId, runUuid);
    if (key === RUN_NAME_TAG) {
      if (value === '') return;
      await trx<DbRunRow>('runs').where({ id: run.id }).update({ name: value });
    }
    await upsertTags(trx, run.id, [{ key, value }]);
  });
}

