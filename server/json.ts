/**
 * JSON for the MLflow wire. int64 values (metric steps, timestamps) may exceed 2^53, which JSON.parse would round
 * and JSON.stringify cannot emit as BigInt. Integers of 16+ digits in a request body are turned into strings before
 * parsing (the int64 schemas accept digit strings); BigInt values in an answer are emitted as bare digits.
 */

/**
 * Whether the text may hold an integer of 16+ digits (quoteLongIntegers then looks token by token): 16 digits after a
 * character a JSON number can follow (':', ',', '[', whitespace) or a minus sign, or at the start. Strings may match
 * too (harmless: the tokenizer skips them). A lookbehind (`(?<![.\d])\d{16}`) tried it at every digit, and a
 * 1000-point log-batch has 16 of them in each value's fraction: 0.22 → 0.13 ms for such a 70 kB body.
 */
const LONG_DIGITS = /[:,[\s-]\d{16}/;
const LEADING_LONG_DIGITS = /^\d{16}/;
const isDigit = (c: number) => c >= 48 && c <= 57;

/** Quotes every integer literal of 16 or more digits outside strings, so JSON.parse keeps all its digits. */
function quoteLongIntegers(text: string): string {
  let out = '';
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
      continue;
    }
    if (c === 34) {
      inString = true;
      continue;
    }
    if ((c >= 48 && c <= 57) || c === 45 /* - */) {
      // consume the whole number token: -?digits(.digits)?([eE][+-]?digits)?
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
      if (integer && digits >= 16) {
        out += text.slice(last, i) + '"' + text.slice(i, j) + '"';
        last = j;
      }
      i = j - 1;
    }
  }
  return last === 0 ? text : out + text.slice(last);
}

/**
 * MLflow str()-s the experiment ids it receives as JSON numbers: 1 is "1", but 1.0 and 1e0 are floats to Python,
 * "1.0", which names no experiment. JSON.parse cannot tell them from 1 afterwards, so a number literal with a
 * fraction or an exponent is quoted as it was written when it is an experiment id (or one of a list of them). A key
 * can only match outside strings: inside one, its quotes would be escaped.
 */
const ID_NUMBER = /("experiment_id"\s*:\s*)(-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)(?=\s*[,}])/g;
const ID_LIST = /("experiment_ids"\s*:\s*\[)((?:[^\]"]|"(?:[^"\\]|\\.)*")*)\]/g;
// a string (left as it is) or a number literal
const LIST_ITEM = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?/g;
const quoteIfNotInteger = (n: string) => (/[.eE]/.test(n) ? `"${n}"` : n);

function quoteNonIntegerIds(text: string): string {
  return text
    .replace(ID_NUMBER, (_m, key: string, n: string) => key + quoteIfNotInteger(n))
    .replace(ID_LIST, (_m, open: string, items: string) => open + items.replace(LIST_ITEM, (x) => (x.startsWith('"') ? x : quoteIfNotInteger(x))) + ']');
}

/**
 * The text parsed as it is first: a value without any number of 15+ digits (|v| ≥ 1e15, which any integer literal
 * of 16+ digits is) had no literal to quote, and is the answer. Otherwise (or if the text does not parse) as before:
 * the pre-check on the text, the long integers quoted, parsed again. The pre-check's scan of a 1000-point
 * log-batch's 70 kB was ~0.1 ms; the walk of its parsed value ~0.03 ms.
 */
export function parseJson(text: string): unknown {
  const ids = text.includes('"experiment_id') ? quoteNonIntegerIds(text) : text;
  try {
    const value: unknown = JSON.parse(ids);
    if (!hasLargeNumber(value, 1)) return value;
  } catch {
    // the quoted text may parse (a long integer where a key was): as before
  }
  return JSON.parse(LONG_DIGITS.test(ids) || LEADING_LONG_DIGITS.test(ids) ? quoteLongIntegers(ids) : ids);
}

/** Whether a parsed value holds a number of magnitude ≥ 1e15 (or is nested beyond MAX_JSON_DEPTH: not looked into). */
function hasLargeNumber(v: unknown, depth: number): boolean {
  if (typeof v === 'number') return v >= 1e15 || v <= -1e15;
  if (v === null || typeof v !== 'object') return false;
  if (depth > MAX_JSON_DEPTH) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if ((typeof x === 'number' || typeof x === 'object') && hasLargeNumber(x, depth + 1)) return true;
    }
    return false;
  }
  for (const k in v) {
    const x = (v as Record<string, unknown>)[k];
    if ((typeof x === 'number' || typeof x === 'object') && hasLargeNumber(x, depth + 1)) return true;
  }
  return false;
}

/** Deepest nesting a request body may have. MLflow's deepest request (a logged-model search's order_by entries)
 * is 4 levels; 64 leaves room while keeping every recursive walk after parsing (null dropping, zod, error messages)
 * far from the stack limit (100,000 levels was a RangeError → 500 in the reliability report). */
export const MAX_JSON_DEPTH = 64;

/**
 * Why a parsed body cannot be used as it is, or undefined: nested deeper than MAX_JSON_DEPTH, or holding a string
 * (or key) that is not well-formed Unicode (a lone surrogate from a `\ud800` escape). Such strings are refused, never
 * stored changed. Recursive only down to MAX_JSON_DEPTH + 1 levels (a deeper value is refused before its children
 * are looked at), so a deep value cannot overflow the stack here; without the [value, depth] pair a stack of them
 * needed for each value, a 1000-point log-batch's body took ~0.2 → ~0.05 ms.
 */
export function bodyProblem(value: unknown): string | undefined {
  return problemIn(value, 1);
}

function problemIn(v: unknown, depth: number): string | undefined {
  if (typeof v === 'string') return v.isWellFormed() ? undefined : 'The request holds a string that is not valid Unicode (a lone surrogate).';
  if (v === null || typeof v !== 'object') return undefined;
  if (depth > MAX_JSON_DEPTH) return `The request body is nested too deeply (more than ${MAX_JSON_DEPTH} levels).`;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === 'object' || typeof x === 'string') {
        const p = problemIn(x, depth + 1);
        if (p !== undefined) return p;
      }
    }
    return undefined;
  }
  for (const k in v) {
    if (!k.isWellFormed()) return 'The request holds a key that is not valid Unicode (a lone surrogate).';
    const x = (v as Record<string, unknown>)[k];
    if (typeof x === 'object' || typeof x === 'string') {
      const p = problemIn(x, depth + 1);
      if (p !== undefined) return p;
    }
  }
  return undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Bytes → text, or undefined when the bytes are not valid UTF-8 (never replaced by U+FFFD). */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Whether the percent-escapes of a URL (path and query) decode to valid UTF-8. A lone surrogate can only arrive
 * as its 3-byte encoding (%ED%A0%80), which is not valid UTF-8 either. A '%' not followed by two hex digits is left
 * to the route (it is not an encoding problem).
 */
export function urlIsValidUtf8(url: string): boolean {
  if (!url.includes('%')) return true;
  const runs = url.match(/(?:%[0-9a-fA-F]{2})+/g) ?? [];
  for (const run of runs) {
    const bytes = new Uint8Array(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16);
    if (decodeUtf8(bytes) === undefined) return false;
  }
  return true;
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
