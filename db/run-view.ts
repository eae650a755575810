import { isMysql, type Db } from './knex.ts';
import { int64Col, wireValue } from '../core/codecs.ts';
import type { Run, RunInfo } from '../core/entities.ts';
import { groupBy } from './tx.ts';
import { scriptRun, withConnection } from './hot.ts';
import { RUN_COLUMNS, toRunRow, type DbRunViewRow, type RunRow } from './runs.ts';
import type { DbDatasetRow, DbInputTagRow, DbLatestMetricRow, DbRunKeyValueRow } from './tables.ts';

type MetricRow = Pick<DbLatestMetricRow, 'run_id' | 'key' | 'value' | 'timestamp' | 'step' | 'is_nan'>;
type InputRow = Pick<DbDatasetRow, 'id' | 'name' | 'digest' | 'source_type' | 'source' | 'schema' | 'profile'> & { run_id: number };

/** Full runs for the wire, in the order of `ids`, with a fixed number of queries however many runs or metrics. */
export async function loadRuns(db: Db, ids: number[]): Promise<Run[]>;
/** The same for runs whose rows the caller already holds (runs/get looked it up for the 404): one query fewer. */
export async function loadRuns(db: Db, known: RunRow[]): Promise<Run[]>;
export async function loadRuns(db: Db, idsOrRows: number[] | RunRow[]): Promise<Run[]> {
  if (!idsOrRows.length) return [];
  const known = typeof idsOrRows[0] === 'object' ? (idsOrRows as RunRow[]) : undefined;
  const ids = known ? known.map((r) => r.id) : (idsOrRows as number[]);
  const [runs, metrics, params, tags, inputs, inputTags] = await Promise.all([
    known ??
      (db('runs as r').join('experiments as e', 'e.id', 'r.experiment_id').whereIn('r.id', ids).select(RUN_COLUMNS) as Promise<DbRunViewRow[]>),
    // no ORDER BY: the database would sort every row of the page (~40% of the query on MariaDB); each run's few
    // rows are sorted by key below instead
    db<DbLatestMetricRow>('latest_metrics').whereIn('run_id', ids).select('run_id', 'key', 'value', 'timestamp', 'step', 'is_nan') as Promise<MetricRow[]>,
    db<DbRunKeyValueRow>('params').whereIn('run_id', ids).select('run_id', 'key', 'value'),
    db<DbRunKeyValueRow>('tags').whereIn('run_id', ids).select('run_id', 'key', 'value'),
    db('run_inputs as i')
      .join('datasets as d', 'd.id', 'i.dataset_id')
      .whereIn('i.run_id', ids)
      .orderBy(['i.run_id', 'd.id'])
      .select('i.run_id', 'd.id', 'd.name', 'd.digest', 'd.source_type', 'd.source', 'd.schema', 'd.profile') as Promise<InputRow[]>,
    db<DbInputTagRow>('input_tags').whereIn('run_id', ids).orderBy(['run_id', 'dataset_id', 'key']).select('run_id', 'dataset_id', 'key', 'value'),
  ]);
  const group = <T extends { run_id: number }>(rows: T[]) => groupBy(rows, (r) => r.run_id);
  const mBy = group(metrics);
  const pBy = group(params);
  const tBy = group(tags);
  const iBy = group(inputs);
  const itBy = group(inputTags);
  const byId = new Map<number, RunRow>(known ? known.map((r) => [r.id, r]) : (runs as DbRunViewRow[]).map((r) => [r.id, toRunRow(r)]));
  const out: Run[] = [];
  for (const id of ids) {
    const run = byId.get(id);
    if (run) out.push(shapeRun(run, mBy.get(id), pBy.get(id), tBy.get(id), iBy.get(id), itBy.get(id)));
  }
  return out;
}

const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** A run just created, as loadRuns would read it back (runs/create answers it without reading). */
export function newRunView(row: RunRow, tags: readonly { key: string; value: string }[]): Run {
  const data: Run['data'] = {};
  if (tags.length) data.tags = [...tags].sort(byKey).map((t) => ({ key: t.key, value: t.value }));
  return { info: runInfo(row), data, inputs: {}, outputs: {} };
}

