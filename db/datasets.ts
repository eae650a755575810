import type { Db } from './knex.ts';
import { chunk, INSERT_CHUNK, retryOnDuplicateKey, withTransaction } from './tx.ts';
import { requireActiveRun } from './runs.ts';
import type { Dataset } from '../core/entities.ts';
import type { DbDatasetRow, DbInputTagRow, DbRunInputRow } from './tables.ts';

export type DatasetIn = Dataset;

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
        const found = await trx<DbDatasetRow>('datasets').where({ experiment_id: run.experiment_key, name: d.name, digest: d.digest }).first('id');
        let datasetId: number;
        if (found) datasetId = Number(found.id);
        else {
          const [id] = await trx<DbDatasetRow>('datasets').insert({
            experiment_id: run.experiment_key,
            name: d.name,
            digest: d.digest,
            source_type: d.source_type,
            source: d.source,
            schema: d.schema ?? null,
            profile: d.profile ?? null,
          });
          datasetId = Number(id);
        }
        const linked = await trx<DbRunInputRow>('run_inputs').where({ run_id: run.id, dataset_id: datasetId }).first('run_id');
        if (linked) continue;
        await trx<DbRunInputRow>('run_inputs').insert({ run_id: run.id, dataset_id: datasetId });
        const byKey = new Map<string, string>();
        for (const t of tags) byKey.set(t.key, t.value); // one value per key: the last
        for (const part of chunk([...byKey], INSERT_CHUNK)) {
          if (!part.length) continue;
          await trx<DbInputTagRow>('input_tags')
            .insert(part.map(([key, value]) => ({ run_id: run.id, dataset_id: datasetId, key, value })))
            .onConflict(['run_id', 'dataset_id', 'key'])
            .merge(['value']);
        }
      }
    });
  await retryOnDuplicateKey(attempt);
}

