import crypto from 'node:crypto';
import type { Db, Trx } from './knex.ts';
import { isMysql } from './knex.ts';
import { DOUBLE_MAX } from './search/sql.ts';
import { invalidParam, notFound } from '../server/errors.ts';
import { pyJsonDumps } from '../server/pyjson.ts';
import { chunk, INSERT_CHUNK, isDuplicateKey, upsertKeyValues, withTransaction } from './tx.ts';
import { requireActiveExperiment } from './experiments.ts';
import { generateRunName } from './run-names.ts';
import { toInt64, type Int64, type MetricOut, type RunInfoOut, type RunOut, type RunStatus } from '../routers/schemas.ts';

export const RUN_NAME_TAG = 'mlflow.runName';

export interface RunRow {
  id: number;
  run_uuid: string;
  project_id: number;
  experiment_id: number; // internal experiments.id
  experiment_iid: number; // MLflow's experiment_id
  name: string;
  user_id: string;
  status: RunStatus;
  start_time: Int64;
  end_time: Int64 | null;
  lifecycle_stage: 'active' | 'deleted';
  deleted_time: Int64 | null;
  artifact_uri: string;
}

export interface MetricIn {
  key: string;
  value: number;
  timestamp: Int64;
  step: Int64;
}

/** A metric value as stored: NaN → 0 with is_nan, ±Infinity → ±DOUBLE_MAX (as MLflow's SQL store does). */
export function storedValue(v: number): { value: number; is_nan: boolean } {
  if (Number.isNaN(v)) return { value: 0, is_nan: true };
  if (v === Infinity) return { value: DOUBLE_MAX, is_nan: false };
  if (v === -Infinity) return { value: -DOUBLE_MAX, is_nan: false };
  return { value: v, is_nan: false };
}

/** A stored metric value for the wire: NaN and ±Infinity as MLflow's JSON strings. */
export function wireValue(value: number, isNan: unknown): MetricOut['value'] {
  if (isNan && Number(isNan) !== 0) return 'NaN';
  if (value >= DOUBLE_MAX) return 'Infinity';
  if (value <= -DOUBLE_MAX) return '-Infinity';
  return value;
}

/** int64 columns arrive as number, BigInt (SQLite, beyond 2^53) or digit string (mysql2, beyond 2^53). */
export const int64Col = (v: unknown): Int64 => toInt64(v as number | string | bigint);

/** Bind value for an int64: BigInt is sent as its digits (both drivers store a digit string into BIGINT exactly). */
export const int64Bind = (v: Int64) => (typeof v === 'bigint' ? v.toString() : v);

const cmp64 = (a: Int64, b: Int64) => (a === b ? 0 : BigInt(a) < BigInt(b) ? -1 : 1);
const cmpNum = (a: Int64, b: Int64) => (typeof a === 'number' && typeof b === 'number' ? a - b : cmp64(a, b));

const RUN_COLUMNS = [
  'r.id', 'r.run_uuid', 'r.project_id', 'r.experiment_id', 'e.experiment_id as experiment_iid', 'r.name', 'r.user_id',
  'r.status', 'r.start_time', 'r.end_time', 'r.lifecycle_stage', 'r.deleted_time', 'r.artifact_uri',
];

function toRunRow(r: any): RunRow {
  return {
    ...r,
    start_time: int64Col(r.start_time),
    end_time: r.end_time == null ? null : int64Col(r.end_time),
    deleted_time: r.deleted_time == null ? null : int64Col(r.deleted_time),
  };
}

/** The run with this MLflow run id in this project, or undefined. Runs of other projects are not found. */
export async function getRunRow(db: Db | Trx, projectId: number, runUuid: string): Promise<RunRow | undefined> {
  const r = await db('runs as r')
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
  const run = await requireRun(db, projectId, runUuid);
  if (run.lifecycle_stage !== 'active') {
    throw invalidParam(`The run ${runUuid} must be in the 'active' state. Current state is ${run.lifecycle_stage}.`);
  }
  return run;
}