/** One run for the wire from its rows (each list that run's only; metrics, params and tags in any order). */
function shapeRun(
  run: RunRow,
  ms: MetricRow[] | undefined,
  ps: Pick<DbRunKeyValueRow, 'key' | 'value'>[] | undefined,
  ts: Pick<DbRunKeyValueRow, 'key' | 'value'>[] | undefined,
  ins: InputRow[] | undefined,
  itags: Pick<DbInputTagRow, 'dataset_id' | 'key' | 'value'>[] | undefined,
): Run {
  const data: Run['data'] = {};
  if (ms?.length) {
    data.metrics = ms.sort(byKey).map((m) => ({
      key: m.key,
      value: wireValue(m.value, m.is_nan),
      timestamp: int64Col(m.timestamp),
      step: int64Col(m.step),
    }));
  }
  if (ps?.length) data.params = ps.sort(byKey).map((p) => ({ key: p.key, value: p.value }));
  if (ts?.length) data.tags = ts.sort(byKey).map((t) => ({ key: t.key, value: t.value }));
  const runInputs: Run['inputs'] = {};
  if (ins?.length) {
    runInputs.dataset_inputs = ins.map((d) => {
      const dt = (itags ?? []).filter((t) => t.dataset_id === d.id).map((t) => ({ key: t.key, value: t.value }));
      const dataset: NonNullable<Run['inputs']['dataset_inputs']>[number]['dataset'] = {
        name: d.name, digest: d.digest, source_type: d.source_type, source: d.source,
      };
      if (d.schema != null) dataset.schema = d.schema;
      if (d.profile != null) dataset.profile = d.profile;
      return dt.length ? { tags: dt, dataset } : { dataset };
    });
  }
  return { info: runInfo(run), data, inputs: runInputs, outputs: {} };
}

const RUN_BY_UUID =
  'SELECT r.id, r.run_uuid, r.project_id, r.experiment_id AS experiment_key, e.experiment_id AS experiment_number, r.name, r.user_id, ' +
  'r.status, r.start_time, r.end_time, r.lifecycle_stage, r.deleted_time, r.artifact_uri ' +
  'FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE r.run_uuid = ? AND r.project_id = ?';
/** params (0), tags (1) and latest metrics (2) of one run in one statement. */
const RUN_DATA =
  'SELECT 0 AS kind, `key`, value AS text, NULL AS num, NULL AS ts, NULL AS step, NULL AS is_nan FROM params WHERE run_id = ? ' +
  'UNION ALL SELECT 1, `key`, value, NULL, NULL, NULL, NULL FROM tags WHERE run_id = ? ' +
  'UNION ALL SELECT 2, `key`, NULL, value, `timestamp`, step, is_nan FROM latest_metrics WHERE run_id = ?';
const RUN_INPUTS =
  'SELECT i.run_id, d.id, d.name, d.digest, d.source_type, d.source, d.`schema`, d.profile FROM run_inputs i ' +
  'JOIN datasets d ON d.id = i.dataset_id WHERE i.run_id = ? ORDER BY d.id';
const RUN_INPUT_TAGS = 'SELECT dataset_id, `key`, value FROM input_tags WHERE run_id = ? ORDER BY dataset_id, `key`';

/**
 * runs/get: the run of this project with this MLflow run id, whole, or undefined. On MySQL one script of four reads
 * (getRunScript); elsewhere three statements on one pooled connection (run; params, tags and latest metrics together;
 * dataset inputs), a fourth only for a run with inputs, instead of six built by knex (loadRuns).
 */
