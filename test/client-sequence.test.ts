import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { rawText } from './helpers/mlflow.ts';
import { parseJson } from '../server/json.ts';

/**
 * The exact HTTP traffic of a typical script on a 3.x Python client (reference §7), replayed byte for byte as the
 * client sends it: GET query strings carrying run_uuid AND run_id, JSON bodies written by Python's json.dumps
 * (", " and ": " separators, int64 as bare numbers, 1.0 as a float, NaN as the string "NaN"), the client's headers.
 * Each answer is compared whole where the reference shows it.
 *
 *   mlflow.set_experiment('e')
 *   with mlflow.start_run():
 *       mlflow.log_param('a', 1)
 *       mlflow.log_metric('m', 0.5, step=1)
 *       mlflow.log_metric('nan_m', float('nan'))      # extra: NaN on the wire
 *       mlflow.log_metrics({'x': 1.0, 'y': 2.0})
 *       mlflow.set_tag('k', 'v')
 *   mlflow.search_runs(experiment_names=['e'])
 *   MlflowClient().get_metric_history(run_id, 'm')
 */

const START = 1712345678901;
const T_M = 1712345679000;
const T_NAN = 1712345679100;
const T_XY = 1712345679200;
const END = 1712345680123;

/** Python's json.dumps(obj) (as requests writes `json=` bodies): ", " and ": " separators. */
function pyDumps(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(pyDumps).join(', ') + ']';
  if (v !== null && typeof v === 'object' && !(v instanceof PyFloat)) {
    return '{' + Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${pyDumps(x)}`).join(', ') + '}';
  }
  if (v instanceof PyFloat) return v.text;
  return JSON.stringify(v);
}
/** A Python float written with its ".0" (1.0), which JSON.stringify would drop. */
class PyFloat {
  constructor(readonly text: string) {}
}

describe.each(DB_KINDS)('MLflow 3.x client request sequence (%s)', (kind) => {
  let s: TestServer;
  let p: { id: number; path: string };
  const sent: string[] = [];

  beforeAll(async () => {
    s = await startServer(kind);
    p = await s.developerProject('client/sequence');
  });
  afterAll(async () => s?.close());

  const headers = (r: any) =>
    r
      .set('Authorization', `Bearer ${s.tokens.write}`)
      .set('User-Agent', 'mlflow-python-client/3.1.4')
      .set('Accept', '*/*')
      .set('Accept-Encoding', 'gzip, deflate');


  async function call(method: 'GET' | 'POST', path: string, payload?: unknown): Promise<{ status: number; body: any; text: string }> {
    const url = s.mlflow(p) + path;
    sent.push(`${method} ${path.split('?')[0]}`);
    let req = method === 'GET' ? s.request.get(url) : s.request.post(url).set('Content-Type', 'application/json');
    req = headers(req);
    if (method === 'POST') req = req.send(pyDumps(payload));
    const res = await req.buffer(true).parse(rawText as never);
    expect(res.headers['content-type'], path).toMatch(/^application\/json/);
    return { status: res.status, text: res.body, body: parseJson(res.body) };
  }

  let runId = '';
  let runName = '';
  let experiment: any;
  const tagsAtCreate = [
    { key: 'mlflow.user', value: 'alice' },
    { key: 'mlflow.source.name', value: 'train.py' },
    { key: 'mlflow.source.type', value: 'LOCAL' },
    { key: 'mlflow.source.git.commit', value: '4f1e2d3c4b5a69788796a5b4c3d2e1f001234567' },
  ];
  const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

  function expectedRun(stage: 'created' | 'params' | 'metric' | 'metrics' | 'tag' | 'ended') {
    const order = ['created', 'params', 'metric', 'metrics', 'tag', 'ended'];
    const at = (s2: string) => order.indexOf(stage) >= order.indexOf(s2);
    const info: Record<string, unknown> = {
      run_uuid: runId,
      experiment_id: '1',
      run_name: runName,
      user_id: 'alice',
      status: at('ended') ? 'FINISHED' : 'RUNNING',
      start_time: START,
      artifact_uri: `mlflow-artifacts:/1/${runId}/artifacts`,
      lifecycle_stage: 'active',
      run_id: runId,
    };
    if (at('ended')) info.end_time = END;
    const data: Record<string, unknown> = {};
    const metrics = [];
    if (at('metric')) metrics.push({ key: 'm', value: 0.5, timestamp: T_M, step: 1 }, { key: 'nan_m', value: 'NaN', timestamp: T_NAN, step: 0 });
    if (at('metrics')) metrics.push({ key: 'x', value: 1, timestamp: T_XY, step: 0 }, { key: 'y', value: 2, timestamp: T_XY, step: 0 });
    if (metrics.length) data.metrics = metrics;
    if (at('params')) data.params = [{ key: 'a', value: '1' }];
    const tags = [...tagsAtCreate, { key: 'mlflow.runName', value: runName }];
    if (at('tag')) tags.push({ key: 'k', value: 'v' });
    data.tags = tags.sort(byKey);
    return { info, data, inputs: {}, outputs: {} };
  }

  async function getRunTwiceAsTheClientDoes(stage: Parameters<typeof expectedRun>[0], times: number) {
    for (let i = 0; i < times; i++) {
      const res = await call('GET', `/runs/get?run_uuid=${runId}&run_id=${runId}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ run: expectedRun(stage) });
    }
  }

  it('mlflow.set_experiment("e"): get-by-name (404) → create → get', async () => {
    const miss = await call('GET', '/experiments/get-by-name?experiment_name=e');
    expect(miss.status).toBe(404);
    expect(miss.body).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: "Could not find experiment with name 'e'" });

    const created = await call('POST', '/experiments/create', { name: 'e' });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({ experiment_id: '1' });

    const got = await call('GET', '/experiments/get?experiment_id=1');
    expect(got.status).toBe(200);
    experiment = got.body.experiment;
    expect(got.body).toEqual({
      experiment: {
        experiment_id: '1',
        name: 'e',
        artifact_location: 'mlflow-artifacts:/1',
        lifecycle_stage: 'active',
        last_update_time: experiment.last_update_time,
        creation_time: experiment.creation_time,
      },
    });
    expect(Number.isInteger(experiment.creation_time)).toBe(true);
  });

  it('mlflow.start_run(): runs/create with the default tags', async () => {
    const res = await call('POST', '/runs/create', { experiment_id: '1', user_id: 'alice', start_time: START, tags: tagsAtCreate });
    expect(res.status).toBe(200);
    runId = res.body.run.info.run_id;
    runName = res.body.run.info.run_name;
    expect(runId).toMatch(/^[0-9a-f]{32}$/);
    expect(runName).toMatch(/^[a-z]+-[a-z]+-\d{1,3}$/);
    expect(res.body).toEqual({ run: expectedRun('created') });
  });

  it('log_param, log_metric (twice runs/get first), log_metrics, set_tag', async () => {
    const param = await call('POST', '/runs/log-parameter', { run_uuid: runId, key: 'a', value: '1', run_id: runId });
    expect(param.status).toBe(200);
    expect(param.text).toBe('{}');

    await getRunTwiceAsTheClientDoes('params', 2);
    const metric = await call('POST', '/runs/log-metric', { run_uuid: runId, key: 'm', value: 0.5, timestamp: T_M, step: 1, run_id: runId });
    expect(metric.status).toBe(200);
    expect(metric.text).toBe('{}');

    await call('GET', `/runs/get?run_uuid=${runId}&run_id=${runId}`);
    await call('GET', `/runs/get?run_uuid=${runId}&run_id=${runId}`);
    const nan = await call('POST', '/runs/log-metric', { run_uuid: runId, key: 'nan_m', value: 'NaN', timestamp: T_NAN, step: 0, run_id: runId });
    expect(nan.status).toBe(200);
    expect(nan.text).toBe('{}');

    await getRunTwiceAsTheClientDoes('metric', 2);
    const batch = await call('POST', '/runs/log-batch', {
      run_id: runId,
      metrics: [
        { key: 'x', value: new PyFloat('1.0'), timestamp: T_XY, step: 0, run_id: runId },
        { key: 'y', value: new PyFloat('2.0'), timestamp: T_XY, step: 0, run_id: runId },
      ],
    });
    expect(batch.status).toBe(200);
    expect(batch.text).toBe('{}');

    const tag = await call('POST', '/runs/set-tag', { run_uuid: runId, key: 'k', value: 'v', run_id: runId });
    expect(tag.status).toBe(200);
    expect(tag.text).toBe('{}');
  });

  it('end_run: runs/get (the "View run" URL), then runs/update FINISHED', async () => {
    await getRunTwiceAsTheClientDoes('tag', 1);
    const res = await call('POST', '/runs/update', { run_uuid: runId, status: 'FINISHED', end_time: END, run_id: runId });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ run_info: expectedRun('ended').info });
  });

  it('mlflow.search_runs(experiment_names=["e"]): get-by-name, runs/search', async ({ skip }) => {
    const exp = await call('GET', '/experiments/get-by-name?experiment_name=e');
    expect(exp.status).toBe(200);
    expect(exp.body).toEqual({ experiment });
    const res = await call('POST', '/runs/search', { experiment_ids: ['1'], filter: '', run_view_type: 'ACTIVE_ONLY', max_results: 10000 });
    if (res.status === 404 && res.body.error_code === 'ENDPOINT_NOT_FOUND') skip('runs/search is not served yet');
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ runs: [expectedRun('ended')] });
  });

  it('MlflowClient().get_metric_history(run_id, "m")', async () => {
    const res = await call('GET', `/metrics/get-history?run_uuid=${runId}&metric_key=m&run_id=${runId}&max_results=25000`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ metrics: [{ key: 'm', value: 0.5, timestamp: T_M, step: 1 }] });
    const nan = await call('GET', `/metrics/get-history?run_uuid=${runId}&metric_key=nan_m&run_id=${runId}&max_results=25000`);
    expect(nan.text).toBe(`{"metrics":[{"key":"nan_m","value":"NaN","timestamp":${T_NAN},"step":0}]}`);
  });

  it('the whole exchange, in order, and the run as it ends up', async () => {
    expect(sent).toEqual([
      'GET /experiments/get-by-name',
      'POST /experiments/create',
      'GET /experiments/get',
      'POST /runs/create',
      'POST /runs/log-parameter',
      'GET /runs/get',
      'GET /runs/get',
      'POST /runs/log-metric',
      'GET /runs/get',
      'GET /runs/get',
      'POST /runs/log-metric',
      'GET /runs/get',
      'GET /runs/get',
      'POST /runs/log-batch',
      'POST /runs/set-tag',
      'GET /runs/get',
      'POST /runs/update',
      'GET /experiments/get-by-name',
      'POST /runs/search',
      'GET /metrics/get-history',
      'GET /metrics/get-history',
    ]);
    const res = await call('GET', `/runs/get?run_uuid=${runId}&run_id=${runId}`);
    expect(res.body).toEqual({ run: expectedRun('ended') });
    // int64 on the wire as bare numbers, non-finite values as strings
    expect(res.text).toContain(`"start_time":${START}`);
    expect(res.text).toContain(`"end_time":${END}`);
    expect(res.text).toContain('"value":"NaN"');
  });
});
