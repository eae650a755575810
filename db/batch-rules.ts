/**
 * What a log-batch's params and tags mean, for every way a batch is written (db/log-batch.ts on MySQL,
 * db/sqlite-batch.ts, db/batch-group.ts's union of batches): one place for MLflow's rules.
 */
import { invalidParam } from '../core/errors.ts';
import { RUN_NAME_TAG } from './runs.ts';
import type { MetricIn } from './metric-rows.ts';

/** One log-batch request's items, as every way of writing it takes them. */
export interface Batch {
  metrics: MetricIn[];
  params: { key: string; value: string }[];
  tags: { key: string; value: string }[];
}

/** MLflow's answer to a param logged again with another value (params are write-once). */
export function paramChanged(p: { key: string; value: string }, prev: string, runUuid: string) {
  return invalidParam(
    `Changing param values is not allowed. Param with key='${p.key}' was already logged with ` +
      `value='${prev}' for run ID='${runUuid}'. Attempted logging new value '${p.value}'.`,
  );
}

/**
 * The tags a batch sets: the last value of a key wins within a request; an empty `mlflow.runName` is dropped (MLflow
 * sets it through update_run_info, which ignores an empty name: nothing changes).
 */
export function batchTags(tags: readonly { key: string; value: string }[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const t of tags) out.set(t.key, t.value);
  if (out.get(RUN_NAME_TAG) === '') out.delete(RUN_NAME_TAG);
  return out;
}
