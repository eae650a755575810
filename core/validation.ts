/**
 * MLflow's input validation rules and error messages (`mlflow/utils/validation.py`, 3.x), plus the few checks
 * MLflow keeps elsewhere (artifact_location URL checks in `handlers._create_experiment`, max_results in the
 * SQL store). Pure functions: each throws `MlflowError(INVALID_PARAMETER_VALUE, <MLflow's message>)`.
 *
 * Lengths are Python `len()`, i.e. Unicode code points. Messages embed values the way Python renders them
 * (`json.dumps` with ensure_ascii, `repr`, `str(float)`), so they match a real server byte for byte.
 * The happy path of the per-item checks allocates nothing: precompiled regexes and length comparisons only.
 * A little over 300 lines on purpose: it mirrors one MLflow module, and its rules share the message builders.
 */
import { invalidParam } from './errors.ts';
import { normpath, pyFloat, pyJson, pyRepr, pySlice, pyStr, tooLong } from './python.ts';

export const LIMITS = {
  MAX_ENTITY_KEY_LENGTH: 250,
  MAX_PARAM_VAL_LENGTH: 6000,
  MAX_TAG_VAL_LENGTH: 8000,
  MAX_EXPERIMENT_NAME_LENGTH: 500,
  MAX_EXPERIMENT_TAG_KEY_LENGTH: 250,
  MAX_EXPERIMENT_TAG_VAL_LENGTH: 5000,
  MAX_METRICS_PER_BATCH: 1000,
  MAX_PARAMS_TAGS_PER_BATCH: 100,
  MAX_ENTITIES_PER_BATCH: 1000,
  MAX_DATASET_NAME_SIZE: 500,
  MAX_DATASET_DIGEST_SIZE: 36,
  MAX_DATASET_SOURCE_SIZE: 65535,
  MAX_DATASET_SCHEMA_SIZE: 1048575,
  MAX_DATASET_PROFILE_SIZE: 16777215,
  MAX_INPUT_TAG_KEY_SIZE: 255,
  MAX_INPUT_TAG_VALUE_SIZE: 500,
  MAX_ARTIFACT_LOCATION_LENGTH: 2048,
  MAX_USER_ID_LENGTH: 256,
  MAX_DATASET_SOURCE_TYPE_LENGTH: 36,
  MAX_MEDIUMTEXT_BYTES: 16777215,
  MAX_LOGGED_MODEL_NAME_LENGTH: 500,
  MAX_MODEL_TYPE_LENGTH: 500,
  SEARCH_MAX_RESULTS_DEFAULT: 1000,
  SEARCH_MAX_RESULTS_THRESHOLD: 50000,
} as const;

// ---------------------------------------------------------------------------------------------------------------
// Regexes. Python's `\w` on str is Unicode (letters, numbers, `_`; not combining marks), and Python's `$` also
// matches just before a final "\n" — hence the `\n?` so that e.g. "a\n" is accepted exactly as MLflow accepts it.

/** `^[/\w.\- :]*$` (POSIX server; Windows servers drop the colon). */
const NAME_RE = /^[\p{L}\p{N}_/.\- :]*\n?$/u;
/** `^[a-zA-Z0-9][\w\-]{0,255}$` */
const RUN_ID_RE = /^[a-zA-Z0-9][\p{L}\p{N}_-]{0,255}\n?$/u;
/** `^[a-zA-Z0-9][\w\-]{0,63}$` */
const EXPERIMENT_ID_RE = /^[a-zA-Z0-9][\p{L}\p{N}_-]{0,63}\n?$/u;
/**
 * Same verdict as `path_not_unique(name)` (normpath(name) != name, or it is ".", or starts with ".." or "/"),
 * without computing normpath: empty, leading or trailing "/", "//", a leading "..", or a "." / ".." segment.
 */
const PATH_NOT_UNIQUE_RE = /^$|^\/|\/$|\/\/|^\.\.|(?:^|\/)\.\.?(?:\/|$)/;

const MISSING_KEY_NAME_MESSAGE = 'A key name must be provided.';
const BAD_CHARACTER_MESSAGE =
  'Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).';

// ---------------------------------------------------------------------------------------------------------------
// MLflow's message builders.

