import { describe, expect, it } from 'vitest';
import { parseJson, stringifyJson } from '../server/json.ts';

describe('int64-safe JSON', () => {
  it('keeps integers of 16+ digits exact as digit strings, leaves everything else alone', () => {
    const text = '{"a":9223372036854775807,"b":-9007199254740993,"c":-0.8414709848078965,"d":1.2345678901234567e+300,' +
      '"e":"12345678901234567890","f":[1234567890123456,1],"g":123456789012345,"h":"x\\"9999999999999999"}';
    expect(parseJson(text)).toEqual({
      a: '9223372036854775807', b: '-9007199254740993', c: -0.8414709848078965, d: 1.2345678901234567e300,
      e: '12345678901234567890', f: ['1234567890123456', 1], g: 123456789012345, h: 'x"9999999999999999',
    });
  });
  it('emits BigInt as bare digits', () => {
    expect(stringifyJson({ step: 9223372036854775807n, s: 'x', n: [1n, 2] })).toBe('{"step":9223372036854775807,"s":"x","n":[1,2]}');
  });
  it('rejects malformed JSON', () => {
    expect(() => parseJson('{"a":1234567890123456')).toThrow();
  });
});