export async function createRun(
  db: Db,
  r: {
    projectId: number;
    experimentId: string;
    userId: string;
    creatorId: number;
    runName?: string;
    startTime: Int64;
    tags: { key: string; value: string }[];
  },
): Promise<number> {
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

  return withTransaction(db, async (trx) => {
    const exp = await requireActiveExperiment(trx, r.projectId, r.experimentId);
    const runUuid = crypto.randomUUID().replace(/-/g, '');
    const [id] = await trx('runs').insert({
      run_uuid: runUuid,
      project_id: r.projectId,
      experiment_id: exp.id,
      name,
      user_id: r.userId,
      creator_id: r.creatorId,
      status: 'RUNNING',
      start_time: int64Bind(r.startTime),
      end_time: null,
      lifecycle_stage: 'active',
      artifact_uri: `${exp.artifact_location.replace(/\/+$/, '')}/${runUuid}/artifacts`,
    });
    const runId = Number(id);
    await upsertTags(trx, runId, [...tags].map(([key, value]) => ({ key, value })));
    return runId;
  });
}

export async function updateRun(
  db: Db,
  projectId: number,
  runUuid: string,
  u: { status?: RunStatus; endTime?: Int64; runName?: string },
): Promise<RunRow> {
  return withTransaction(db, async (trx) => {
    const run = await requireActiveRun(trx, projectId, runUuid);
    const patch: Record<string, unknown> = {};
    if (u.status !== undefined) patch.status = u.status;
    if (u.endTime !== undefined) patch.end_time = int64Bind(u.endTime);
    if (u.runName !== undefined && u.runName !== '') patch.name = u.runName;
    if (Object.keys(patch).length) await trx('runs').where({ id: run.id }).update(patch);
    if (patch.name !== undefined) await upsertTags(trx, run.id, [{ key: RUN_NAME_TAG, value: u.runName! }]);
    return (await getRunRow(trx, projectId, runUuid))!;
  });
}

export async function setRunLifecycle(db: Db, projectId: number, runUuid: string, stage: 'active' | 'deleted'): Promise<void> {
  await withTransaction(db, async (trx) => {
    const run = await requireRun(trx, projectId, runUuid);
    if (stage === 'active') {
      const exp = await trx('experiments').where({ id: run.experiment_id }).first('lifecycle_stage');
      if (exp?.lifecycle_stage !== 'active') {
        throw invalidParam(`Cannot restore run ${runUuid}: its experiment is deleted. Restore the experiment first.`);
      }
    }
    await trx('runs')
      .where({ id: run.id })
      .update({ lifecycle_stage: stage, deleted_time: stage === 'deleted' ? Date.now() : null });
  });
}

const upsertTags = (trx: Trx, runId: number, tags: readonly { key: string; value: string }[]) =>
  upsertKeyValues(trx, 'tags', { run_id: runId }, tags);

export async function deleteTag(db: Db, projectId: number, runUuid: string, key: string): Promise<void> {
  await withTransaction(db, async (trx) => {
    const run = await requireActiveRun(trx, projectId, runUuid);
    const n = await trx('tags').where({ run_id: run.id, key }).del();
    if (!n) throw notFound(`No tag with name: ${key} in run with id ${runUuid}`);
  });
}

/**
 * log-batch, and the single-item endpoints through it: one transaction, multi-row inserts, all or nothing.
 * A param already logged with another value rejects the whole batch before anything is written. Metrics that
 * were logged before (same key, timestamp, step and value) are not duplicated, so a retried batch is harmless.
 */
export async function logBatch(
  db: Db,
  projectId: number,
  runUuid: string,
  batch: { metrics: MetricIn[]; params: { key: string; value: string }[]; tags: { key: string; value: string }[] },
): Promise<void> {
  const mysql = isMysql(db);
  const attempt = () =>
    withTransaction(db, async (trx) => {
      const run = await requireActiveRun(trx, projectId, runUuid);
      const runId = run.id;

      // Params first: a conflicting value refuses the batch before any write.
      let newParams = batch.params;
      if (batch.params.length) {
        const existing = await trx('params')
          .where('run_id', runId)
          .whereIn('key', batch.params.map((p) => p.key))
          .select('key', 'value');
        if (existing.length) {
          const old = new Map<string, string>(existing.map((p: any) => [p.key, p.value]));
          for (const p of batch.params) {
            const prev = old.get(p.key);
            if (prev !== undefined && prev !== p.value) {
              throw invalidParam(
                `Changing param values is not allowed. Param with key='${p.key}' was already logged with ` +
                  `value='${prev}' for run ID='${runUuid}'. Attempted logging new value '${p.value}'.`,
              );
            }
          }
          newParams = batch.params.filter((p) => !old.has(p.key));
        }
      }

      if (batch.metrics.length) await insertMetrics(trx, run, batch.metrics, mysql);
      for (const part of chunk(newParams, INSERT_CHUNK)) {
        await trx('params').insert(part.map((p) => ({ run_id: runId, key: p.key, value: p.value })));
      }
      if (batch.tags.length) {
        const tags = new Map<string, string>();
        for (const t of batch.tags) tags.set(t.key, t.value); // last write wins within a request
        // MLflow sets mlflow.runName through update_run_info, which ignores an empty name: nothing changes
        if (tags.get(RUN_NAME_TAG) === '') tags.delete(RUN_NAME_TAG);
        if (tags.size) await upsertTags(trx, runId, [...tags].map(([key, value]) => ({ key, value })));
        const name = tags.get(RUN_NAME_TAG);
        if (name !== undefined) await trx('runs').where({ id: runId }).update({ name });
      }
    });
  try {
    await attempt();
  } catch (err) {
    // Two requests raced to insert the same new param: run again, now seeing the other's row.
    if (!isDuplicateKey(err)) throw err;
    await attempt();
  }
}