/** `invalid_value(path, value, message)` */
function invalidValue(path: string, value: unknown, message?: string): string {
  const v = pyJson(value);
  return message
    ? `Invalid value ${v} for parameter '${path}' supplied: ${message}`
    : `Invalid value ${v} for parameter '${path}' supplied.`;
}

const missingValue = (path: string) => `Missing value for required parameter '${path}'.`;
const exceedsMaximumLength = (path: string, limit: number) => `'${path}' exceeds the maximum length of ${limit} characters`;
const joinPath = (prefix: string, field: string) => (prefix ? `${prefix}.${field}` : field);
const badPathMessage = (name: string) =>
  'Names may be treated as files in certain cases, and must not resolve to other names when treated as such. ' +
  `This name would resolve to ${pyRepr(normpath(name))}`;

/**
 * `_validate_length_limit`: returns the value, truncated when allowed, else throws. The entity named in the
 * message is `prefix.entity` (or `entity`), built only on error.
 */
export function lengthLimit(prefix: string, entity: string, limit: number, value: string, truncate = false): string {
  if (!tooLong(value, limit)) return value;
  if (truncate) return pySlice(value, limit);
  throw invalidParam(exceedsMaximumLength(joinPath(prefix, entity), limit));
}

// ---------------------------------------------------------------------------------------------------------------
// Names.

type NameKind = 'metric' | 'param' | 'tag';

/** MLflow's message for a None name (unreachable through JSON/proto, kept for runtime nulls). */
function noneNameMessage(kind: NameKind, path: string): string {
  if (kind === 'metric') return invalidValue(path, null, `Metric name cannot be None. ${MISSING_KEY_NAME_MESSAGE}`);
  if (kind === 'param') return invalidValue(path, '', MISSING_KEY_NAME_MESSAGE);
  return missingValue(path);
}

/**
 * The regex and "path unique" rules shared by metric, param and tag names. The field path is `prefix.field`
 * (or `field`), built only when an error is thrown.
 */
function checkName(kind: NameKind, name: string, prefix: string, field: string): void {
  if (name === null || name === undefined) throw invalidParam(noneNameMessage(kind, joinPath(prefix, field)));
  if (!NAME_RE.test(name)) throw invalidParam(invalidValue(joinPath(prefix, field), name, BAD_CHARACTER_MESSAGE));
  if (PATH_NOT_UNIQUE_RE.test(name)) {
    throw invalidParam(invalidValue(joinPath(prefix, field), name, badPathMessage(name)));
  }
}

/** `_validate_metric_name`; `path` is the full field path (MLflow: "name", in log-batch "metrics[i].name"). */
export function validateMetricName(name: string, path = 'name'): void {
  checkName('metric', name, '', path);
}

/** `_validate_param_name`; `path` is the full field path ("key", in log-batch "params[i].key"). */
export function validateParamName(name: string, path = 'key'): void {
  checkName('param', name, '', path);
}

/** `_validate_tag_name`; `path` is the full field path ("key", in log-batch "tags[i].key"). */
export function validateTagName(name: string, path = 'key'): void {
  checkName('tag', name, '', path);
}

// ---------------------------------------------------------------------------------------------------------------
// Items.

/**
 * `_validate_metric`: name → value present and numeric → timestamp ≥ 0 → step numeric → key length.
 * `path` is the item prefix as in MLflow ("" for log-metric, "metrics[i]" in log-batch); fields are appended.
 */
export function validateMetric(
  key: string,
  value: number,
  timestamp: number | bigint,
  step: number | bigint,
  path = '',
): void {
  checkName('metric', key, path, 'name');
  if (typeof value !== 'number') {
    if (value === null || value === undefined) throw invalidParam(missingValue(joinPath(path, 'value')));
    throw invalidParam(
      invalidValue(
        joinPath(path, 'value'),
        value,
        `(timestamp=${pyStr(timestamp)}). Please specify value as a valid double (64-bit floating point)`,
      ),
    );
  }
  if ((typeof timestamp !== 'number' && typeof timestamp !== 'bigint') || timestamp < 0) {
    throw invalidParam(
      invalidValue(
        joinPath(path, 'timestamp'),
        timestamp,
        `metric '${key}' (value=${pyFloat(value)}). Timestamp must be a nonnegative long (64-bit integer) `,
      ),
    );
  }
  if (typeof step !== 'number' && typeof step !== 'bigint') {
    throw invalidParam(
      invalidValue(
        joinPath(path, 'step'),
        step,
        `metric '${key}' (value=${pyFloat(value)}). Step must be a valid long (64-bit integer).`,
      ),
    );
  }
  lengthLimit('', 'Metric name', LIMITS.MAX_ENTITY_KEY_LENGTH, key);
}

