/**
 * JSON for the MLflow wire. int64 values (metric steps, timestamps) may exceed 2^53, which JSON.parse would round
 * and JSON.stringify cannot emit as BigInt. Integers of 16+ digits in a request body are turned into strings before
 * parsing (the int64 schemas accept digit strings); BigInt values in an answer are emitted as bare digits.
 */

/** Deeper nesting than any MLflow request has is refused before parsing: V8's JSON.parse and the schemas recurse. */
export const MAX_JSON_DEPTH = 64;

/** Fields whose JSON numbers MLflow stringifies (`_stringify_all_experiment_ids`): 1 is "1", but 1.0 is "1.0". */
const ID_KEYS = new Set(['experiment_id', 'experiment_ids']);

/** A request body MLflow's parser would not accept, worded for the client. */
export class JsonShapeError extends Error {}

const isDigit = (c: number) => c >= 48 && c <= 57;
// 16+ digits not after a '.' or another digit: an integer part too long for a double (fractions don't count)
const LONG_DIGITS = /(?<![.\d])\d{16}/;
// a \uD800-\uDFFF escape: the only way a lone surrogate can enter a strictly decoded UTF-8 body
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * One pass over the text, outside strings: bounds the nesting depth, quotes integer literals of 16+ digits (so
 * JSON.parse keeps every digit; the int64 schemas read digit strings) and quotes non-integer number literals of
 * experiment ids (1.0 → "1.0", which names no experiment, as in MLflow). Returns the text to parse.
 */
function prepare(text: string): string {
  let out = '';
  let last = 0;
  let depth = 0;
  // the key each open container's values sit under: objects take it from the latest key, arrays from their own key
  const keys: (string | null)[] = [];
  let key: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      const start = i + 1;
      for (i = start; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 92 /* \ */) i++;
        else if (d === 34) break;
      }
      // a string followed by ':' is a key
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) <= 32) j++;
      if (text.charCodeAt(j) === 58 /* : */) key = text.slice(start, i);
      continue;
    }
    if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > MAX_JSON_DEPTH) throw new JsonShapeError(`nested deeper than ${MAX_JSON_DEPTH} levels`);
      keys.push(c === 91 ? key : null);
      if (c === 123) key = null;
      continue;
    }
    if (c === 125 /* } */ || c === 93 /* ] */) {
      depth--;
      keys.pop();
      continue;
    }
    if (isDigit(c) || c === 45 /* - */) {
      // the whole number token: -?digits(.digits)?([eE][+-]?digits)?
      let j = i + (c === 45 ? 1 : 0);
      const digitsStart = j;
      while (j < text.length && isDigit(text.charCodeAt(j))) j++;
      const digits = j - digitsStart;
      let integer = true;
      if (text.charCodeAt(j) === 46 /* . */) {
        integer = false;
        j++;
        while (j < text.length && isDigit(text.charCodeAt(j))) j++;
      }
      const e = text.charCodeAt(j);
      if (e === 101 || e === 69 /* e E */) {
        integer = false;
        j++;
        if (text.charCodeAt(j) === 43 || text.charCodeAt(j) === 45) j++;
        while (j < text.length && isDigit(text.charCodeAt(j))) j++;
      }
      const under = (keys.length ? keys[keys.length - 1] : null) ?? key;
      if ((integer && digits >= 16) || (!integer && under !== null && ID_KEYS.has(under))) {
        out += text.slice(last, i) + '"' + text.slice(i, j) + '"';
        last = j;
      }
      i = j - 1;
    }
  }
  return last === 0 ? text : out + text.slice(last);
}

/** Whether any string of a parsed value (keys included) holds a lone surrogate, which no UTF-8 text can carry. */
function hasLoneSurrogate(v: unknown): boolean {
  if (typeof v === 'string') return LONE_SURROGATE.test(v);
  if (Array.isArray(v)) return v.some(hasLoneSurrogate);
  if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) if (LONE_SURROGATE.test(k) || hasLoneSurrogate(x)) return true;
  }
  return false;
}

/** Whether a string (a query value, a path segment) holds a lone surrogate. */
export const isLoneSurrogateFree = (s: string) => !LONE_SURROGATE.test(s);

/**
 * A request body as MLflow's JSON: throws SyntaxError for malformed JSON, JsonShapeError for JSON nested too deep
 * or carrying a lone surrogate (stored, it would come back changed).
 */
export function parseJson(text: string): unknown {
  const needsScan = LONG_DIGITS.test(text) || text.includes('[') || text.includes('{');
  const value: unknown = JSON.parse(needsScan ? prepare(text) : text);
  if (SURROGATE_ESCAPE.test(text) && hasLoneSurrogate(value)) throw new JsonShapeError('a string holds a lone UTF-16 surrogate, which is not text');
  return value;
}

const BIG_MARK = '\u0000int64:';
const BIG_RE = /"\\u0000int64:(-?\d+)"/g;

export function stringifyJson(value: unknown): string {
  // The plain path is 2-3x faster than one with a replacer; only answers that carry a BigInt need the replacer.
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (!(err instanceof TypeError) || !/BigInt/i.test(err.message)) throw err;
  }
  const text = JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? BIG_MARK + v.toString() : v));
  return text.replace(BIG_RE, '$1');
}
