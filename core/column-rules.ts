/**
 * Bounds that MLflow's validation does not check but the columns impose (run name, user id, dataset columns,
 * logged-model type): a value that would not fit is a 400 with a message naming the field, never a database error.
 * Lengths count characters as Python does (`tooLong` → `pyLen`); MEDIUMTEXT bounds count UTF-8 bytes.
 */
import { invalidParam } from './errors.ts';
import { tooLong } from './python.ts';
import { LIMITS } from './validation.ts';

/** The run name column holds 250 characters (MLflow's too); a longer name is a client error, never a 500. */
export function validateRunName(name: string): void {
  if (tooLong(name, LIMITS.MAX_ENTITY_KEY_LENGTH)) {
    throw invalidParam(`Run name '${name}' exceeds the maximum length of ${LIMITS.MAX_ENTITY_KEY_LENGTH} characters.`);
  }
}

/** The user_id column holds 256 characters, as MLflow's does; longer (from the request or the mlflow.user tag) is a 400. */
export function validateUserId(userId: string): string {
  if (tooLong(userId, LIMITS.MAX_USER_ID_LENGTH)) {
    throw invalidParam(`'user_id' exceeds the maximum length of ${LIMITS.MAX_USER_ID_LENGTH} characters`);
  }
  return userId;
}

/**
 * Dataset columns MLflow does not validate but its (and our) schema bounds: source_type is VARCHAR(36), and schema
 * and profile are MEDIUMTEXT on MySQL (16 MiB of bytes, whatever the character count).
 */
export function validateDatasetColumns(ds: { source_type: string; source?: string; schema?: string; profile?: string }): void {
  if (tooLong(ds.source_type, LIMITS.MAX_DATASET_SOURCE_TYPE_LENGTH)) {
    throw invalidParam(`'source_type' exceeds the maximum length of ${LIMITS.MAX_DATASET_SOURCE_TYPE_LENGTH} characters`);
  }
  for (const field of ['source', 'schema', 'profile'] as const) {
    const v = ds[field];
    if (v !== undefined && Buffer.byteLength(v, 'utf8') > LIMITS.MAX_MEDIUMTEXT_BYTES) {
      throw invalidParam(`'${field}' exceeds the maximum size of ${LIMITS.MAX_MEDIUMTEXT_BYTES} bytes`);
    }
  }
}

/** A logged model's model_type fits its VARCHAR(500) column. */
export function validateModelType(modelType: string): void {
  if (tooLong(modelType, LIMITS.MAX_MODEL_TYPE_LENGTH)) {
    throw invalidParam(`'model_type' exceeds the maximum length of ${LIMITS.MAX_MODEL_TYPE_LENGTH} characters`);
  }
}