/**
 * `_validate_param`: name → key length (error, "Param key") → value length (truncated to 6000 by default,
 * "Param value"). Returns the value to store. `path` is the item prefix ("" or "params[i]").
 */
export function validateParam(key: string, value: string, path = '', truncate = true): string {
  checkName('param', key, path, 'key');
  lengthLimit('', 'Param key', LIMITS.MAX_ENTITY_KEY_LENGTH, key);
  return lengthLimit('', 'Param value', LIMITS.MAX_PARAM_VAL_LENGTH, value, truncate);
}

/**
 * `_validate_tag` (run tags): name → key length (error) → value length (truncated to 8000 by default).
 * Returns the value to store. `path` is the item prefix ("" or "tags[i]"); messages name "key"/"tags[i].key".
 * `truncate` is the server's `truncateLongValues` setting (MLFLOW_TRUNCATE_LONG_VALUES).
 */
export function validateTag(key: string, value: string, path = '', truncate = true): string {
  checkName('tag', key, path, 'key');
  lengthLimit(path, 'key', LIMITS.MAX_ENTITY_KEY_LENGTH, key);
  return lengthLimit(path, 'value', LIMITS.MAX_TAG_VAL_LENGTH, value, truncate);
}

/** `_validate_experiment_tag`: tag name rules, key ≤ 250, value ≤ 5000; never truncates. */
export function validateExperimentTag(key: string, value: string): void {
  validateTagName(key);
  lengthLimit('', 'key', LIMITS.MAX_EXPERIMENT_TAG_KEY_LENGTH, key);
  lengthLimit('', 'value', LIMITS.MAX_EXPERIMENT_TAG_VAL_LENGTH, value);
}

// ---------------------------------------------------------------------------------------------------------------
// Experiments and runs.

/** `_validate_experiment_name`: empty/None, not a string, longer than 500. */
export function validateExperimentName(name: unknown): void {
  if (name === '' || name === null || name === undefined) {
    throw invalidParam(`Invalid experiment name: '${pyStr(name)}'`);
  }
  if (typeof name !== 'string') throw invalidParam(`Invalid experiment name: ${pyStr(name)}. Expects a string.`);
  if (tooLong(name, LIMITS.MAX_EXPERIMENT_NAME_LENGTH)) {
    throw invalidParam(exceedsMaximumLength('name', LIMITS.MAX_EXPERIMENT_NAME_LENGTH));
  }
}

/** `_validate_run_id`; `path` is the request field ("run_id"). */
export function validateRunId(runId: string, path = 'run_id'): void {
  if (typeof runId !== 'string' || !RUN_ID_RE.test(runId)) throw invalidParam(invalidValue(path, runId));
}

/** `_validate_experiment_id`. */
export function validateExperimentId(id: string): void {
  if (typeof id !== 'string' || !EXPERIMENT_ID_RE.test(id)) throw invalidParam(`Invalid experiment ID: '${pyStr(id)}'`);
}

// ---------------------------------------------------------------------------------------------------------------
// log-batch.

function batchLimit(entity: string, limit: number, length: number): void {
  if (length > limit) {
    throw invalidParam(
      `A batch logging request can contain at most ${limit} ${entity}. Got ${length} ${entity}. ` +
        `Please split up ${entity} across multiple requests and try again.`,
    );
  }
}

/** `_validate_batch_log_limits`: metrics ≤ 1000, params ≤ 100, tags ≤ 100, then all together ≤ 1000. */
export function validateBatchLimits(metrics: number, params: number, tags: number): void {
  batchLimit('metrics', LIMITS.MAX_METRICS_PER_BATCH, metrics);
  batchLimit('params', LIMITS.MAX_PARAMS_TAGS_PER_BATCH, params);
  batchLimit('tags', LIMITS.MAX_PARAMS_TAGS_PER_BATCH, tags);
  batchLimit('metrics, params, and tags', LIMITS.MAX_ENTITIES_PER_BATCH, metrics + params + tags);
}

