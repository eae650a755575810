/**
 * Path safety for the artifact proxy. Every artifact path supplied by a client goes through
 * `safeRelativePath` before it reaches a store; the stores call it again themselves.
 *
 * The rules follow MLflow's `validate_path_is_safe` (mlflow/utils/uri.py), which was hardened after a
 * series of traversal CVEs against the MLflow server (CVE-2023-1177, -2780, -6831, CVE-2024-1560,
 * -3848): percent-decode repeatedly, then refuse `#`, `..` segments, absolute POSIX/Windows paths
 * and backslashes. We are stricter: also `?`, control characters, `.` and empty segments, and
 * anything that still decodes further after a bounded number of rounds.
 */
import path from 'node:path';
import { MlflowError } from '../core/errors.ts';

/** Decoding rounds before a path that keeps changing is refused (MLflow uses 10 too). */
const MAX_DECODE_ROUNDS = 10;
/** Linux NAME_MAX / PATH_MAX, in bytes. */
const MAX_SEGMENT_BYTES = 255;
const MAX_PATH_BYTES = 4096;

export function invalidPath(): MlflowError {
  return new MlflowError('INVALID_PARAMETER_VALUE', 'Invalid path');
}

// C0 controls (incl. NUL), DEL and C1 controls.
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
// Characters that are never allowed at any decoding stage: backslash (Windows separator / UNC),
// '#' and '?' (URL fragment / query: what we see would differ from what a URL parser sees).
const FORBIDDEN_CHARS = /[\\#?]/;
const DRIVE_LETTER = /^[A-Za-z]:/;
const PERCENT_RUN = /(?:%[0-9A-Fa-f]{2})+/g;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** One round of percent-decoding. Lone '%' is kept literally; escapes that aren't valid UTF-8 are refused. */
function percentDecodeOnce(s: string): string {
  if (!s.includes('%')) return s;
  return s.replace(PERCENT_RUN, (run) => {
    const bytes = Buffer.from(run.replace(/%/g, ''), 'hex');
    try {
      return utf8.decode(bytes);
    } catch {
      throw invalidPath();
    }
  });
}

/** Checks that hold at every decoding stage (a violation can't be undone by decoding further). */
function checkStage(s: string): void {
  if (CONTROL_CHARS.test(s) || FORBIDDEN_CHARS.test(s)) throw invalidPath();
  if (s.startsWith('/') || DRIVE_LETTER.test(s)) throw invalidPath();
  for (const seg of s.split('/')) if (seg === '..') throw invalidPath();
}

/**
 * Validates and normalises a client-supplied artifact path.
 *
 * `raw` is the path as the route received it (express has URL-decoded it once; it may still carry
 * encodings). It is percent-decoded until stable (at most 10 rounds), checked at every stage and
 * returned as a relative POSIX path without leading/trailing slash; `''` means the root.
 * A single trailing slash is tolerated (`a/b/` → `a/b`). Anything else suspicious throws
 * `MlflowError` 400 INVALID_PARAMETER_VALUE "Invalid path".
 *
 * The function is idempotent: feeding its output back in returns the same string.
 */
export function safeRelativePath(raw: string): string {
  if (typeof raw !== 'string') throw invalidPath();
  if (raw.length > MAX_PATH_BYTES * 3) throw invalidPath();
  let cur = raw;
  for (let round = 0; ; round++) {
    checkStage(cur);
    const next = percentDecodeOnce(cur);
    if (next === cur) break;
    if (round >= MAX_DECODE_ROUNDS) throw invalidPath();
    cur = next;
  }
  if (cur === '') return '';
  if (cur.endsWith('/')) cur = cur.slice(0, -1);
  if (cur === '' || Buffer.byteLength(cur) > MAX_PATH_BYTES) throw invalidPath();
  for (const seg of cur.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') throw invalidPath();
    if (Buffer.byteLength(seg) > MAX_SEGMENT_BYTES) throw invalidPath();
  }
  return cur;
}

const SCOPE_RE = /^[a-z0-9_-]+(?:\/[a-z0-9_-]+)*$/;

/**
 * Validates a store scope (per-project prefix chosen by the server, e.g. `p/12`): segments of
 * `[a-z0-9_-]` separated by single slashes. Not client input, but checked all the same.
 */
export function validateScope(scope: string): string {
  if (typeof scope !== 'string' || scope.length > 200 || !SCOPE_RE.test(scope)) {
    throw new MlflowError('INVALID_PARAMETER_VALUE', 'Invalid artifact scope');
  }
  return scope;
}

/** True if `child` is `parent` or lies below it (both absolute, already resolved). */
export function isInside(parent: string, child: string): boolean {
  if (child === parent) return true;
  const prefix = parent.endsWith(path.sep) ? parent : parent + path.sep;
  return child.startsWith(prefix);
}

/**
 * Resolves `rel` against `root` and asserts the result stays inside `root` (lexically; symlinks are
 * the store's business). Defence in depth behind `safeRelativePath`. `rel = ''` yields the root.
 */
export function joinInside(root: string, rel: string): string {
  const base = path.resolve(root);
  const full = path.resolve(base, rel);
  if (!isInside(base, full)) throw invalidPath();
  return full;
}
