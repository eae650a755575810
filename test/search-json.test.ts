import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DB_KINDS, statements } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi, rawText } from './helpers/mlflow.ts';
import { loadRuns } from '../db/run-view.ts';
import { parseJson, stringifyJson } from '../server/json.ts';
import { runOut } from '../routers/schemas.ts';

/**
 * runs/search's REST answer is written as JSON text straight from the rows (db/run-json.ts; SQLite writes each run's
 * metrics, params and tags arrays itself) instead of from Run objects: it must be the same JSON value as the object
 * path (loadRuns, as runs/get and the tRPC procedure answer) for every kind of value: NaN and ±Infinity metrics,
 * doubles that are hard to print, int64 steps and timestamps beyond 2^53, strings that need escaping, keys whose
 * order differs between UTF-8 bytes and UTF-16 code units, runs without metrics/params/tags/end time, dataset inputs
 * with and without tags, schema and profile. Also its shapes: no runs, a token, pages over several slices.
 */

const BIG = '9007199254740993'; // 2^53 + 1: a double would round it
// U+FF66 sorts before U+1D400 by code point (SQLite's BINARY order of UTF-8) and after it by UTF-16 code unit (JS)
const HALFWIDTH = 'k\uFF66';
const ASTRAL = 'k\u{1D400}';

