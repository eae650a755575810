/**
 * JSON for the MLflow wire. int64 values (metric steps, timestamps) may exceed 2^53, which JSON.parse would round
 * and JSON.stringify cannot emit as BigInt. Integers of 16+ digits in a request body are turned into strings before
 * parsing (the int64 schemas accept digit strings); BigInt values in an answer are emitted as bare digits.
 */

// 16+ digits not after a '.' or another digit: an integer part too long for a double (fractions don't count)
const LONG_DIGITS = /(?<![.\d])\d{16}/;
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

export function parseJson(text: string): unknown {
  return JSON.parse(LONG_DIGITS.test(text) ? quoteLongIntegers(text) : text);
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
