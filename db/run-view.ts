import type { Db } from './knex.ts';
import { int64Col, wireValue } from '../core/codecs.ts';
import type { Run, RunInfo } from '../core/entities.ts';
import { groupBy } from './tx.ts';
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
    if (!run) continue;
    const data: Run['data'] = {};
    const ms = mBy.get(id);
    if (ms) {
      data.metrics = ms.sort(byKey).map((m) => ({
        key: m.key,
        value: wireValue(m.value, m.is_nan),
        timestamp: int64Col(m.timestamp),
        step: int64Col(m.step),
      }));
    }
    const ps = pBy.get(id);
    if (ps) data.params = ps.sort(byKey).map((p) => ({ key: p.key, value: p.value }));
    const ts = tBy.get(id);
    if (ts) data.tags = ts.sort(byKey).map((t) => ({ key: t.key, value: t.value }));
    const runInputs: Run['inputs'] = {};
    const ins = iBy.get(id);
    if (ins) {
      const itags = itBy.get(id) ?? [];
      runInputs.dataset_inputs = ins.map((d) => {
        const dt = itags.filter((t) => t.dataset_id === d.id).map((t) => ({ key: t.key, value: t.value }));
        const dataset: NonNullable<Run['inputs']['dataset_inputs']>[number]['dataset'] = {
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

const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** A run just created, as loadRuns would read it back (runs/create answers it without reading). */
export function newRunView(row: RunRow, tags: readonly { key: string; value: string }[]): Run {
  const data: Run['data'] = {};
  if (tags.length) data.tags = [...tags].sort(byKey).map((t) => ({ key: t.key, value: t.value }));
  return { info: runInfo(row), data, inputs: {}, outputs: {} };
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

