/**
 * MLflow's rules for the model registry (`mlflow/utils/validation.py`: `_validate_model_name`,
 * `_validate_model_version`, `_validate_model_alias_name`, `_validate_registered_model_tag`,
 * `_validate_model_version_tag`; `model_version_stages.get_canonical_stage`; the source checks of
 * `handlers._validate_source_run` and friends), with the messages the reference server answers
 * (shared/reference/model-registry.md §3). Column bounds MLflow leaves to the database are checked here too, so a
 * value that would not fit is a 400, never a database error.
 */
import { invalidParam } from './errors.ts';
import { decodeQuery, normpath, tooLong } from './python.ts';
import { lengthLimit, validateTagName } from './validation.ts';

export const REGISTRY_LIMITS = {
  MAX_MODEL_NAME_LENGTH: 256,
  MAX_DESCRIPTION_LENGTH: 5000,
  MAX_TAG_KEY_LENGTH: 250,
  MAX_TAG_VALUE_LENGTH: 5000,
  MAX_ALIAS_LENGTH: 255,
  MAX_SOURCE_LENGTH: 500,
  MAX_RUN_LINK_LENGTH: 500,
  MAX_RUN_ID_LENGTH: 32,
  /** registered-models/search: default and maximum page (proto default 100) */
  SEARCH_MODELS_DEFAULT: 100,
  SEARCH_MODELS_MAX: 1000,
  /** model-versions/search: proto default and maximum 200,000; clients send 10,000 */
  SEARCH_VERSIONS_DEFAULT: 200_000,
  SEARCH_VERSIONS_MAX: 200_000,
} as const;

export const STAGES = ['None', 'Staging', 'Production', 'Archived'] as const;
export type Stage = (typeof STAGES)[number];
/** The stage MLflow gives a soft-deleted version. */
export const STAGE_DELETED = 'Deleted_Internal';

/** A registered model name: any non-empty string (MLflow sets no character rules) that fits the column. */
export function validateModelName(name: string, field = 'name'): void {
  if (name === '') throw invalidParam('Registered model name cannot be empty.');
  if (tooLong(name, REGISTRY_LIMITS.MAX_MODEL_NAME_LENGTH)) {
    throw invalidParam(`'${field}' exceeds the maximum length of ${REGISTRY_LIMITS.MAX_MODEL_NAME_LENGTH} characters`);
  }
}

/** `_validate_model_version`: Python's int() of the string: " 1", "01", "+1" and "1_0" are numbers; "1.0" is not. */
export function parseVersion(version: string): number {
  const s = version.trim();
  if (/^[+-]?\d+(_\d+)*$/.test(s)) {
    const n = Number(s.replace(/_/g, ''));
    if (Number.isSafeInteger(n)) return n;
  }
  throw invalidParam(`Parameter 'version' must be an integer, got '${version}'.`);
}

/** Python's `\w` (Unicode letters, digits, `_`), as `^[\w\-]*$`. */
const ALIAS_RE = /^[\p{L}\p{N}_-]*$/u;

/** `_validate_model_alias_name`; `reserved` checks the names MLflow keeps for itself (`latest`, `v<digits>`). */
export function validateAliasName(alias: string, reserved: boolean): void {
  if (!alias) throw invalidParam('Registered model alias name cannot be empty.');
  if (!ALIAS_RE.test(alias)) {
    throw invalidParam(`Invalid alias name: '${alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-).`);
  }
  if (tooLong(alias, REGISTRY_LIMITS.MAX_ALIAS_LENGTH)) {
    throw invalidParam(`'alias' exceeds the maximum length of ${REGISTRY_LIMITS.MAX_ALIAS_LENGTH} characters`);
  }
  if (!reserved) return;
  if (alias.toLowerCase() === 'latest') throw invalidParam("'latest' alias name (case insensitive) is reserved.");
  if (/^[vV]\d+$/.test(alias)) throw invalidParam(`Version alias name '${alias}' is reserved.`);
}

/** `get_canonical_stage`: case-insensitive. */
export function canonicalStage(stage: string): Stage {
  const found = STAGES.find((s) => s.toLowerCase() === stage.toLowerCase());
  if (!found) throw invalidParam(`Invalid Model Version stage: ${stage}. Value must be one of None, Staging, Production, Archived.`);
  return found;
}

/** `_validate_registered_model_tag` / `_validate_model_version_tag`: tag name rules, key ≤ 250, value ≤ 5000. */
export function validateRegistryTag(key: string, value: string): void {
  validateTagName(key);
  lengthLimit('', 'key', REGISTRY_LIMITS.MAX_TAG_KEY_LENGTH, key);
  lengthLimit('', 'value', REGISTRY_LIMITS.MAX_TAG_VALUE_LENGTH, value);
}

export function validateDescription(description: string): void {
  lengthLimit('', 'description', REGISTRY_LIMITS.MAX_DESCRIPTION_LENGTH, description);
}

/**
 * The source of a new version, as MLflow's handler checks it: a local path (`/x`, `file:`) needs a run whose
 * artifacts contain it, which never holds on a server that proxies artifacts, so it is refused; any other source
 * must not name a parent directory or change when normalised, however often it is URL-decoded.
 */
export function validateVersionSource(source: string): void {
  if (source.startsWith('/') || /^file:/i.test(source)) {
    throw invalidParam(
      `Invalid model version source: '${source}'. To use a local path as a model version source, the run_id request ` +
        'parameter has to be specified and the local path has to be contained within the artifact directory of the ' +
        'run specified by the run_id.',
    );
  }
  const decoded = decodeQuery(source);
  const path = decoded.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:(\/\/[^/]*)?/, '');
  const segments = path.split('/');
  if (decoded.includes('\0') || segments.includes('..') || (path.length > 1 && normpath(path) !== path.replace(/\/+$/, ''))) {
    throw invalidParam(
      `Invalid model version source: '${source}'. If supplying a source as an http, https, local file path, ftp, ` +
        'objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references ' +
        'present. Please provide an absolute path.',
    );
  }
  lengthLimit('', 'source', REGISTRY_LIMITS.MAX_SOURCE_LENGTH, source);
}

/** run_link and run_id fit their columns (MLflow's sizes: 500 and 32). */
export function validateVersionRunFields(runId: string | undefined, runLink: string | undefined): void {
  if (runId) lengthLimit('', 'run_id', REGISTRY_LIMITS.MAX_RUN_ID_LENGTH, runId);
  if (runLink) lengthLimit('', 'run_link', REGISTRY_LIMITS.MAX_RUN_LINK_LENGTH, runLink);
}

/** max_results of the registry searches: 1..max, MLflow's store wording. */
export function validateRegistryMaxResults(n: number | bigint, max: number): number {
  if (typeof n === 'bigint' || n < 1) throw invalidParam(`Invalid value for max_results. It must be a positive integer, but got ${n}`);
  if (n > max) throw invalidParam(`Invalid value for request parameter max_results. It must be at most ${max}, but got value ${n}`);
  return n;
}