export async function getRunView(db: Db, projectId: number, runUuid: string): Promise<Run | undefined> {
  if (isMysql(db)) {
    const script = await getRunScript(db, projectId, runUuid);
    if (script !== NO_SCRIPT) return script;
  }
  return withConnection(db, async (exec) => {
    const [r] = await exec<DbRunViewRow[]>(RUN_BY_UUID, [runUuid, projectId]);
    if (!r) return undefined;
    const run = runOf(r);
    const rows = await exec<DataRow[]>(RUN_DATA, [run.id, run.id, run.id]);
    const ins = await exec<InputRow[]>(RUN_INPUTS, [run.id]);
    const itags = ins.length ? await exec<InputTagRow[]>(RUN_INPUT_TAGS, [run.id]) : undefined;
    return shapeRunData(run, rows, ins, itags);
  });
}

type DataRow = { kind: number | string; key: string; text: string | null; num: number | null; ts: unknown; step: unknown; is_nan: unknown };
type InputTagRow = Pick<DbInputTagRow, 'dataset_id' | 'key' | 'value'>;
const runOf = (r: DbRunViewRow) => toRunRow({ ...r, id: Number(r.id), project_id: Number(r.project_id) });

/** shapeRun of RUN_DATA's rows: params (kind 0), tags (1), latest metrics (2). */
function shapeRunData(run: RunRow, rows: DataRow[], ins: InputRow[], itags: InputTagRow[] | undefined): Run {
  const ms: MetricRow[] = [];
  const ps: { key: string; value: string }[] = [];
  const ts: { key: string; value: string }[] = [];
  for (const x of rows) {
    const kind = Number(x.kind);
    if (kind === 0) ps.push({ key: x.key, value: x.text! });
    else if (kind === 1) ts.push({ key: x.key, value: x.text! });
    else ms.push({ run_id: run.id, key: x.key, value: Number(x.num), timestamp: x.ts as never, step: x.step as never, is_nan: x.is_nan as never });
  }
  return shapeRun(run, ms, ps, ts, ins, itags);
}

const NO_SCRIPT = Symbol('no script pool');
/** The run's id by its MLflow id within the project, inside the script's statements (evaluated once, by its unique index). */
const byUuid = (sql: string) => sql.replaceAll('run_id = ?', 'run_id = (SELECT id FROM runs WHERE run_uuid = ? AND project_id = ?)');
const SCRIPT_DATA = byUuid(RUN_DATA);
const SCRIPT_INPUTS = byUuid(RUN_INPUTS);
const SCRIPT_INPUT_TAGS = byUuid(RUN_INPUT_TAGS);

/**
 * MySQL: runs/get's four statements in one round trip, on the script pool (db/hot.ts scriptRun; also one snapshot,
 * where the statements one by one could each see another moment). Four round trips one after another cost this
 * process more than the statements' own rows (MariaDB, request-cpu.ts, 1 client: 0.78 ms of server CPU a runs/get,
 * against 0.39 on SQLite; with this script and server/http.ts's change 0.64, paired −0.137 ms, where that change
 * alone measured −0.094 in another run). NO_SCRIPT where there is no script pool (SQLite, Galera).
 */
async function getRunScript(db: Db, projectId: number, runUuid: string): Promise<Run | undefined | typeof NO_SCRIPT> {
  const id = [runUuid, projectId];
  const results = await scriptRun(db, () => [
    { sql: RUN_BY_UUID, bindings: id },
    { sql: SCRIPT_DATA, bindings: [...id, ...id, ...id] },
    { sql: SCRIPT_INPUTS, bindings: id },
    { sql: SCRIPT_INPUT_TAGS, bindings: id },
  ]);
  if (!results) return NO_SCRIPT;
  const [runs, rows, ins, itags] = results as [DbRunViewRow[], DataRow[], InputRow[], InputTagRow[]];
  const r = runs[0];
  return r ? shapeRunData(runOf(r), rows, ins, itags) : undefined;
}

export function runInfo(run: RunRow): RunInfo {
  const info: RunInfo = {
    run_id: run.run_uuid,
    run_uuid: run.run_uuid,
    run_name: run.name,
    experiment_id: String(run.experiment_number),
    user_id: run.user_id,
    status: run.status,
    start_time: run.start_time,
    artifact_uri: run.artifact_uri,
    lifecycle_stage: run.lifecycle_stage,
  };
  if (run.end_time != null) info.end_time = run.end_time;
  return info;
}

