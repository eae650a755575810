import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi, rawText } from './helpers/mlflow.ts';
import { getMetricHistory, STREAM_PAGE } from '../db/metrics.ts';
import { stringifyJson } from '../server/json.ts';

/**
 * metrics/get-history over REST is written page by page from the database (routers/metrics.ts historyJson): its
 * bytes must be exactly what the whole answer serializes to (the tRPC path still builds it whole), across many pages,
 * with duplicate timestamps and steps at page edges, NaN/±Infinity, int64 steps beyond 2^53, and every
 * max_results/page_token combination the client uses.
 */

const T0 = 1_712_345_678_000;


describe.each(DB_KINDS)('streamed metric history (%s)', (kind) => {
  let s: TestServer;
  let exp: string;
  let runId: string;
  let internalId: number;
  const N = STREAM_PAGE * 4 + 1234;
  const api = mlflowApi(() => s);

  beforeAll(async () => {
    s = await startServer(kind);
    exp = await api.newExperiment('stream');
    runId = (await api.newRun(exp, { start_time: T0 })).info.run_id;
    internalId = Number((await s.t.db('runs').where({ run_uuid: runId }).first('id')).id);
    // timestamps repeat across hundreds of points, steps repeat with different values, a few non-finite values,
    // and the last 50 steps beyond 2^53 (written as bare digits)
    for (let i = 0; i < N; i += 1000) {
      const part: string[] = [];
      for (let j = i; j < Math.min(N, i + 1000); j++) {
        const value = j % 997 === 0 ? '"NaN"' : j % 991 === 0 ? '"Infinity"' : j % 983 === 0 ? '"-Infinity"' : String((j % 13) * 0.25 - 1);
        const step = j >= N - 50 ? (2n ** 53n + BigInt(j)).toString() : String(Math.floor(j / 3));
        part.push(`{"key":"loss/train","value":${value},"timestamp":${T0 + Math.floor(j / 700)},"step":${step}}`);
      }
      const res = await api.postRaw('/runs/log-batch', `{"run_id":"${runId}","metrics":[${part.join(',')}]}`);
      expect(res.status, res.text).toBe(200);
    }
  }, 120_000);
  afterAll(async () => s?.close());

  const get = async (query: string) => {
    const res = await api.get('/metrics/get-history', `run_id=${runId}&metric_key=loss%2Ftrain${query}`).buffer(true).parse(rawText as never);
    expect(res.status).toBe(200);
    return res.body as string;
  };
  /** The answer built whole, as the non-streamed path does, serialized as the REST facade serializes answers. */
  const whole = async (offset: number, maxResults?: number, token?: string) => {
    const page = await getMetricHistory(s.t.db, s.project.id, runId, 'loss/train', { offset, maxResults });
    const out: Record<string, unknown> = {};
    if (page.metrics.length) out.metrics = page.metrics;
    if (page.more) out.next_page_token = token;
    return stringifyJson(out);
  };

  it(`the whole history (${N} points, ${Math.ceil(N / STREAM_PAGE)} pages) is byte for byte the built answer`, async () => {
    const text = await get('');
    expect(text.length).toBeGreaterThan(N * 50);
    expect(text).toBe(await whole(0));
    expect(text).toContain('"value":"NaN"');
    expect(text).toContain(`"step":${2n ** 53n + BigInt(N - 1)}}]}`);
  });

  it('pages of max_results with the offset token, up to the end, equal the built pages', async () => {
    let token = '';
    let seen = 0;
    for (let i = 0; i < 10; i++) {
      const text = await get(`&max_results=${STREAM_PAGE + 7}${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
      const next = /"next_page_token":"([^"]+)"/.exec(text)?.[1];
      const offset = seen;
      expect(text).toBe(await whole(offset, STREAM_PAGE + 7, next));
      seen += STREAM_PAGE + 7;
      if (!next) break;
      token = next;
    }
    expect(seen).toBeGreaterThanOrEqual(N);
    // exactly one page's worth left: no token; max_results=1 at the very end; an offset past the end: {}
    expect(await get(`&max_results=${N}`)).toBe(await whole(0, N));
    expect(await get(`&max_results=${N - 1}`)).toBe(await whole(0, N - 1, /"next_page_token":"([^"]+)"/.exec(await get(`&max_results=${N - 1}`))![1]));
    expect(await get('&max_results=0')).toBe(await whole(0));
    // max_results a whole number of pages: the probe row past them decides the token
    const two = await get(`&max_results=${2 * STREAM_PAGE}`);
    expect(two).toBe(await whole(0, 2 * STREAM_PAGE, /"next_page_token":"([^"]+)"/.exec(two)?.[1]));
    expect(two).toContain('"next_page_token"');
  });

  it('hands over every double exactly (mysql2 reads ~1% of doubles sent as text as a neighbour)', async () => {
    const values = [97.05207546642247, 98551.03856598347, 9119786819503.273, 0.27890624999999997, 4.9273689123705576e-5, -1.7976931348623155e308, 5e-324];
    const metrics = values.map((value, i) => ({ key: 'exact', value, timestamp: T0 + i, step: i }));
    const res = await api.post('/runs/log-batch', { run_id: runId, metrics });
    expect(res.status, res.text).toBe(200);
    const rest = await api.get('/metrics/get-history', `run_id=${runId}&metric_key=exact`);
    expect(rest.body.metrics.map((m: { value: number }) => m.value)).toEqual(values);
    const built = await getMetricHistory(s.t.db, s.project.id, runId, 'exact', { offset: 0 });
    expect(built.metrics.map((m) => m.value)).toEqual(values);
  });

  it('an empty history is {} and an unknown run is 404', async () => {
    const res = await api.get('/metrics/get-history', `run_id=${runId}&metric_key=nothing`);
    expect([res.status, res.text]).toEqual([200, '{}']);
    const missing = await api.get('/metrics/get-history', 'run_id=0123456789abcdef0123456789abcdef&metric_key=m');
    expect(missing.status).toBe(404);
    expect(missing.body.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    expect(internalId).toBeGreaterThan(0);
  });
});
