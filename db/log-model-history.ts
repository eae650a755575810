/**
 * runs/log-model: what MLflow records of a logged model in the run tag `mlflow.log-model.history`, shaped and
 * stored here together.
 */
import type { Db } from './knex.ts';
import { isMysql } from './knex.ts';
import { invalidParam } from '../core/errors.ts';
import { pyJsonDumps, pyStr } from '../core/python.ts';
import { withTransaction } from './tx.ts';
import { requireActiveRun, upsertTags } from './runs.ts';
import type { DbRunKeyValueRow, DbRunRow } from './tables.ts';

export const LOG_MODEL_HISTORY_TAG = 'mlflow.log-model.history';
/** The tags.value column is TEXT: 65,535 bytes on MySQL. */
const TAG_COLUMN_BYTES = 65535;

/**
 * runs/log-model, MLflow's `record_logged_model`: appends the model's summary to the JSON list in the run tag
 * `mlflow.log-model.history`, written as Python's json.dumps writes it. The run row is locked on MySQL so two
 * concurrent calls cannot drop one another's entry.
 */
export async function appendLoggedModel(db: Db, projectId: number, runUuid: string, modelJson: string): Promise<void> {
  const entry = modelHistoryEntry(modelJson);
  const mysql = isMysql(db);
  await withTransaction(db, async (trx) => {
    const run = await requireActiveRun(trx, projectId, runUuid);
    if (mysql) await trx<DbRunRow>('runs').where({ id: run.id }).forUpdate().first('id');
    const prev = await trx<DbRunKeyValueRow>('tags').where({ run_id: run.id, key: LOG_MODEL_HISTORY_TAG }).first('value');
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

const MODEL_FIELDS = ['artifact_path', 'flavors', 'utc_time_created', 'run_id'] as const;

/**
 * What MLflow records for a logged model (`Model.from_dict(model).get_tags_dict()`): run_id, artifact_path,
 * utc_time_created, model_uuid and the flavors without their "config", in that order. The request must carry
 * the four fields MLflow's handler requires.
 */
export function modelHistoryEntry(modelJson: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(modelJson);
  } catch {
    throw invalidParam(`Malformed model info. \n ${modelJson} \n is not a valid JSON.`);
  }
  const model = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  const missing = MODEL_FIELDS.filter((k) => !(k in model));
  if (missing.length) throw invalidParam(`Model json is missing mandatory fields: {${missing.map((k) => `'${k}'`).join(', ')}}`);
  const flavors = model.flavors ?? {};
  if (typeof flavors !== 'object' || Array.isArray(flavors)) throw invalidParam("Model json field 'flavors' must be a JSON object.");
  const entry: Record<string, unknown> = {};
  if (model.run_id != null) entry.run_id = model.run_id;
  if (model.artifact_path != null) entry.artifact_path = model.artifact_path;
  entry.utc_time_created = model.utc_time_created ? pyStr(model.utc_time_created) : utcNow();
  entry.model_uuid = model.model_uuid ?? null;
  entry.flavors = Object.fromEntries(
    Object.entries(flavors as Record<string, unknown>).map(([name, config]) => [
      name,
      config !== null && typeof config === 'object' && !Array.isArray(config)
        ? Object.fromEntries(Object.entries(config as Record<string, unknown>).filter(([k]) => k !== 'config'))
        : config,
    ]),
  );
  return entry;
}

/** Python's `str(datetime.utcnow())`: "2024-04-05 19:21:18.901000". */
function utcNow(): string {
  const iso = new Date().toISOString(); // 2024-04-05T19:21:18.901Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000`;
}
