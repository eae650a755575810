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
  it('finds a long integer after whitespace, a minus sign, a bracket or at the start, and nowhere it is not one', () => {
    expect(parseJson('{"t":\n\t1234567890123456789,"s": -9223372036854775808,"l":[ 9007199254740993],"x":[9007199254740993]}')).toEqual({
      t: '1234567890123456789', s: '-9223372036854775808', l: ['9007199254740993'], x: ['9007199254740993'],
    });
    expect(parseJson('1234567890123456789')).toBe('1234567890123456789');
    // large numbers that are not integer literals of 16+ digits stay numbers (the text is looked at again, finds none)
    expect(parseJson('{"v":1e20,"w":-1.5e300,"u":1000000000000000.5,"i":123456789012345}')).toEqual({ v: 1e20, w: -1.5e300, u: 1000000000000000.5, i: 123456789012345 });
    // within strings and keys nothing changes, nested deep or not
    const deep = `${'['.repeat(70)}12345678901234567${']'.repeat(70)}`;
    expect(JSON.stringify(parseJson(deep))).toBe(`${'['.repeat(70)}"12345678901234567"${']'.repeat(70)}`);
    expect(parseJson('{"9999999999999999":"-1234567890123456789"}')).toEqual({ '9999999999999999': '-1234567890123456789' });
  });
  it('emits BigInt as bare digits', () => {
    expect(stringifyJson({ step: 9223372036854775807n, s: 'x', n: [1n, 2] })).toBe('{"step":9223372036854775807,"s":"x","n":[1,2]}');
  });
  it('rejects malformed JSON', () => {
    expect(() => parseJson('{"a":1234567890123456')).toThrow();
  });
});