describe.each(DB_KINDS)('runs/search JSON answer (%s)', (kind) => {
  let s: TestServer;
  const api = mlflowApi(() => s);
  let exp: string;
  let empty: string;

  const ok = async (path: string, body: unknown) => {
    const res = await api.post(path, body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  };
  /** runs/search as text, parsed keeping int64 digits (16+ digit integers become strings). */
  const search = async (body: Record<string, unknown>) => {
    const res = await api.post('/runs/search', body).buffer(true).parse(rawText as never);
    expect(res.status, res.text).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    return { text: res.body as string, json: parseJson(res.body as string) as { runs?: any[]; next_page_token?: string } };
  };
  /** The same runs through the object path (loadRuns), as stringifyJson writes them, parsed the same way. */
  const objectPath = async (runIds: string[]) => {
    const rows = await s.t.db('runs').whereIn('run_uuid', runIds).select('id', 'run_uuid');
    const byUuid = new Map(rows.map((r: { id: number; run_uuid: string }) => [r.run_uuid, Number(r.id)]));
    const runs = await loadRuns(s.t.db, runIds.map((u) => byUuid.get(u)!));
    return (parseJson(stringifyJson({ runs })) as { runs: any[] }).runs;
  };

  beforeAll(async () => {
    s = await startServer(kind);
    exp = await api.newExperiment('json-answer');
    empty = await api.newExperiment('json-empty');
    // every kind of metric value, params and tags that need escaping, keys in both sort orders
    const a = await api.newRun(exp, { run_name: 'a "quoted" \\ run', start_time: 1000 });
    const metric = (key: string, value: string, step = '0', ts = '5') => `{"key":${JSON.stringify(key)},"value":${value},"timestamp":${ts},"step":${step}}`;
    const res = await api.postRaw(
      '/runs/log-batch',
      `{"run_id":"${a.info.run_id}","metrics":[${[
        metric('nan', '"NaN"'),
        metric('pinf', '"Infinity"'),
        metric('ninf', '"-Infinity"'),
        metric('tenth', '0.1'),
        metric('third', String(1 / 3)),
        metric('tiny', '5e-324'),
        metric('huge', '1.7976931348623157e308'),
        metric('negzero', '-0.0'),
        metric('int', '42'),
        metric('big', '2.5', BIG, BIG),
        metric(HALFWIDTH, '1'),
        metric(ASTRAL, '2'),
      ].join(',')}],` +
        `"params":[{"key":"esc","value":"line\\nbreak \\"q\\" back\\\\slash \\u0001 tab\\t"},{"key":"uni","value":"日本語 😀 é"},` +
        `{"key":${JSON.stringify(ASTRAL)},"value":"astral"},{"key":${JSON.stringify(HALFWIDTH)},"value":"halfwidth"},{"key":"empty","value":""}],` +
        `"tags":[{"key":"z.tag","value":"last"},{"key":"a.tag","value":"first"},{"key":${JSON.stringify(ASTRAL)},"value":"x"},{"key":${JSON.stringify(HALFWIDTH)},"value":"y"}]}`,
    );
    expect(res.status, res.text).toBe(200);
    await ok('/runs/update', { run_id: a.info.run_id, status: 'FINISHED', end_time: 2000 });
    // a bare run: no metrics, params or tags beyond runs/create's, no end time
    await api.newRun(exp, { start_time: 2000 });
    // dataset inputs: with and without tags, schema and profile
    const c = await api.newRun(exp, { run_name: 'inputs', start_time: 3000, tags: [{ key: 't', value: 'v' }] });
    await ok('/runs/log-inputs', {
      run_id: c.info.run_id,
      datasets: [
        { tags: [{ key: 'mlflow.data.context', value: 'training' }, { key: 'b', value: '2' }], dataset: { name: 'd1', digest: 'x1', source_type: 'local', source: '{"uri": "/a"}', schema: '{"s": 1}', profile: '{"p": 2}' } },
        { dataset: { name: 'd2', digest: 'x2', source_type: 'local', source: '{"uri": "/b"}' } },
      ],
    });
    await ok('/runs/log-metric', { run_id: c.info.run_id, key: 'acc', value: 0.5, timestamp: 1, step: 1 });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('is the object path’s JSON value, run by run, and passes the output schema', async () => {
    const { json } = await search({ experiment_ids: [exp], order_by: ['attributes.start_time ASC'] });
    expect(json.next_page_token).toBeUndefined();
    const runs = json.runs!;
    expect(runs.map((r) => r.info.run_name)).toEqual(['a "quoted" \\ run', expect.any(String), 'inputs']);
    expect(runs).toEqual(await objectPath(runs.map((r) => r.info.run_id)));
    // the schema the object path is checked against (but for the run with int64 values beyond 2^53, which
    // JSON.parse rounds)
    const lossy = (await api.post('/runs/search', { experiment_ids: [exp], filter: 'attributes.start_time > 1000' })).body;
    expect(lossy.runs).toHaveLength(2);
    expect(() => z.array(runOut).parse(lossy.runs)).not.toThrow();
  });

  it('writes each kind of value as MLflow does', async () => {
    const { json, text } = await search({ experiment_ids: [exp], filter: 'attributes.start_time = 1000' });
    expect(json.runs).toHaveLength(1);
    const a = json.runs![0];
    const m = Object.fromEntries(a.data.metrics.map((x: any) => [x.key, x]));
    expect(m.nan.value).toBe('NaN');
    expect(m.pinf.value).toBe('Infinity');
    expect(m.ninf.value).toBe('-Infinity');
    expect(m.tenth.value).toBe(0.1);
    expect(m.third.value).toBe(1 / 3);
    expect(m.tiny.value).toBe(5e-324);
    expect(m.huge.value).toBe('Infinity'); // ±DOUBLE_MAX is how ±Infinity is stored (MLflow's rule)
    expect(Object.is(m.negzero.value, 0) || Object.is(m.negzero.value, -0)).toBe(true);
    expect(m.int.value).toBe(42);
    expect(m.big).toEqual({ key: 'big', value: 2.5, timestamp: BIG, step: BIG });
    expect(text).toContain(`"timestamp":${BIG},"step":${BIG}`); // digits, not a string or a rounded double
    // keys in UTF-16 code-unit order (as loadRuns sorts them), whatever order the database compares in
    const keys = a.data.metrics.map((x: any) => x.key);
    expect(keys).toEqual([...keys].sort());
    expect(keys.indexOf(ASTRAL)).toBeLessThan(keys.indexOf(HALFWIDTH));
    expect(a.data.params).toEqual([
      { key: 'empty', value: '' },
      { key: 'esc', value: 'line\nbreak "q" back\\slash \u0001 tab\t' },
      { key: ASTRAL, value: 'astral' },
      { key: HALFWIDTH, value: 'halfwidth' },
      { key: 'uni', value: '日本語 😀 é' },
    ].sort((x, y) => (x.key < y.key ? -1 : 1)));
    expect(a.data.tags.map((t: any) => t.key).filter((k: string) => !k.startsWith('mlflow.'))).toEqual(['a.tag', ASTRAL, HALFWIDTH, 'z.tag'].sort());
    expect(a.info.end_time).toBe(2000);
    expect(a.inputs).toEqual({});
    expect(a.outputs).toEqual({});
  });

  it('writes a run without data, and dataset inputs', async () => {
    const { json } = await search({ experiment_ids: [exp], order_by: ['attributes.start_time ASC'] });
    const bare = json.runs![1];
    expect(bare.info.end_time).toBeUndefined();
    expect(bare.info.status).toBe('RUNNING');
    expect(bare.data.metrics).toBeUndefined();
    expect(bare.data.params).toBeUndefined();
    const c = json.runs![2];
    expect(c.inputs.dataset_inputs).toEqual([
      {
        tags: [{ key: 'b', value: '2' }, { key: 'mlflow.data.context', value: 'training' }],
        dataset: { name: 'd1', digest: 'x1', source_type: 'local', source: '{"uri": "/a"}', schema: '{"s": 1}', profile: '{"p": 2}' },
      },
      { dataset: { name: 'd2', digest: 'x2', source_type: 'local', source: '{"uri": "/b"}' } },
    ]);
    expect(c.data.metrics).toEqual([{ key: 'acc', value: 0.5, timestamp: 1, step: 1 }]);
  });

  it('answers {} for no runs, and a token only when more runs exist', async () => {
    expect((await search({ experiment_ids: [empty] })).text).toBe('{}');
    expect((await search({ experiment_ids: ['424242'] })).text).toBe('{}');
    const p1 = await search({ experiment_ids: [exp], order_by: ['attributes.start_time DESC'], max_results: 2 });
    expect(p1.json.runs).toHaveLength(2);
    expect(p1.json.next_page_token).toEqual(expect.any(String));
    const p2 = await search({ experiment_ids: [exp], order_by: ['attributes.start_time DESC'], max_results: 2, page_token: p1.json.next_page_token });
    expect(p2.json.runs!.map((r) => r.info.run_name)).toEqual(['a "quoted" \\ run']);
    expect(p2.json.next_page_token).toBeUndefined();
  });

  it('reads a page with a fixed number of statements, however many runs it holds', async () => {
    // the runs without keys that SQLite and JS order differently (those are read again as rows, see db/run-json.ts)
    const count = async (max: number) =>
      (await statements(s.t.db, () => search({ experiment_ids: [exp], filter: 'attributes.start_time > 1000', max_results: max }))).length;
    expect(await count(1)).toBe(await count(2));
    const all = await statements(s.t.db, () => search({ experiment_ids: [exp], filter: 'attributes.start_time > 1000' }));
    expect(all.filter((q) => /latest_metrics/.test(q) && !/EXISTS/.test(q))).toHaveLength(1); // the page's metrics: one read
  });
});