async function insertMetrics(trx: Trx, run: RunRow, metrics: MetricIn[], mysql: boolean) {
  const runId = run.id;
  // History rows, deduplicated within the request; the primary key makes re-sends no-ops.
  const seen = new Set<string>();
  const rows: Record<string, unknown>[] = [];
  const latest = new Map<string, { value: number; is_nan: boolean; timestamp: Int64; step: Int64 }>();
  for (const m of metrics) {
    const sv = storedValue(m.value);
    const id = `${m.key}\u0000${m.timestamp}\u0000${m.step}\u0000${sv.value}\u0000${sv.is_nan}`;
    if (!seen.has(id)) {
      seen.add(id);
      rows.push({ run_id: runId, key: m.key, timestamp: int64Bind(m.timestamp), step: int64Bind(m.step), value: sv.value, is_nan: sv.is_nan });
    }
    const cand = { ...sv, timestamp: m.timestamp, step: m.step };
    const cur = latest.get(m.key);
    if (!cur || isNewer(cand, cur)) latest.set(m.key, cand);
  }
  for (const part of chunk(rows, INSERT_CHUNK)) {
    await trx('metrics')
      .insert(part)
      .onConflict(['run_id', 'key', 'timestamp', 'step', 'value', 'is_nan'])
      .merge(['is_nan']);
  }

  // Latest value per key, MLflow's rule: the greatest (step, timestamp, value) wins.
  const keys = [...latest.keys()];
  const q = trx('latest_metrics').where('run_id', runId).whereIn('key', keys).select('key', 'value', 'timestamp', 'step', 'is_nan');
  if (mysql) q.forUpdate();
  const current = await q;
  for (const c of current) {
    const cand = latest.get(c.key)!;
    const stored = { value: c.value, is_nan: Boolean(c.is_nan), timestamp: int64Col(c.timestamp), step: int64Col(c.step) };
    if (!isNewer(cand, stored)) latest.delete(c.key);
  }
  if (!latest.size) return;
  const upserts = [...latest].map(([key, m]) => ({
    run_id: runId, experiment_id: run.experiment_id, key, value: m.value, timestamp: int64Bind(m.timestamp), step: int64Bind(m.step), is_nan: m.is_nan,
  }));
  for (const part of chunk(upserts, INSERT_CHUNK)) {
    await trx('latest_metrics').insert(part).onConflict(['run_id', 'key']).merge(['value', 'timestamp', 'step', 'is_nan']);
  }
}

function isNewer(a: { value: number; timestamp: Int64; step: Int64 }, b: { value: number; timestamp: Int64; step: Int64 }) {
  const s = cmpNum(a.step, b.step);
  if (s !== 0) return s > 0;
  const t = cmpNum(a.timestamp, b.timestamp);
  if (t !== 0) return t > 0;
  return a.value >= b.value;
}

