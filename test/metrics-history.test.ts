import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi, rawText } from './helpers/mlflow.ts';
import { parseJson } from '../server/json.ts';

/**
 * metrics/get-history and metrics/get-history-bulk-interval over real HTTP: order, paging with MLflow's offset
 * token through 60,000 points, int64 steps beyond 2^53 kept exact, non-finite values, and the bulk-interval
 * step sampling of MLflow's `get_metric_history_bulk_interval`.
 */

type Project = { id: number; path: string };

const MISSING = (name: string) =>
  `Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`;
const SEE_DOCS = ' See the API docs for more information about request parameters.';
/** 2^53 + 1: the first integer a double cannot hold. */
const BASE = 2n ** 53n + 1n;
const T0 = 1_712_345_678_000;


/** A step as read back by parseJson (number, or a digit string beyond 15 digits) → BigInt. */
const big = (v: unknown) => BigInt(v as string | number);

describe.each(DB_KINDS)('metric history (%s)', (kind) => {
  let s: TestServer;
  let exp: string;
  let seq = 0;

  beforeAll(async () => {
    s = await startServer(kind);
    exp = await api.newExperiment('history');
  });
  afterAll(async () => s?.close());

  const api = mlflowApi(() => s);
  const postRaw = (path: string, text: string, p: Project = s.project) => api.postRaw(path, text, { project: p });
  /** GET with a literal query string (repeated keys as the client sends them); the body parsed int64-exact. */
  async function getRaw(path: string, query: string, opts: { p?: Project; token?: string } = {}) {
    const res = await api.get(path, query, { project: opts.p, token: opts.token }).buffer(true).parse(rawText as never);
    return { status: res.status as number, text: res.body as string, body: parseJson(res.body as string) as any };
  }

  const newRun = async (p: Project = s.project, experimentId = exp): Promise<string> =>
    (await api.newRun(experimentId, { start_time: T0, run_name: `r${++seq}` }, { project: p })).info.run_id;

  /** log-batch in requests of at most 1000 metrics, written as raw JSON (steps as bare digits, NaN as "NaN"). */
  async function logPoints(runId: string, points: { key: string; value: number | string; timestamp: number; step: bigint | number }[]) {
    for (let i = 0; i < points.length; i += 1000) {
      const part = points.slice(i, i + 1000).map(
        (m) => `{"key":${JSON.stringify(m.key)},"value":${typeof m.value === 'string' ? JSON.stringify(m.value) : m.value},"timestamp":${m.timestamp},"step":${m.step}}`,
      );
      const res = await postRaw('/runs/log-batch', `{"run_id":"${runId}","metrics":[${part.join(',')}]}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
  }

  const history = (runId: string, key: string, extra = '') =>
    getRaw('/metrics/get-history', `run_uuid=${runId}&metric_key=${encodeURIComponent(key)}&run_id=${runId}${extra}`);
  const interval = (runIds: string[], key: string, extra = '') =>
    getRaw('/metrics/get-history-bulk-interval', `${runIds.map((r) => `run_ids=${r}`).join('&')}&metric_key=${encodeURIComponent(key)}${extra}`);

  async function expectError(res: { status: number; body: any }, status: number, code: string, message: string | RegExp) {
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(Object.keys(res.body).sort()).toEqual(['error_code', 'message']);
    expect(res.body.error_code).toBe(code);
    if (typeof message === 'string') expect(res.body.message).toBe(message);
    else expect(res.body.message).toMatch(message);
  }

  // -------------------------------------------------------------------------------------------------------------
  describe('metrics/get-history', () => {
    it('returns the whole history ordered by (timestamp, step, value), with non-finite values as strings', async () => {
      const id = await newRun();
      await logPoints(id, [
        { key: 'm', value: 3, timestamp: 20, step: 0 },
        { key: 'm', value: 'Infinity', timestamp: 5, step: 0 },
        { key: 'm', value: 1.5, timestamp: 5, step: 0 },
        { key: 'm', value: 'NaN', timestamp: 5, step: 0 },
        { key: 'm', value: 0, timestamp: 5, step: 0 },
        { key: 'm', value: '-Infinity', timestamp: 5, step: 0 },
        { key: 'm', value: 7, timestamp: 5, step: -2 },
        { key: 'm', value: 2, timestamp: 10, step: 1 },
        { key: 'other', value: 1, timestamp: 1, step: 0 },
      ]);
      const res = await history(id, 'm');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        metrics: [
          { key: 'm', value: 7, timestamp: 5, step: -2 },
          { key: 'm', value: '-Infinity', timestamp: 5, step: 0 },
          { key: 'm', value: 0, timestamp: 5, step: 0 },
          { key: 'm', value: 'NaN', timestamp: 5, step: 0 }, // stored as 0, after the real 0
          { key: 'm', value: 1.5, timestamp: 5, step: 0 },
          { key: 'm', value: 'Infinity', timestamp: 5, step: 0 },
          { key: 'm', value: 2, timestamp: 10, step: 1 },
          { key: 'm', value: 3, timestamp: 20, step: 0 },
        ],
      });
      // max_results 0 (the proto default) also means everything; run_id alone and run_uuid alone both work
      expect((await getRaw('/metrics/get-history', `run_id=${id}&metric_key=m&max_results=0`)).body).toEqual(res.body);
      expect((await getRaw('/metrics/get-history', `run_uuid=${id}&metric_key=m`)).body).toEqual(res.body);
      // a read_api token reads
      expect((await getRaw('/metrics/get-history', `run_id=${id}&metric_key=m`, { token: s.tokens.read })).body).toEqual(res.body);
      // an unknown key of a known run: MLflow's empty answer
      const none = await history(id, 'nope');
      expect(none.status).toBe(200);
      expect(none.text).toBe('{}');
    });

    it('pages with max_results and MLflow\'s offset token; the last page has no token', async () => {
      const id = await newRun();
      await logPoints(id, Array.from({ length: 5 }, (_, i) => ({ key: 'p', value: i, timestamp: 100 + i, step: i })));
      const seen: number[] = [];
      const tokens: string[] = [];
      let token = '';
      for (let page = 0; page < 10; page++) {
        const res = await history(id, 'p', `&max_results=2${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
        expect(res.status, res.text).toBe(200);
        seen.push(...res.body.metrics.map((m: any) => m.value));
        if (!res.body.next_page_token) break;
        token = res.body.next_page_token;
        tokens.push(token);
      }
      expect(seen).toEqual([0, 1, 2, 3, 4]);
      expect(tokens.map((t) => Buffer.from(t, 'base64').toString())).toEqual(['{"offset": 2}', '{"offset": 4}']);
      // a full last page: the limit + 1 probe finds nothing more, so no token
      const exact = await history(id, 'p', '&max_results=5');
      expect(exact.body.metrics).toHaveLength(5);
      expect(exact.body.next_page_token).toBeUndefined();
      // past the end: nothing
      const past = await history(id, 'p', `&max_results=2&page_token=${Buffer.from('{"offset": 9}').toString('base64')}`);
      expect(past.text).toBe('{}');
    });

    it('pages through 60,000 points 25,000 at a time, in order, with exact int64 steps beyond 2^53', async () => {
      const id = await newRun();
      // groups of four points share a timestamp; two steps per group (BASE + 2g and BASE + 2g + 1, which a double
      // cannot tell apart) and distinct values, logged in a scrambled order
      const N = 60_000;
      const values = [3.5, -1.25, 2, 1];
      const point = (i: number) => {
        const g = Math.floor(i / 4);
        const r = i % 4;
        return { key: 'loss', value: values[r]!, timestamp: T0 + g, step: BASE + BigInt(2 * g + (r < 2 ? 1 : 0)) };
      };
      const order = Array.from({ length: N }, (_, i) => i);
      let x = 12345;
      for (let i = N - 1; i > 0; i--) {
        x = (x * 1103515245 + 12345) % 2147483648;
        const j = x % (i + 1);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      await logPoints(id, order.map(point));

      const expected: string[] = [];
      for (let g = 0; g < N / 4; g++) for (const r of [3, 2, 1, 0]) {
        const m = point(g * 4 + r);
        expected.push(`${m.timestamp}/${m.step}/${m.value}`);
      }

      const got: string[] = [];
      const pageSizes: number[] = [];
      const offsets: string[] = [];
      let token: string | undefined;
      do {
        const res = await history(id, 'loss', `&max_results=25000${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
        expect(res.status, res.text.slice(0, 300)).toBe(200);
        pageSizes.push(res.body.metrics.length);
        for (const m of res.body.metrics) {
          expect(m.key).toBe('loss');
          expect(typeof m.step).toBe('string'); // 16 digits: kept as text by the int64-aware parser
          got.push(`${m.timestamp}/${big(m.step)}/${m.value}`);
        }
        token = res.body.next_page_token;
        if (token) offsets.push(Buffer.from(token, 'base64').toString());
      } while (token && pageSizes.length < 10);
      expect(pageSizes).toEqual([25000, 25000, 10000]);
      expect(offsets).toEqual(['{"offset": 25000}', '{"offset": 50000}']);
      expect(got).toEqual(expected);
      // the raw text carries the digits unquoted
      const first = await history(id, 'loss', '&max_results=1');
      expect(first.text).toContain(`"step":${BASE}`);

      // runs/get: the latest point by (step, timestamp, value), exact as well
      const run = await getRaw('/runs/get', `run_uuid=${id}&run_id=${id}`);
      const last = point(N - 4);
      expect(run.body.run.data.metrics).toEqual([{ key: 'loss', value: 3.5, timestamp: last.timestamp, step: String(last.step) }]);
    }, 180_000);

    it('errors: missing fields, unknown and foreign runs, bad tokens and sizes', async () => {
      const id = await newRun();
      await logPoints(id, [{ key: 'm', value: 1, timestamp: 1, step: 0 }]);
      await expectError(await getRaw('/metrics/get-history', 'metric_key=m'), 400, 'INVALID_PARAMETER_VALUE', MISSING('run_id'));
      await expectError(await getRaw('/metrics/get-history', `run_id=&metric_key=m`), 400, 'INVALID_PARAMETER_VALUE', MISSING('run_id'));
      await expectError(await getRaw('/metrics/get-history', `run_id=${id}`), 400, 'INVALID_PARAMETER_VALUE', MISSING('metric_key'));
      await expectError(await getRaw('/metrics/get-history', `run_id=${id}&metric_key=`), 400, 'INVALID_PARAMETER_VALUE', MISSING('metric_key'));
      const unknown = 'a'.repeat(32);
      await expectError(await history(unknown, 'm'), 404, 'RESOURCE_DOES_NOT_EXIST', `Run with id=${unknown} not found`);
      // a run of another project is not found through this one
      await expectError(await getRaw('/metrics/get-history', `run_id=${id}&metric_key=m`, { p: s.another }),
        404, 'RESOURCE_DOES_NOT_EXIST', `Run with id=${id} not found`);
      await expectError(await history(id, 'm', '&page_token=%23%23%23'), 400, 'INVALID_PARAMETER_VALUE', 'Invalid page token, could not base64-decode');
      await expectError(await history(id, 'm', `&page_token=${Buffer.from('hello').toString('base64')}`), 400, 'INVALID_PARAMETER_VALUE', /^Invalid page token, decoded value=hello/);
      await expectError(await history(id, 'm', `&page_token=${Buffer.from('{"offset": 0}').toString('base64')}`), 400, 'INVALID_PARAMETER_VALUE', /^Invalid page token, parsed value=/);
      await expectError(await history(id, 'm', '&max_results=-1'), 400, 'INVALID_PARAMETER_VALUE', /^Invalid value -1 for parameter 'max_results' supplied/);
      await expectError(await history(id, 'm', '&max_results=abc'), 400, 'INVALID_PARAMETER_VALUE', /^Invalid value "abc" for parameter 'max_results' supplied/);
      await expectError(await history(id, 'm', '&max_results=3000000000'), 400, 'INVALID_PARAMETER_VALUE', /for parameter 'max_results' supplied/);
      await expectError(await getRaw('/metrics/get-history', `run_id=${id}&metric_key=m`, { token: s.tokens.stranger }), 404, 'RESOURCE_DOES_NOT_EXIST', /not found/i);
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('metrics/get-history-bulk-interval', () => {
    const steps = (res: { body: any }, runId?: string) =>
      (res.body.metrics ?? []).filter((m: any) => !runId || m.run_id === runId).map((m: any) => Number(m.step));
    const range = (from: number, to: number, by = 1) => Array.from({ length: Math.floor((to - from) / by) + 1 }, (_, i) => from + i * by);

    let a: string; // steps 0..9999
    let b: string; // steps 0..999
    let c: string; // steps 500..1499
    beforeAll(async () => {
      a = await newRun();
      b = await newRun();
      c = await newRun();
      await logPoints(a, range(0, 9999).map((st) => ({ key: 'acc', value: st / 1000, timestamp: T0 + st, step: st })));
      await logPoints(b, range(0, 999).map((st) => ({ key: 'acc', value: st, timestamp: T0 + st, step: st })));
      await logPoints(c, range(500, 1499).map((st) => ({ key: 'acc', value: -st, timestamp: T0 + st, step: st })));
    }, 120_000);

    it('few steps: every point, as MetricWithRunId, runs in the order asked', async () => {
      const d = await newRun();
      await logPoints(d, [
        { key: 'k', value: 1, timestamp: 10, step: 1 },
        { key: 'k', value: 2, timestamp: 5, step: 1 },
        { key: 'k', value: 'NaN', timestamp: 20, step: 0 },
      ]);
      const e = await newRun();
      await logPoints(e, [{ key: 'k', value: 4, timestamp: 1, step: 2 }]);
      const res = await interval([e, d], 'k');
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({
        metrics: [
          { key: 'k', value: 4, timestamp: 1, step: 2, run_id: e },
          { key: 'k', value: 'NaN', timestamp: 20, step: 0, run_id: d },
          { key: 'k', value: 2, timestamp: 5, step: 1, run_id: d },
          { key: 'k', value: 1, timestamp: 10, step: 1, run_id: d },
        ],
      });
      expect((await interval([d], 'missing')).text).toBe('{}');
    });

    it('many steps: max_results evenly spaced steps plus the last one', async () => {
      const res = await interval([a], 'acc', '&max_results=100');
      expect(res.status, res.text).toBe(200);
      expect(steps(res)).toEqual([...range(0, 9900, 100), 9999]);
      expect(res.body.metrics[1]).toEqual({ key: 'acc', value: 0.1, timestamp: T0 + 100, step: 100, run_id: a });
      // default max_results 2500: interval 4
      const dflt = await interval([a], 'acc');
      expect(steps(dflt)).toEqual([...range(0, 9996, 4), 9999]);
    });

    it('several runs: sampled over the union of their steps, plus each run\'s own first and last step', async () => {
      const res = await interval([c, b], 'acc', '&max_results=10');
      expect(res.status, res.text).toBe(200);
      // union 0..1499: 0,150,…,1350 and 1499; plus the runs' bounds 0, 999, 500, 1499
      expect(steps(res, c)).toEqual([500, 600, 750, 900, 999, 1050, 1200, 1350, 1499]);
      expect(steps(res, b)).toEqual([0, 150, 300, 450, 500, 600, 750, 900, 999]);
      // c's points first, as asked
      expect(res.body.metrics.map((m: any) => m.run_id)).toEqual([...Array(9).fill(c), ...Array(9).fill(b)]);
      expect(res.body.metrics[0]).toEqual({ key: 'acc', value: -500, timestamp: T0 + 500, step: 500, run_id: c });
    });

    it('start_step and end_step bound the sample and the runs\' bounds', async () => {
      expect(steps(await interval([b], 'acc', '&start_step=100&end_step=200'))).toEqual(range(100, 200));
      expect(steps(await interval([b], 'acc', '&start_step=100&end_step=200&max_results=10'))).toEqual([...range(100, 190, 10), 200]);
      expect(steps(await interval([b, c], 'acc', '&start_step=990&end_step=1000'))).toEqual([...range(990, 999), ...range(990, 1000)]);
      expect((await interval([b], 'acc', '&start_step=5000&end_step=6000')).text).toBe('{}');
    });

    it('without a range, steps start at 0 (MLflow\'s default), so negative steps need an explicit range', async () => {
      const n = await newRun();
      await logPoints(n, range(-3, 3).map((st) => ({ key: 'neg', value: st, timestamp: 1, step: st })));
      expect(steps(await interval([n], 'neg'))).toEqual([0, 1, 2, 3]);
      expect(steps(await interval([n], 'neg', '&start_step=-3&end_step=3'))).toEqual(range(-3, 3));
    });

    it('int64 steps beyond 2^53 come back exact', async () => {
      const g = await newRun();
      await logPoints(g, [0n, 1n, 2n].map((d) => ({ key: 'big', value: Number(d), timestamp: 1, step: BASE + d })));
      const res = await interval([g], 'big');
      expect(res.body.metrics.map((m: any) => big(m.step))).toEqual([BASE, BASE + 1n, BASE + 2n]);
      const ranged = await interval([g], 'big', `&start_step=${BASE + 1n}&end_step=${BASE + 1n}`);
      expect(ranged.body.metrics.map((m: any) => big(m.step))).toEqual([BASE + 1n]);
    });

    it('errors', async () => {
      await expectError(await getRaw('/metrics/get-history-bulk-interval', 'metric_key=acc'), 400, 'INVALID_PARAMETER_VALUE', MISSING('run_ids'));
      const many = Array.from({ length: 101 }, (_, i) => i.toString(16).padStart(32, '0'));
      await expectError(await interval(many, 'acc'), 400, 'INVALID_PARAMETER_VALUE',
        `GetMetricHistoryBulkInterval request must specify at most 100 run_ids. Received 101 run_ids.${SEE_DOCS}`);
      await expectError(await getRaw('/metrics/get-history-bulk-interval', `run_ids=${a}`), 400, 'INVALID_PARAMETER_VALUE', MISSING('metric_key'));
      for (const n of ['0', '2501', '-1']) {
        await expectError(await interval([a], 'acc', `&max_results=${n}`), 400, 'INVALID_PARAMETER_VALUE', `max_results must be between 1 and 2500.${SEE_DOCS}`);
      }
      await expectError(await interval([a], 'acc', '&start_step=1'), 400, 'INVALID_PARAMETER_VALUE', 'If either start step or end step are specified, both must be specified.');
      await expectError(await interval([a], 'acc', '&end_step=1'), 400, 'INVALID_PARAMETER_VALUE', 'If either start step or end step are specified, both must be specified.');
      await expectError(await interval([a], 'acc', '&start_step=5&end_step=3'), 400, 'INVALID_PARAMETER_VALUE',
        'end_step must be greater than start_step. Found start_step=5 and end_step=3.');
      await expectError(await interval([a], 'acc', '&start_step=x&end_step=3'), 400, 'INVALID_PARAMETER_VALUE', /for parameter 'start_step' supplied/);
      const unknown = 'b'.repeat(32);
      await expectError(await interval([a, unknown], 'acc'), 404, 'RESOURCE_DOES_NOT_EXIST', `Run with id=${unknown} not found`);
      await expectError(await getRaw('/metrics/get-history-bulk-interval', `run_ids=${a}&metric_key=acc`, { p: s.another }),
        404, 'RESOURCE_DOES_NOT_EXIST', `Run with id=${a} not found`);
    });
  });
});
