/**
 * Every page token mltrack issues or reads, and the one "Invalid page token…" error. Three formats exist on the
 * wire and stay byte-for-byte as clients have them:
 *   - keyset (runs/search, experiments/search): base64url(JSON {"v":1,"q":<kind>,"s":<sort signature>,"k":[…]}),
 *     the last row's sort keys; strictly validated against the current query (db/search/sql.ts builds the SQL);
 *   - MLflow's offset token (metrics/get-history): base64 of Python's `json.dumps({"offset": N})`, read as
 *     `SearchUtils.parse_start_offset_from_page_token` reads it, with its messages;
 *   - the logged-model search's offset token: base64 of compact `{"offset":N}`, offset 0 allowed, any defect one
 *     message.
 */
import { invalidParam } from './errors.ts';
import { int64Text } from './codecs.ts';

/** The one wording path: `detail` starts with its separator (", …" in MLflow's words, ": …" in ours). */
export const invalidPageToken = (detail: string) => invalidParam(`Invalid page token${detail}`);

// ---------------------------------------------------------------------------------------------
// Offset tokens

/** MLflow's offset token: base64 of Python's `json.dumps({"offset": N})` (note the space after the colon). */
export function encodeOffsetToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset }).replace(':', ': '), 'utf8').toString('base64');
}

/** `SearchUtils.parse_start_offset_from_page_token`: absent → 0; anything but a positive integer offset → 400. */
export function decodeOffsetToken(token: string | undefined): number {
  if (!token) return 0;
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(token.trim())) throw invalidPageToken(', could not base64-decode');
  const decoded = Buffer.from(token.trim(), 'base64').toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoded);
  } catch {
    throw invalidPageToken(`, decoded value=${decoded}`);
  }
  const offset = parsed !== null && typeof parsed === 'object' ? (parsed as { offset?: unknown }).offset : undefined;
  const n = typeof offset === 'string' && /^\s*\d+\s*$/.test(offset) ? Number(offset) : offset;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw invalidPageToken(`, parsed value=${decoded}`);
  return n;
}

/** The logged-model search's offset token: base64 of compact JSON `{"offset":N}`. */
export const encodeCompactOffsetToken = (offset: number): string => Buffer.from(JSON.stringify({ offset })).toString('base64');

/** Reads `encodeCompactOffsetToken`: absent → 0; offset 0 is accepted; any defect is "could not base64-decode". */
export function decodeCompactOffsetToken(token: string | undefined): number {
  if (!token) return 0;
  const bad = () => invalidPageToken(', could not base64-decode');
  if (!/^[A-Za-z0-9+/=_-]+$/.test(token)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    throw bad();
  }
  const offset = parsed !== null && typeof parsed === 'object' ? (parsed as { offset?: unknown }).offset : undefined;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw bad();
  return offset;
}

// ---------------------------------------------------------------------------------------------
// Keyset tokens: base64url(JSON {"v":1,"q":<kind>,"s":<sort signature>,"k":[<last row's sort keys>]})

/** What a sort key holds: `flag` a small integer (has-value / NaN / missing), `int` int64 decimal text, `num` a
 * finite double, `str` a string. */
export type SortKeyType = 'flag' | 'int' | 'num' | 'str';
export type SortValue = number | string;
export type KeysetKind = 'runs' | 'experiments' | 'registered-models' | 'model-versions';

const MAX_TOKEN_LENGTH = 65536;

function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** A short fingerprint of the sort specification, so a token is only accepted by the same ordering. */
export const sortSignature = (spec: unknown): string => fnv1a(JSON.stringify(spec));

export function encodeKeysetToken(kind: KeysetKind, signature: string, values: readonly SortValue[]): string {
  return Buffer.from(JSON.stringify({ v: 1, q: kind, s: signature, k: values }), 'utf8').toString('base64url');
}

/** Decodes and strictly validates a keyset token against the current query's kind, ordering and key types. */
export function decodeKeysetToken(token: string, kind: KeysetKind, signature: string, types: readonly SortKeyType[]): SortValue[] {
  const bad = (why: string) => invalidPageToken(`: ${why}`);
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) {
    throw bad('could not base64-decode');
  }
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.toString('base64url') !== token) throw bad('could not base64-decode');
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw bad('not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad('not an object');
  const obj = parsed as Record<string, unknown>;
  const keys = Object.keys(obj).sort().join(',');
  if (keys !== 'k,q,s,v' || obj.v !== 1) throw bad('unknown format');
  if (obj.q !== kind) throw bad(`it was issued by another kind of search (${String(obj.q)})`);
  if (obj.s !== signature) throw bad('it was issued for a different order_by');
  const k = obj.k;
  if (!Array.isArray(k) || k.length !== types.length) throw bad('wrong number of sort keys');
  return types.map((type, i) => {
    const v: unknown = k[i];
    switch (type) {
      case 'flag':
        if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 9) return v;
        break;
      case 'int':
        if (typeof v === 'string' && int64Text(v) === v) return v;
        break;
      case 'num':
        if (typeof v === 'number' && Number.isFinite(v)) return v;
        break;
      case 'str':
        if (typeof v === 'string') return v;
        break;
    }
    throw bad(`bad sort key #${i + 1}`);
  });
}