/** Full runs for the wire, in the order of `ids`, with a fixed number of queries however many runs or metrics. */
export async function loadRuns(db: Db, ids: number[]): Promise<RunOut[]>;
/** The same for runs whose rows the caller already holds (runs/get looked it up for the 404): one query fewer. */
export async function loadRuns(db: Db, known: RunRow[]): Promise<RunOut[]>;
export async function loadRuns(db: Db, idsOrRows: number[] | RunRow[]): Promise<RunOut[]> {
  if (!idsOrRows.length) return [];
  const known = typeof idsOrRows[0] === 'object' ? (idsOrRows as RunRow[]) : undefined;
  const ids = known ? known.map((r) => r.id) : (idsOrRows as number[]);
  const [runs, metrics, params, tags, inputs, inputTags] = await Promise.all([
    known ?? db('runs as r').join('experiments as e', 'e.id', 'r.experiment_id').whereIn('r.id', ids).select(RUN_COLUMNS),
    // no ORDER BY: the database would sort every row of the page (~40% of the query on MariaDB); each run's few
    // rows are sorted by key below instead
    db('latest_metrics').whereIn('run_id', ids).select('run_id', 'key', 'value', 'timestamp', 'step', 'is_nan'),
    db('params').whereIn('run_id', ids).select('run_id', 'key', 'value'),
    db('tags').whereIn('run_id', ids).select('run_id', 'key', 'value'),
    db('run_inputs as i')
      .join('datasets as d', 'd.id', 'i.dataset_id')
      .whereIn('i.run_id', ids)
      .orderBy(['i.run_id', 'd.id'])
      .select('i.run_id', 'd.id', 'd.name', 'd.digest', 'd.source_type', 'd.source', 'd.schema', 'd.profile'),
    db('input_tags').whereIn('run_id', ids).orderBy(['run_id', 'dataset_id', 'key']).select('run_id', 'dataset_id', 'key', 'value'),
  ]);
  const group = <T extends { run_id: number }>(rows: T[]) => {
    const m = new Map<number, T[]>();
    for (const r of rows) {
      let l = m.get(r.run_id);
      if (!l) m.set(r.run_id, (l = []));
      l.push(r);
    }
    return m;
  };
  const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  const mBy = group(metrics as any[]);
  const pBy = group(params as any[]);
  const tBy = group(tags as any[]);
  const iBy = group(inputs as any[]);
  const itBy = group(inputTags as any[]);
  const byId = new Map<number, RunRow>((runs as any[]).map((r) => [r.id, known ? r : toRunRow(r)]));
  const out: RunOut[] = [];
  for (const id of ids) {
    const run = byId.get(id);
    if (!run) continue;
    const data: RunOut['data'] = {};
    const ms = mBy.get(id);
    if (ms) {
      data.metrics = ms.sort(byKey).map((m: any) => ({
        key: m.key,
        value: wireValue(m.value, m.is_nan),
        timestamp: int64Col(m.timestamp),
        step: int64Col(m.step),
      }));
    }
    const ps = pBy.get(id);
    if (ps) data.params = ps.sort(byKey).map((p: any) => ({ key: p.key, value: p.value }));
    const ts = tBy.get(id);
    if (ts) data.tags = ts.sort(byKey).map((t: any) => ({ key: t.key, value: t.value }));
    const runInputs: RunOut['inputs'] = {};
    const ins = iBy.get(id);
    if (ins) {
      const itags = itBy.get(id) ?? [];
      runInputs.dataset_inputs = ins.map((d: any) => {
        const dt = itags.filter((t: any) => t.dataset_id === d.id).map((t: any) => ({ key: t.key, value: t.value }));
        const dataset: NonNullable<RunOut['inputs']['dataset_inputs']>[number]['dataset'] = {
          name: d.name, digest: d.digest, source_type: d.source_type, source: d.source,
        };
        if (d.schema != null) dataset.schema = d.schema;
        if (d.profile != null) dataset.profile = d.profile;
        return dt.length ? { tags: dt, dataset } : { dataset };
      });
    }
    out.push({ info: runInfo(run), data, inputs: runInputs, outputs: {} });
  }
  return out;
}

export function runInfo(run: RunRow): RunInfoOut {
  const info: RunInfoOut = {
    run_id: run.run_uuid,
    run_uuid: run.run_uuid,
    run_name: run.name,
    experiment_id: String(run.experiment_iid),
    user_id: run.user_id,
    status: run.status,
    start_time: run.start_time,
    artifact_uri: run.artifact_uri,
    lifecycle_stage: run.lifecycle_stage,
  };
  if (run.end_time != null) info.end_time = run.end_time;
  return info;
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
      await trx('runs').where({ id: run.id }).update({ name: value });
    }
    await upsertTags(trx, run.id, [{ key, value }]);
  });
}

