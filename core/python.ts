/**
 * Python's renderings, for the places where MLflow's answers carry text that Python wrote: validation messages
 * (`repr`, `str(float)`, `json.dumps` with ensure_ascii), lengths counted as Python's `len()` counts them, and the
 * `mlflow.log-model.history` tag. The bottom layer: imports nothing of mltrack. Cold paths only, except `pyLen`
 * and `tooLong`, which the per-item checks of log-batch call.
 */

/** Python `len()`: code points; a surrogate pair is one character, a lone surrogate is one too. */
export function pyLen(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** `len(s) > limit` without counting when the UTF-16 length already settles it. */
export function tooLong(s: string, limit: number): boolean {
  return s.length > limit && pyLen(s) > limit;
}

/** Python `s[:limit]` in code points. */
export function pySlice(s: string, limit: number): string {
  let i = 0;
  for (let count = 0; count < limit && i < s.length; count++) {
    const c = s.charCodeAt(i);
    const d = s.charCodeAt(i + 1);
    i += c >= 0xd800 && c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff ? 2 : 1;
  }
  return s.slice(0, i);
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');


const NON_PRINTABLE = /[\p{C}\p{Z}]/u;

/** Python `repr(s)` for a str: quote choice, backslash escapes, non-printables as \xNN / \uNNNN / \UNNNNNNNN. */
export function pyRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch !== ' ' && NON_PRINTABLE.test(ch)) {
      out += cp < 0x100 ? '\\x' + hex(cp, 2) : cp < 0x10000 ? '\\u' + hex(cp, 4) : '\\U' + hex(cp, 8);
    } else out += ch;
  }
  return out + quote;
}

/** Python `str(float)`: shortest round-trip digits, exponent form below 1e-4 or from 1e16, else at least ".0". */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = x < 0 ? '-' : '';
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  return `${sign}${intPart}.${digits.slice(exp + 1) || '0'}`;
}

/** Python `str(int)` for an int64 held as number or bigint. */
export function pyInt(x: number | bigint): string {
  return typeof x === 'number' && Number.isInteger(x) ? BigInt(x).toString() : String(x);
}

/** Python `str(v)` for JSON-ish values (used where MLflow formats an arbitrary request value with `{}`). */
export function pyStr(v: unknown, nested = false): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isInteger(v) && !Object.is(v, -0) ? pyInt(v) : pyFloat(v);
  if (typeof v === 'string') return nested ? pyRepr(v) : v;
  if (Array.isArray(v)) return '[' + v.map((x) => pyStr(x, true)).join(', ') + ']';
  if (typeof v === 'object') {
    return '{' + Object.entries(v).map(([k, x]) => `${pyRepr(k)}: ${pyStr(x, true)}`).join(', ') + '}';
  }
  return String(v);
}

/** Python `json.dumps(value, sort_keys=True, separators=(",", ":"))` for the scalars MLflow passes. */
export function pyJson(v: unknown): string {
  if (typeof v === 'string') return pyJsonString(v);
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
    return Number.isInteger(v) ? pyInt(v) : pyFloat(v);
  }
  return pyStr(v);
}

/** `posixpath.normpath`. */
export function normpath(p: string): string {
  if (p === '') return '.';
  const lead = p.startsWith('/') ? (p.startsWith('//') && !p.startsWith('///') ? '//' : '/') : '';
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part !== '..' || (!lead && out.length === 0) || out[out.length - 1] === '..') out.push(part);
    else if (out.length > 0) out.pop();
  }
  return lead + out.join('/') || '.';
}

/** `urllib.parse.unquote` repeated until stable (MLflow's `_decode`, at most 10 rounds); bad UTF-8 → U+FFFD. */
export function decodeQuery(q: string): string {
  const utf8 = new TextDecoder();
  for (let i = 0; i < 10; i++) {
    const next = q.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) =>
      utf8.decode(Uint8Array.from(run.slice(1).split('%'), (h) => parseInt(h, 16))),
    );
    if (next === q) break;
    q = next;
  }
  return q;
}

/** Python `json.dumps(s)` (ensure_ascii=True): `"`, `\`, controls and all non-ASCII escaped, lowercase hex. */
export function pyJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += s.charAt(i);
  }
  return out + '"';
}

/** Python's `json.dumps(v)`: separators ", " and ": ", non-ASCII escaped, floats as Python's repr. */
export function pyJsonDumps(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return pyNumber(v);
  if (typeof v === 'string') return pyJsonString(v);
  if (Array.isArray(v)) return '[' + v.map(pyJsonDumps).join(', ') + ']';
  if (typeof v === 'object') {
    return '{' + Object.entries(v as Record<string, unknown>).map(([k, x]) => `${pyJsonString(k)}: ${pyJsonDumps(x)}`).join(', ') + '}';
  }
  return 'null';
}

function pyNumber(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  // JSON cannot tell 1 from 1.0 once parsed: integral values are written as integers
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return String(x);
  return pyFloat(x);
}
