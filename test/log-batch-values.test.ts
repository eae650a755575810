import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi, rawText } from './helpers/mlflow.ts';
import { parseJson } from '../server/json.ts';
import { rng } from './helpers/rng.ts';

/**
 * Values through log-batch's write paths exactly as sent (issue 11's CPU work builds MySQL's statement text itself:
 * doubles as 17 significant digits, int64s as digits; the body parser's pre-check for long integers): random doubles
 * of every exponent, subnormals, ±DOUBLE_MAX, NaN, ±Infinity, -0, int64 timestamps and steps beyond 2^53, keys and
 * steps repeated within a batch. Each batch goes the three ways a batch can take (metrics alone; the same batch sent
 * again, which MySQL writes the careful way; metrics with a param, in the knex transaction) and is read back from
 * metrics/get-history as raw JSON, so that int64 digits are compared as digits.
 */

const MAX = 1.7976931348623157e308;

/** A double from 64 random bits (every exponent, subnormals included), finite. */
function randomDouble(r: () => number): number {
  const view = new DataView(new ArrayBuffer(8));
  for (;;) {
    view.setUint32(0, Math.floor(r() * 2 ** 32));
    view.setUint32(4, Math.floor(r() * 2 ** 32));
    const v = view.getFloat64(0);
    if (Number.isFinite(v)) return v;
  }
}

interface Point { key: string; value: string; timestamp: string; step: string }

/** The JSON text of a value as a client writes it, and the number it must read back as (MLflow's JSON: NaN, ±Infinity as strings). */
const SPECIAL: [string, number | string][] = [
  ['"NaN"', 'NaN'], ['"Infinity"', 'Infinity'], ['"-Infinity"', '-Infinity'], ['-0', 0], ['0', 0], ['5e-324', 5e-324],
  ['2.2250738585072009e-308', 2.2250738585072009e-308], ['2.2250738585072014e-308', 2.2250738585072014e-308],
  ['4.9406564584124654e-320', 4.9406564584124654e-320], [String(MAX), MAX], [String(-MAX), -MAX], ['1e308', 1e308],
  ['-1e-300', -1e-300], ['0.1', 0.1], [String(1 / 3), 1 / 3], ['9007199254740993', 9007199254740992], ['1.5e300', 1.5e300],
  ['12345678901234567890', 12345678901234567890], ['0.000001', 0.000001], ['1e-7', 1e-7], ['123456789012345680000', 123456789012345680000],
  ['1e17', 1e17], ['99999999999999999', 1e17], ['-2.5', -2.5],
];
const INT64S = ['0', '1', '9007199254740993', '9223372036854775807', '1234567890123456789', '-9223372036854775808', '-9007199254740993', '1733300000000'];
const TIMESTAMPS = INT64S.filter((t) => !t.startsWith('-')); // MLflow refuses a negative timestamp