export interface DatasetIn {
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema?: string;
  profile?: string;
}

export interface DatasetInputIn {
  dataset: DatasetIn;
  tags: { key: string; value: string }[];
}

/**
 * runs/log-inputs, MLflow's `_log_inputs_impl`: inputs repeating a (name, digest) are dropped (the first is kept);
 * a dataset is shared by the runs of its experiment, found by (experiment, name, digest) and never rewritten;
 * a dataset already linked to the run is skipped with its tags (they are written with the link only).
 * One transaction; a race on a new dataset or link (duplicate key) runs it again, now seeing the other's rows.
 */
export async function logInputs(db: Db, projectId: number, runUuid: string, inputs: DatasetInputIn[]): Promise<void> {
  const unique = new Map<string, DatasetInputIn>();
  for (const i of inputs) {
    const k = `${i.dataset.name}\u0000${i.dataset.digest}`;
    if (!unique.has(k)) unique.set(k, i);
  }
  const attempt = () =>
    withTransaction(db, async (trx) => {
      const run = await requireActiveRun(trx, projectId, runUuid);
      for (const { dataset: d, tags } of unique.values()) {
        const found = await trx('datasets').where({ experiment_id: run.experiment_id, name: d.name, digest: d.digest }).first('id');
        let datasetId: number;
        if (found) datasetId = Number(found.id);
        else {
          const [id] = await trx('datasets').insert({
            experiment_id: run.experiment_id,
            name: d.name,
            digest: d.digest,
            source_type: d.source_type,
            source: d.source,
            schema: d.schema ?? null,
            profile: d.profile ?? null,
          });
          datasetId = Number(id);
        }
        const linked = await trx('run_inputs').where({ run_id: run.id, dataset_id: datasetId }).first('run_id');
        if (linked) continue;
        await trx('run_inputs').insert({ run_id: run.id, dataset_id: datasetId });
        const byKey = new Map<string, string>();
        for (const t of tags) byKey.set(t.key, t.value); // one value per key: the last
        for (const part of chunk([...byKey], INSERT_CHUNK)) {
          if (!part.length) continue;
          await trx('input_tags')
            .insert(part.map(([key, value]) => ({ run_id: run.id, dataset_id: datasetId, key, value })))
            .onConflict(['run_id', 'dataset_id', 'key'])
            .merge(['value']);
        }
      }
    });
  try {
    await attempt();
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    await attempt();
  }
}

export const LOG_MODEL_HISTORY_TAG = 'mlflow.log-model.history';
/** The tags.value column is TEXT: 65,535 bytes on MySQL. */
const TAG_COLUMN_BYTES = 65535;

/**
 * runs/log-model, MLflow's `record_logged_model`: appends the model's summary to the JSON list in the run tag
 * `mlflow.log-model.history`, written as Python's json.dumps writes it. The run row is locked on MySQL so two
 * concurrent calls cannot drop one another's entry.
 */
export async function appendLoggedModel(db: Db, projectId: number, runUuid: string, entry: Record<string, unknown>): Promise<void> {
  const mysql = isMysql(db);
  await withTransaction(db, async (trx) => {
    const run = await requireActiveRun(trx, projectId, runUuid);
    if (mysql) await trx('runs').where({ id: run.id }).forUpdate().first('id');
    const prev = await trx('tags').where({ run_id: run.id, key: LOG_MODEL_HISTORY_TAG }).first('value');
    let history: unknown[] = [];
    if (prev) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(prev.value);
      } catch {
        parsed = undefined;
      }
      if (!Array.isArray(parsed)) {
        throw invalidParam(`The tag '${LOG_MODEL_HISTORY_TAG}' of run ${runUuid} does not hold a JSON list; cannot record the model.`);
      }
      history = parsed;
    }
    history.push(entry);
    const value = pyJsonDumps(history);
    if (Buffer.byteLength(value, 'utf8') > TAG_COLUMN_BYTES) {
      throw invalidParam(
        `The tag '${LOG_MODEL_HISTORY_TAG}' of run ${runUuid} would exceed ${TAG_COLUMN_BYTES} bytes; cannot record more models in this run.`,
      );
    }
    await upsertTags(trx, run.id, [{ key: LOG_MODEL_HISTORY_TAG, value }]);
  });
}
