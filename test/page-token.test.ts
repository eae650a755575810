import { describe, expect, it } from 'vitest';
import { invalidParamMessage as message } from './helpers/errors.ts';
import {
  decodeCompactOffsetToken,
  decodeKeysetToken,
  decodeOffsetToken,
  encodeCompactOffsetToken,
  encodeKeysetToken,
  encodeOffsetToken,
  sortSignature,
} from '../core/page-token.ts';

// The three token formats on the wire, byte for byte, and their one error path.
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe("MLflow's offset token (metrics/get-history)", () => {
  it("is base64 of Python's json.dumps", () => {
    expect(encodeOffsetToken(25000)).toBe(b64('{"offset": 25000}'));
    expect(decodeOffsetToken(encodeOffsetToken(25000))).toBe(25000);
    expect(decodeOffsetToken(b64('{"offset": "7"}'))).toBe(7);
    expect(decodeOffsetToken(undefined)).toBe(0);
  });
  it("words its errors as MLflow's SearchUtils does", () => {
    expect(message(() => decodeOffsetToken('###'))).toBe('Invalid page token, could not base64-decode');
    expect(message(() => decodeOffsetToken(b64('hello')))).toBe('Invalid page token, decoded value=hello');
    expect(message(() => decodeOffsetToken(b64('{"offset": 0}')))).toBe('Invalid page token, parsed value={"offset": 0}');
  });
});

describe("the logged-model search's offset token", () => {
  it('is base64 of compact JSON, and offset 0 is accepted', () => {
    expect(encodeCompactOffsetToken(3)).toBe(b64('{"offset":3}'));
    expect(decodeCompactOffsetToken(encodeCompactOffsetToken(3))).toBe(3);
    expect(decodeCompactOffsetToken(b64('{"offset":0}'))).toBe(0);
  });
  it('has one message for every defect', () => {
    for (const token of ['not a token', b64('hello'), b64('{"offset":-1}'), b64('{"offset":"3"}')]) {
      expect(message(() => decodeCompactOffsetToken(token))).toBe('Invalid page token, could not base64-decode');
    }
  });
});

describe('keyset tokens', () => {
  const sig = sortSignature(['runs', [['metric', 'acc', false]]]);
  it('round-trip the sort keys of the last row as base64url JSON', () => {
    const token = encodeKeysetToken('runs', sig, [0, 0.5, '9007199254740993', 'abc']);
    expect(JSON.parse(Buffer.from(token, 'base64url').toString('utf8'))).toEqual({ v: 1, q: 'runs', s: sig, k: [0, 0.5, '9007199254740993', 'abc'] });
    expect(decodeKeysetToken(token, 'runs', sig, ['flag', 'num', 'int', 'str'])).toEqual([0, 0.5, '9007199254740993', 'abc']);
  });
  it('are refused by another search, another ordering or other key types', () => {
    const token = encodeKeysetToken('runs', sig, [1, 'x']);
    expect(message(() => decodeKeysetToken(token, 'experiments', sig, ['flag', 'str']))).toBe(
      'Invalid page token: it was issued by another kind of search (runs)',
    );
    expect(message(() => decodeKeysetToken(token, 'runs', 'other', ['flag', 'str']))).toBe('Invalid page token: it was issued for a different order_by');
    expect(message(() => decodeKeysetToken(token, 'runs', sig, ['flag', 'int']))).toBe('Invalid page token: bad sort key #2');
    expect(message(() => decodeKeysetToken('garbage!', 'runs', sig, ['flag']))).toBe('Invalid page token: could not base64-decode');
  });
});
