/**
 * MLflow's checks of an experiment's `artifact_location` (`handlers._create_experiment`, `validate_query_string`,
 * `_validate_experiment_artifact_location`, the length limit), which parse the location as Python's `urllib.parse`
 * does. Kept apart from the field rules of validation.ts: a URL parser, not a field rule.
 */
import { invalidParam } from './errors.ts';
import { decodeQuery, tooLong } from './python.ts';
import { LIMITS } from './validation.ts';

/** `urllib.parse` schemes whose last path segment may carry `;params`. */
const USES_PARAMS = new Set([
  '', 'ftp', 'hdl', 'prospero', 'http', 'imap', 'https', 'shttp', 'rtsp', 'rtsps', 'rtspu', 'sip', 'sips', 'mms',
  'sftp', 'tel',
]);
const SCHEME_RE = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;

/**
 * Experiment `artifact_location`, in MLflow's order: `urlparse` fragment or `;params` (handler) → `..` in the
 * decoded query (`validate_query_string`) → `runs:` URI (`_validate_experiment_artifact_location`) → length.
 * An empty location (server default) passes.
 */
export function validateArtifactLocation(loc: string): void {
  if (!loc) return;
  // urlsplit: strips leading C0/space, drops tab/CR/LF, splits "#" then "?"; urlparse: ";params" of last segment.
  let url = loc.replace(/^[\x00-\x20]+/, '').replace(/[\t\r\n]/g, '');
  const scheme = SCHEME_RE.exec(url)?.[1]?.toLowerCase() ?? '';
  if (scheme) url = url.slice(scheme.length + 1);
  const hash = url.indexOf('#');
  const fragment = hash >= 0 ? url.slice(hash + 1) : '';
  if (hash >= 0) url = url.slice(0, hash);
  const qmark = url.indexOf('?');
  const query = qmark >= 0 ? url.slice(qmark + 1) : '';
  if (qmark >= 0) url = url.slice(0, qmark);
  if (url.startsWith('//')) {
    const end = url.slice(2).search(/[/?#]/);
    url = end >= 0 ? url.slice(2 + end) : '';
  }
  let params = '';
  if (USES_PARAMS.has(scheme)) {
    const semi = url.indexOf(';', Math.max(url.lastIndexOf('/'), 0));
    if (semi >= 0) params = url.slice(semi + 1);
  }
  if (fragment || params) throw invalidParam("'artifact_location' URL can't include fragments or params.");
  if (query && decodeQuery(query).includes('..')) throw invalidParam('Invalid query string');
  if (loc.startsWith('runs:')) throw invalidParam(`Artifact location cannot be a runs:/ URI. Given: '${loc}'`);
  if (tooLong(loc, LIMITS.MAX_ARTIFACT_LOCATION_LENGTH)) {
    throw invalidParam(
      'Invalid artifact path length. The length of the artifact path cannot be greater than ' +
        `${LIMITS.MAX_ARTIFACT_LOCATION_LENGTH} characters. To configure this limit, please set the ` +
        'MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH environment variable.',
    );
  }
}