/** `_validate_param_keys_unique`: lists every repeat occurrence, as a Python list repr. */
export function validateNoDuplicateParamKeys(params: { key: string }[]): void {
  const seen = new Set<string>();
  const dupes: string[] = [];
  for (const { key } of params) {
    if (seen.has(key)) dupes.push(key);
    else seen.add(key);
  }
  if (dupes.length > 0) {
    throw invalidParam(
      `Duplicate parameter keys have been submitted: [${dupes.map(pyRepr).join(', ')}]. ` +
        'Please ensure the request contains only one param value per param key.',
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// log-inputs and search.

/** `_validate_dataset` then `_validate_input_tags` for one dataset input. */
export function validateDatasetInput(
  ds: { name: string; digest: string; source_type: string; source: string; schema?: string; profile?: string },
  tags: { key: string; value: string }[],
): void {
  if (ds === null || ds === undefined) throw invalidParam('Dataset cannot be None');
  if (ds.name == null) throw invalidParam('Dataset name cannot be None');
  if (ds.digest == null) throw invalidParam('Dataset digest cannot be None');
  if (ds.source_type == null) throw invalidParam('Dataset source_type cannot be None');
  if (ds.source == null) throw invalidParam('Dataset source cannot be None');
  const checks: [string, string | undefined, number][] = [
    ['name', ds.name, LIMITS.MAX_DATASET_NAME_SIZE],
    ['digest', ds.digest, LIMITS.MAX_DATASET_DIGEST_SIZE],
    ['source', ds.source, LIMITS.MAX_DATASET_SOURCE_SIZE],
    ['schema', ds.schema, LIMITS.MAX_DATASET_SCHEMA_SIZE],
    ['profile', ds.profile, LIMITS.MAX_DATASET_PROFILE_SIZE],
  ];
  for (const [field, value, limit] of checks) {
    if (value != null && tooLong(value, limit)) throw invalidParam(exceedsMaximumLength(field, limit));
  }
  for (const tag of tags) {
    if (tag === null || tag === undefined) throw invalidParam('InputTag cannot be None');
    if (tag.key == null) throw invalidParam('InputTag key cannot be None');
    if (tag.value == null) throw invalidParam('InputTag value cannot be None');
    if (tooLong(tag.key, LIMITS.MAX_INPUT_TAG_KEY_SIZE)) {
      throw invalidParam(exceedsMaximumLength('key', LIMITS.MAX_INPUT_TAG_KEY_SIZE));
    }
    if (tooLong(tag.value, LIMITS.MAX_INPUT_TAG_VALUE_SIZE)) {
      throw invalidParam(exceedsMaximumLength('value', LIMITS.MAX_INPUT_TAG_VALUE_SIZE));
    }
  }
}

/** `_validate_max_results_param`: 1..max (default 50000). */
export function validateMaxResults(n: number, max: number = LIMITS.SEARCH_MAX_RESULTS_THRESHOLD): void {
  if (!Number.isInteger(n) || n < 1) {
    throw invalidParam(`Invalid value ${pyStr(n)} for parameter 'max_results' supplied. It must be a positive integer`);
  }
  if (n > max) {
    throw invalidParam(`Invalid value ${pyStr(n)} for parameter 'max_results' supplied. It must be at most ${max}`);
  }
}

const BAD_NAME_CHARS = ['/', ':', '.', '%', '"', "'"];

/** `_validate_logged_model_name`: non-empty, none of / : . % " ' ; and it must fit the column. */
export function validateLoggedModelName(name: string): void {
  if (!name || BAD_NAME_CHARS.some((c) => name.includes(c))) {
    throw invalidParam(
      `Invalid model name ('${name}') provided. Model name must be a non-empty string and cannot contain the ` +
        `following characters: ('/', ':', '.', '%', '"', "'")`,
    );
  }
  if (tooLong(name, LIMITS.MAX_LOGGED_MODEL_NAME_LENGTH)) {
    throw invalidParam(`'name' exceeds the maximum length of ${LIMITS.MAX_LOGGED_MODEL_NAME_LENGTH} characters`);
  }
}