describe.each(DB_KINDS)('log-batch values read back exactly (%s)', (kind) => {
  let s: TestServer;
  let exp: string;
  const api = mlflowApi(() => s);
  beforeAll(async () => {
    s = await startServer(kind);
    exp = await api.newExperiment('values');
  });
  afterAll(async () => s?.close());

  const post = async (text: string) => {
    const res = await api.postRaw('/runs/log-batch', text);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  };
  const body = (runId: string, points: Point[], extra = '') =>
    `{"run_id":"${runId}",${extra}"metrics":[${points.map((p, i) => `{"key":"${p.key}","value":${p.value},${i % 3 ? '"timestamp":' : '"timestamp":\n\t'}${p.timestamp},"step":${p.step}}`).join(',')}]}`;

  /** Every key's history as [timestamp, step, value] texts, sorted (int64s as their digits, values as numbers' text). */
  async function history(runId: string, keys: string[]) {
    const out: Record<string, string[]> = {};
    for (const key of keys) {
      const res = await api.get('/metrics/get-history', `run_id=${runId}&metric_key=${key}`).buffer(true).parse(rawText as never);
      expect(res.status, res.body as string).toBe(200);
      const metrics = ((parseJson(res.body as string) as any).metrics ?? []) as any[];
      out[key] = metrics.map((m) => `${m.timestamp}|${m.step}|${typeof m.value === 'string' ? m.value : Object.is(m.value, -0) ? 0 : m.value}`).sort();
    }
    return out;
  }

  /** The wire's value of a stored one: ±DOUBLE_MAX (how ±Infinity is stored) answers as ±Infinity, as MLflow's. */
  const wire = (back: number | string) => (back === MAX ? 'Infinity' : back === -MAX ? '-Infinity' : back);

  /** What a history must hold: each distinct point once, values as the wire answers them. */
  function expected(points: (Point & { back: number | string })[]) {
    const out: Record<string, string[]> = {};
    for (const p of points) (out[p.key] ??= []).push(`${p.timestamp}|${p.step}|${wire(p.back)}`);
    for (const k in out) out[k] = [...new Set(out[k])].sort();
    return out;
  }

  function batch(seed: number, n: number) {
    const r = rng(seed);
    const points: (Point & { back: number | string })[] = [];
    for (let i = 0; i < n; i++) {
      const key = `k${i % 7}`;
      const timestamp = TIMESTAMPS[Math.floor(r() * TIMESTAMPS.length)]!;
      const step = r() < 0.3 ? INT64S[Math.floor(r() * INT64S.length)]! : String(Math.floor(i / 7));
      if (r() < 0.15) {
        const [value, back] = SPECIAL[Math.floor(r() * SPECIAL.length)]!;
        points.push({ key, value, timestamp, step, back });
      } else {
        const v = randomDouble(r);
        points.push({ key, value: String(v), timestamp, step, back: Object.is(v, -0) ? 0 : v });
      }
      // a point repeated within the request, and one at the same key and step with another value
      if (i % 50 === 0) points.push({ ...points.at(-1)! });
      if (i % 61 === 0) points.push({ ...points.at(-1)!, value: '42.125', back: 42.125 });
    }
    for (const [value, back] of SPECIAL) points.push({ key: 'special', value, timestamp: '7', step: String(points.length), back });
    return points;
  }

  const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'special'];

  it('metrics alone, the same batch again, and metrics with a param store and answer every value and int64 exactly', async () => {
    const points = batch(kind === 'mysql' ? 3 : 4, 900);
    expect(points.length).toBeLessThanOrEqual(1000);
    const a = (await api.newRun(exp, { start_time: 1 })).info.run_id;
    await post(body(a, points));
    const want = expected(points);
    expect(await history(a, keys)).toEqual(want);
    await post(body(a, points)); // sent again: MySQL's careful way; nothing doubles
    expect(await history(a, keys)).toEqual(want);
    const b = (await api.newRun(exp, { start_time: 1 })).info.run_id;
    await post(body(b, points, '"params":[{"key":"p","value":"1"}],'));
    expect(await history(b, keys)).toEqual(want);
    // the latest value per key as MLflow picks it: the greatest (step, timestamp, value)
    const latest = Object.fromEntries(((await api.getRun(a)).data.metrics as any[]).map((m) => [m.key, m]));
    for (const key of keys) {
      const pts = points.filter((p) => p.key === key).map((p) => ({ step: BigInt(p.step), ts: BigInt(p.timestamp), v: p.back === 'NaN' ? 0 : p.back === 'Infinity' ? MAX : p.back === '-Infinity' ? -MAX : (p.back as number), p }));
      pts.sort((x, y) => (x.step < y.step ? -1 : x.step > y.step ? 1 : x.ts < y.ts ? -1 : x.ts > y.ts ? 1 : x.v - y.v));
      const top = pts.at(-1)!;
      expect(String(latest[key].step), key).toBe(String(Number(top.step)));
      expect(latest[key].value, key).toEqual(top.p.back === 'NaN' ? 'NaN' : wire(top.v));
    }
  });

  it('1000 random doubles in one batch read back as the same doubles', async () => {
    const r = rng(kind === 'mysql' ? 5 : 6);
    const run = (await api.newRun(exp, { start_time: 1 })).info.run_id;
    const points = Array.from({ length: 1000 }, (_, i) => {
      const v = randomDouble(r);
      return { key: `m${i % 10}`, value: String(v), timestamp: '1733300000000', step: String(Math.floor(i / 10)), back: Object.is(v, -0) ? 0 : v };
    });
    await post(body(run, points));
    expect(await history(run, Array.from({ length: 10 }, (_, k) => `m${k}`))).toEqual(expected(points));
  });

  it('a bad item after 999 good ones: MLflow\'s error naming it, and nothing written', async () => {
    const run = (await api.newRun(exp, { start_time: 1 })).info.run_id;
    const good = Array.from({ length: 999 }, (_, i) => ({ key: `m${i % 10}`, value: String(i / 7), timestamp: '1', step: String(i) }));
    for (const [bad, message] of [
      ['{"key":"m","value":1,"timestamp":-1,"step":0}', /metrics\[999\]\.timestamp/],
      ['{"key":"m","value":1,"timestamp":1,"step":9223372036854775808}', /metrics\[999\]\.step/],
      ['{"key":"m","value":"1x","timestamp":1,"step":0}', /metrics\[999\]\.value/],
      ['{"key":"bad*key","value":1,"timestamp":1,"step":0}', /metrics\[999\]\.name/],
      ['{"key":"m","value":null,"timestamp":1,"step":0}', /metrics\[999\]\.value/],
    ] as const) {
      const text = body(run, good).replace(/\]\}$/, `,${bad}]}`);
      const res = await api.postRaw('/runs/log-batch', text);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error_code).toBe('INVALID_PARAMETER_VALUE');
      expect(res.body.message).toMatch(message);
    }
    expect(await s.t.db('metrics').where({ run_id: Number((await s.t.db('runs').where({ run_uuid: run }).first('id')).id) }).count({ n: '*' })).toEqual([{ n: 0 }]);
    expect((await api.getRun(run)).data.metrics ?? []).toEqual([]);
  });
});
