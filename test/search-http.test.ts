import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi } from './helpers/mlflow.ts';
import { createMltrackClient } from '../client/index.ts';

/**
 * runs/search and experiments/search over real HTTP on every database: the filter grammar (each entity kind and
 * comparator, quoting), MLflow's ordering (NaN / missing metrics, ties), keyset paging (page sizes, stability while
 * runs arrive, bad tokens), max_results, view types, project isolation, 400s for bad filters, the exact requests of
 * the MLflow Python client and the typed tRPC client. Fixtures come from the API (experiments/create, runs/create,
 * runs/log-batch, runs/update, runs/log-inputs, runs/delete); only the bulk fixtures (33 000 runs, 1 005
 * experiments, used to reach the 1000 / 10 000 / 32 766 limits) are inserted straight into the database.
 */

type Project = { id: number; path: string };
type Json = Record<string, any>;

/** One run of the main fixture. Metrics are [key, value, step] in logging order; the last step wins. */
interface RunSpec {
  name: string;
  exp: 'E1' | 'E2';
  start: number;
  end?: number;
  status: 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED';
  user: string;
  metrics?: [string, number | string, number][];
  params?: Record<string, string>;
  tags?: Record<string, string>;
  inputs?: { name: string; digest: string; context?: string }[];
  deleted?: boolean;
}

/**
 * Latest metric values: alpha-1 acc .9 loss .5 "my metric" 1; alpha-2 acc .7 loss NaN "my metric" 2;
 * Beta-1 acc .9 loss .2 (after .9); beta_2 loss +Inf; gamma acc -Inf. Beta-1 and beta_2 share start_time 3000.
 */
const RUNS: RunSpec[] = [
  {
    name: 'alpha-1', exp: 'E1', start: 1000, end: 2000, status: 'FINISHED', user: 'alice',
    metrics: [['acc', 0.3, 0], ['acc', 0.9, 2], ['loss', 0.5, 0], ['my metric', 1, 0]],
    params: { lr: '0.01', 'a-b': 'x', model: 'cnn', quote: "it's" },
    tags: { team: 'red', 'my.tag': 'v1', 'key with space': 'yes' },
    inputs: [{ name: 'mnist', digest: 'd1', context: 'training' }, { name: 'mnist-test', digest: 'd2', context: 'eval' }],
  },
  {
    name: 'alpha-2', exp: 'E1', start: 2000, end: 2500, status: 'FAILED', user: 'bob',
    metrics: [['acc', 0.7, 0], ['loss', 'NaN', 0], ['my metric', 2, 0]],
    params: { lr: '0.1', model: 'CNN-large' },
    tags: { team: 'Red' },
    inputs: [{ name: 'mnist', digest: 'd1', context: 'eval' }],
  },
  {
    name: 'Beta-1', exp: 'E1', start: 3000, status: 'RUNNING', user: 'alice',
    metrics: [['acc', 0.9, 0], ['loss', 0.9, 0], ['loss', 0.2, 1]],
    params: { lr: '0.001', model: 'rnn' },
    tags: { team: 'blue' },
    inputs: [{ name: 'cifar', digest: 'd3' }],
  },
  {
    name: 'beta_2', exp: 'E1', start: 3000, end: 4000, status: 'KILLED', user: 'carol',
    metrics: [['loss', 'Infinity', 0]],
    params: { model: 'transformer', 'a-b': 'y' },
    tags: { 'my.tag': 'v2' },
  },
  {
    name: 'gamma', exp: 'E2', start: 500, status: 'RUNNING', user: 'bob',
    metrics: [['acc', '-Infinity', 0]],
    params: { lr: '0.01' },
    tags: { team: 'red' },
    inputs: [{ name: 'mnist', digest: 'd1', context: 'training' }],
  },
  {
    // matches many filters, but is deleted: never in an ACTIVE_ONLY answer
    name: 'alpha-deleted', exp: 'E1', start: 4000, end: 5000, status: 'FINISHED', user: 'alice',
    metrics: [['acc', 0.9, 0], ['loss', 0.1, 0], ['my metric', 1, 0]],
    params: { lr: '0.01', model: 'cnn', 'a-b': 'x' },
    tags: { team: 'red', 'my.tag': 'v1' },
    inputs: [{ name: 'mnist', digest: 'd1', context: 'training' }],
    deleted: true,
  },
];
const ACTIVE = RUNS.filter((r) => !r.deleted).map((r) => r.name);
const E1_ACTIVE = RUNS.filter((r) => !r.deleted && r.exp === 'E1').map((r) => r.name);

/** [filter, expected run names]; `{name}` stands for that run's id. Searched over E1 and E2, ACTIVE_ONLY. */
const FILTER_CASES: [string, string[]][] = [
  // metrics: latest value, NaN and missing never match
  ['metrics.acc = 0.9', ['alpha-1', 'Beta-1']],
  ['metrics.acc = 9e-1', ['alpha-1', 'Beta-1']],
  ['metric.acc = .9', ['alpha-1', 'Beta-1']],
  ['metrics.acc != 0.9', ['alpha-2', 'gamma']],
  ['metrics.acc > 0.7', ['alpha-1', 'Beta-1']],
  ['metrics.acc >= 0.7', ['alpha-1', 'alpha-2', 'Beta-1']],
  ['metrics.acc < 0.9', ['alpha-2', 'gamma']],
  ['metrics.acc <= 0.7', ['alpha-2', 'gamma']],
  ['metrics.acc > -1', ['alpha-1', 'alpha-2', 'Beta-1']],
  ['metrics.acc < -1e300', ['gamma']],
  ['metrics.acc > 0.3 AND metrics.acc < 0.8', ['alpha-2']],
  ['metrics.loss < 0.3', ['Beta-1']],
  ['metrics.loss > 0.8', ['beta_2']],
  ['metrics.loss > 1e300', ['beta_2']],
  ['metrics.loss != 0.5', ['Beta-1', 'beta_2']],
  ['metrics.loss = 0', []],
  ['metrics.loss >= -1e308', ['alpha-1', 'Beta-1', 'beta_2']],
  ['metrics.nope > 0', []],
  ['metrics.nope != 0', []],
  // params
  ["params.lr = '0.01'", ['alpha-1', 'gamma']],
  ['params.lr = "0.1"', ['alpha-2']],
  ["param.lr != '0.01'", ['alpha-2', 'Beta-1']],
  ["parameter.model LIKE 'cnn%'", ['alpha-1']],
  ["parameters.model ILIKE 'cnn%'", ['alpha-1', 'alpha-2']],
  ["params.model LIKE '%n'", ['alpha-1', 'Beta-1']],
  ["params.model LIKE '_nn'", ['alpha-1', 'Beta-1']],
  ["params.model LIKE '%'", ['alpha-1', 'alpha-2', 'Beta-1', 'beta_2']],
  ["params.model ILIKE '%LARGE'", ['alpha-2']],
  ['params.quote = "it\'s"', ['alpha-1']],
  ["params.nope != 'x'", []],
  // tags
  ["tags.team = 'red'", ['alpha-1', 'gamma']],
  ["tags.team != 'red'", ['alpha-2', 'Beta-1']],
  ["tags.team LIKE 'r%'", ['alpha-1', 'gamma']],
  ["tags.team ILIKE 'red'", ['alpha-1', 'alpha-2', 'gamma']],
  ["tag.team = 'blue'", ['Beta-1']],
  ["tags.mlflow.runName = 'gamma'", ['gamma']],
  ["tags.mlflow.runName LIKE 'alpha%'", ['alpha-1', 'alpha-2']],
  // attributes
  ["attributes.run_name = 'alpha-1'", ['alpha-1']],
  ["run_name != 'gamma'", E1_ACTIVE],
  ["attributes.run_name LIKE 'alpha%'", ['alpha-1', 'alpha-2']],
  ["attributes.run_name LIKE 'beta%'", ['beta_2']],
  ["attributes.run_name ILIKE 'beta%'", ['Beta-1', 'beta_2']],
  ["attributes.run_name LIKE 'beta\\_%'", ['beta_2']],
  ["attributes.run_name LIKE 'alpha_1'", ['alpha-1']],
  ["attr.status = 'FINISHED'", ['alpha-1']],
  ["attributes.status != 'RUNNING'", ['alpha-1', 'alpha-2', 'beta_2']],
  ["attributes.status LIKE 'F%'", ['alpha-1', 'alpha-2']],
  ["attributes.status ILIKE 'running'", ['Beta-1', 'gamma']],
  ['attributes.start_time = 3000', ['Beta-1', 'beta_2']],
  ['attributes.start_time != 3000', ['alpha-1', 'alpha-2', 'gamma']],
  ['attributes.start_time > 1000', ['alpha-2', 'Beta-1', 'beta_2']],
  ['attributes.start_time >= 1000', ['alpha-1', 'alpha-2', 'Beta-1', 'beta_2']],
  ['attributes.start_time < 1000', ['gamma']],
  ['start_time <= 1000', ['alpha-1', 'gamma']],
  ['attributes.created > 2500', ['Beta-1', 'beta_2']],
  ['run.end_time > 0', ['alpha-1', 'alpha-2', 'beta_2']],
  ['attributes.end_time = 2500', ['alpha-2']],
  ['attributes.end_time != 2000', ['alpha-2', 'beta_2']],
  ['attributes.end_time < 2500', ['alpha-1']],
  ['attributes.end_time <= 2500', ['alpha-1', 'alpha-2']],
  ['attributes.end_time >= 4000', ['beta_2']],
  ["attributes.run_id = '{alpha-1}'", ['alpha-1']],
  ["attributes.run_id != '{alpha-1}'", ['alpha-2', 'Beta-1', 'beta_2', 'gamma']],
  ["attributes.run_id IN ('{alpha-1}', '{gamma}')", ['alpha-1', 'gamma']],
  ["attributes.run_id IN ('{alpha-1}', \"{alpha-deleted}\", 'ffffffffffffffffffffffffffffffff')", ['alpha-1']],
  ["attributes.run_id NOT IN ('{alpha-1}', '{gamma}')", ['alpha-2', 'Beta-1', 'beta_2']],
  ["run_id not in ('{Beta-1}')", ['alpha-1', 'alpha-2', 'beta_2', 'gamma']],
  ["attributes.run_id LIKE '{gamma}'", ['gamma']],
  ["attributes.user_id = 'alice'", ['alpha-1', 'Beta-1']],
  ["attributes.user_id != 'alice'", ['alpha-2', 'beta_2', 'gamma']],
  ["attributes.user_id LIKE 'b%'", ['alpha-2', 'gamma']],
  ["attributes.user_id ILIKE 'ALICE'", ['alpha-1', 'Beta-1']],
  ["attributes.artifact_uri LIKE 's3://bucket/main/%'", E1_ACTIVE],
  ["attributes.artifact_uri = 's3://bucket/other/{gamma}/artifacts'", ['gamma']],
  ["attributes.artifact_uri != 's3://bucket/other/{gamma}/artifacts'", E1_ACTIVE],
  ["attributes.artifact_uri ILIKE 'S3://BUCKET/OTHER/%'", ['gamma']],
  // datasets: a run matches when any of its dataset inputs matches
  ["datasets.name = 'mnist'", ['alpha-1', 'alpha-2', 'gamma']],
  ["dataset.name != 'mnist'", ['alpha-1', 'Beta-1']],
  ["datasets.name LIKE 'mnist%'", ['alpha-1', 'alpha-2', 'gamma']],
  ["datasets.name ILIKE 'CIFAR'", ['Beta-1']],
  ["datasets.name IN ('cifar', 'mnist-test')", ['alpha-1', 'Beta-1']],
  ["datasets.name NOT IN ('mnist')", ['alpha-1', 'Beta-1']],
  ["datasets.digest = 'd1'", ['alpha-1', 'alpha-2', 'gamma']],
  ["datasets.digest IN ('d2', 'd3')", ['alpha-1', 'Beta-1']],
  ["datasets.context = 'training'", ['alpha-1', 'gamma']],
  ["datasets.context = 'eval'", ['alpha-1', 'alpha-2']],
  ["datasets.context != 'training'", ['alpha-1', 'alpha-2']],
  ["datasets.context ILIKE 'TRAIN%'", ['alpha-1', 'gamma']],
  ["datasets.context IN ('eval')", ['alpha-1', 'alpha-2']],
  ["datasets.context NOT IN ('eval')", ['alpha-1', 'gamma']],
  // quoting: keys with spaces, dots and dashes; backticked entity
  ['metrics."my metric" = 1', ['alpha-1']],
  ['metrics.`my metric` >= 2', ['alpha-2']],
  ["params.`a-b` = 'x'", ['alpha-1']],
  ['params."a-b" != \'x\'', ['beta_2']],
  ["tags.`my.tag` = 'v1'", ['alpha-1']],
  ["tags.\"my.tag\" LIKE 'v%'", ['alpha-1', 'beta_2']],
  ["tags.`key with space` = 'yes'", ['alpha-1']],
  ['`metrics`.acc = 0.7', ['alpha-2']],
  ["`attributes`.`run_name` = 'gamma'", ['gamma']],
  ["attributes.`run name` = 'gamma'", ['gamma']],
  ["attributes.\"Run Name\" = 'gamma'", ['gamma']],
  // keywords in any case, conjunctions
  ["params.model like 'cnn%' and tags.team = 'red'", ['alpha-1']],
  ["metrics.acc > 0.5 AND params.lr = '0.01'", ['alpha-1']],
  ["tags.team ILIKE 'red' AND attributes.status = 'FAILED' AND metrics.\"my metric\" >= 2", ['alpha-2']],
  ["datasets.name = 'mnist' AND datasets.context = 'eval' AND attributes.user_id = 'alice'", ['alpha-1']],
  ["metrics.acc >= 0.9 AND attributes.start_time = 3000 AND tags.mlflow.runName ILIKE 'b%'", ['Beta-1']],
  // no spaces around comparators, odd number forms, other whitespace
  ['metrics.acc>=0.9', ['alpha-1', 'Beta-1']],
  ["params.lr='0.01'", ['alpha-1', 'gamma']],
  ['metrics.acc > -.5', ['alpha-1', 'alpha-2', 'Beta-1']],
  ['metrics.acc < 1.', ['alpha-1', 'alpha-2', 'Beta-1', 'gamma']],
  ["metrics.acc > 0.5\n\tAND\tparams.lr = '0.01'", ['alpha-1']],
  ['  ', ACTIVE],
  ['', ACTIVE],
];

/** [order_by, expected names] over E1 and E2: ties by start_time DESC, then run_id ASC (`*` = resolved at run time). */
const ORDER_CASES: [string[], string[]][] = [
  // with a value first (ASC/DESC), then NaN, then missing
  [['metrics.acc ASC'], ['gamma', 'alpha-2', 'Beta-1', 'alpha-1', 'beta_2']],
  [['metrics.acc'], ['gamma', 'alpha-2', 'Beta-1', 'alpha-1', 'beta_2']],
  [['metrics.acc DESC'], ['Beta-1', 'alpha-1', 'alpha-2', 'gamma', 'beta_2']],
  [['metrics.loss ASC'], ['Beta-1', 'alpha-1', 'beta_2', 'alpha-2', 'gamma']],
  [['metrics.loss desc'], ['beta_2', 'alpha-1', 'Beta-1', 'alpha-2', 'gamma']],
  [['metrics.`my metric` DESC'], ['alpha-2', 'alpha-1', '*Beta-1|beta_2', '*Beta-1|beta_2', 'gamma']],
  [['params.lr ASC'], ['Beta-1', 'alpha-1', 'gamma', 'alpha-2', 'beta_2']],
  [['params.lr DESC'], ['alpha-2', 'alpha-1', 'gamma', 'Beta-1', 'beta_2']],
  [['params."a-b" DESC'], ['beta_2', 'alpha-1', 'Beta-1', 'alpha-2', 'gamma']],
  [['tags.team ASC'], ['alpha-2', 'Beta-1', 'alpha-1', 'gamma', 'beta_2']],
  [['tags.team DESC'], ['alpha-1', 'gamma', 'Beta-1', 'alpha-2', 'beta_2']],
  [['tags.mlflow.runName DESC'], ['gamma', 'beta_2', 'alpha-2', 'alpha-1', 'Beta-1']],
  [['attributes.start_time ASC'], ['gamma', 'alpha-1', 'alpha-2', '*Beta-1|beta_2', '*Beta-1|beta_2']],
  [['start_time DESC'], ['*Beta-1|beta_2', '*Beta-1|beta_2', 'alpha-2', 'alpha-1', 'gamma']],
  [['created'], ['gamma', 'alpha-1', 'alpha-2', '*Beta-1|beta_2', '*Beta-1|beta_2']],
  [['attributes.end_time ASC'], ['alpha-1', 'alpha-2', 'beta_2', 'Beta-1', 'gamma']],
  [['attributes.end_time DESC'], ['beta_2', 'alpha-2', 'alpha-1', 'Beta-1', 'gamma']],
  [['attributes.run_name ASC'], ['Beta-1', 'alpha-1', 'alpha-2', 'beta_2', 'gamma']],
  [['run_name DESC'], ['gamma', 'beta_2', 'alpha-2', 'alpha-1', 'Beta-1']],
  [['attributes.status ASC'], ['alpha-2', 'alpha-1', 'beta_2', 'Beta-1', 'gamma']],
  [['attributes.user_id DESC'], ['beta_2', 'alpha-2', 'gamma', 'Beta-1', 'alpha-1']],
  [['attributes.artifact_uri DESC'], ['gamma', '*E1', '*E1', '*E1', '*E1']],
  [['attributes.status DESC', 'metrics.acc ASC'], ['gamma', 'Beta-1', 'beta_2', 'alpha-1', 'alpha-2']],
  [['tags.team ASC', 'attributes.start_time ASC'], ['alpha-2', 'Beta-1', 'gamma', 'alpha-1', 'beta_2']],
  [['metrics.acc DESC', 'params.model ASC'], ['alpha-1', 'Beta-1', 'alpha-2', 'gamma', 'beta_2']],
];

/** Invalid filters: [filter, what the message must contain]. */
const BAD_FILTERS: [string, RegExp][] = [
  ["metrics.acc > 0.5 OR params.lr = '0.01'", /Invalid clause\(s\) in filter string: 'OR params\.lr = '0\.01''/],
  ['(metrics.acc > 0.5)', /Invalid clause\(s\) in filter string: '\(metrics\.acc > 0\.5\)'/],
  ["metrics.acc > 0.5 AND (params.lr = '0.01')", /Invalid clause\(s\).*\(params\.lr/],
  ['NOT metrics.acc > 0.5', /Invalid clause\(s\)/],
  ['foo.acc = 1', /Invalid entity type 'foo'/],
  ["attributes.nope = 'x'", /Invalid attribute key 'nope'/],
  ["metrics.acc LIKE '0.5'", /Invalid comparator 'LIKE' for metric/],
  ["params.lr > '0.1'", /Invalid comparator '>' for param/],
  ["tags.team IN ('red')", /Invalid comparator 'IN' for tag/],
  ["attributes.start_time LIKE '1'", /Invalid comparator 'LIKE' for numeric attribute 'start_time'/],
  ["attributes.status > 'A'", /Invalid comparator '>' for string attribute 'status'/],
  ['params.lr = 0.1', /Expected a quoted string value for param/],
  ['params.lr = abc', /not quoted.*string value abc/],
  ["metrics.acc = 'x'", /Expected numeric value type for metric/],
  ["attributes.end_time = '1'", /Expected numeric value type for numeric attribute: end_time/],
  ["attributes.status IN ('RUNNING')", /Only the 'run_id' attribute supports comparison with a list/],
  ['attributes.run_id IN ()', /empty list/],
  ["attributes.run_id = ('a', 'b')", /list value needs the IN or NOT IN comparator/],
  ["attributes.run_id IN 'a'", /Expected a list of quoted string values for run_id/],
  ['metrics.acc > 0.5 garbage', /Invalid clause\(s\) in filter string: 'garbage'/],
  ["params.lr = '0.01' extra = 1", /Invalid clause\(s\) in filter string: 'extra = 1'/],
  ['metrics.acc > 0.5 AND', /Invalid clause\(s\)/],
  ['metrics.acc >> 1', /Invalid comparator '>>'/],
  ['metrics.acc', /Invalid clause\(s\)/],
  ["params.lr = 'unterminated", /unterminated ' quote/],
  ['metrics.acc > 0.5; DROP TABLE runs', /multiple expression/],
  ["\"metrics\".acc = 1", /Entity types may be quoted with backticks only/],
  ["datasets.nope = 'x'", /Invalid dataset key 'nope'/],
];

describe.each(DB_KINDS)('search over HTTP (%s)', (kind) => {
  let s: TestServer;
  let devId: number;
  const exp: Record<'E1' | 'E2' | 'E3' | 'E4', string> = { E1: '', E2: '', E3: '', E4: '' };
  /** run name → run id */
  const ids = new Map<string, string>();
  /** run id → run name (all runs created here, any project) */
  const names = new Map<string, string>();

  const api = mlflowApi(() => s);
  const post = (path: string, body: unknown, p: Project = s.project, token = s.tokens.write) => api.post(path, body, { project: p, token });

  async function ok(path: string, body: unknown, p: Project = s.project): Promise<Json> {
    const res = await post(path, body, p);
    expect(res.status, `${path} ${JSON.stringify(body)} → ${JSON.stringify(res.body)}`).toBe(200);
    return res.body;
  }

  async function bad(path: string, body: unknown, message: RegExp, p: Project = s.project): Promise<Json> {
    const res = await post(path, body, p);
    expect(res.status, `${path} ${JSON.stringify(body)} → ${JSON.stringify(res.body)}`).toBe(400);
    expect(Object.keys(res.body).sort()).toEqual(['error_code', 'message']);
    expect(res.body.error_code).toBe('INVALID_PARAMETER_VALUE');
    expect(res.body.message).toMatch(message);
    return res.body;
  }

  const runs = (body: Json): Json[] => body.runs ?? [];
  const runNames = (body: Json): string[] => runs(body).map((r) => names.get(r.info.run_id) ?? `?${r.info.run_name}`);
  const searchRuns = (body: Json, p: Project = s.project) => ok('/runs/search', body, p);
  const mainSearch = (body: Json) => searchRuns({ experiment_ids: [exp.E1, exp.E2], ...body });

  /** Replaces `{run name}` by that run's id. */
  const withIds = (text: string) => text.replace(/\{([^}]+)\}/g, (_, n: string) => ids.get(n) ?? `<unknown ${n}>`);

  const spec = (name: string) => RUNS.find((r) => r.name === name)!;
  /** MLflow's default order of fixture runs: start_time DESC, run_id ASC. */
  const defaultOrder = (list: string[]) =>
    [...list].sort((a, b) => spec(b).start - spec(a).start || cmp(ids.get(a)!, ids.get(b)!));
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

  async function newExperiment(name: string, p: Project = s.project, extra: Json = {}): Promise<string> {
    return (await ok('/experiments/create', { name, ...extra }, p)).experiment_id;
  }

  async function newRun(experimentId: string, name: string, start: number, p: Project = s.project, extra: Json = {}): Promise<string> {
    const body = await ok('/runs/create', { experiment_id: experimentId, run_name: name, start_time: start, ...extra }, p);
    const id = body.run.info.run_id as string;
    ids.set(name, id);
    names.set(id, name);
    return id;
  }

  async function createFixtureRun(r: RunSpec): Promise<void> {
    const id = await newRun(exp[r.exp], r.name, r.start, s.project, { user_id: r.user });
    await ok('/runs/log-batch', {
      run_id: id,
      metrics: (r.metrics ?? []).map(([key, value, step]) => ({ key, value, step, timestamp: 1 })),
      params: Object.entries(r.params ?? {}).map(([key, value]) => ({ key, value })),
      tags: Object.entries(r.tags ?? {}).map(([key, value]) => ({ key, value })),
    });
    if (r.inputs) {
      await ok('/runs/log-inputs', {
        run_id: id,
        datasets: r.inputs.map((d) => ({
          tags: d.context ? [{ key: 'mlflow.data.context', value: d.context }] : [],
          dataset: { name: d.name, digest: d.digest, source_type: 'local', source: `{"uri": "/data/${d.name}"}` },
        })),
      });
    }
    if (r.status !== 'RUNNING' || r.end !== undefined) {
      await ok('/runs/update', { run_id: id, status: r.status, ...(r.end !== undefined ? { end_time: r.end } : {}) });
    }
    if (r.deleted) await ok('/runs/delete', { run_id: id });
  }

  /** A project of its own (with the developer as a member), for searches that need a known set of experiments. */
  const ownProject = (path: string): Promise<Project> => s.developerProject(path);

  beforeAll(async () => {
    s = await startServer(kind);
    devId = (await s.t.db('users').where({ username: 'developer' }).first('id')).id;
    exp.E1 = await newExperiment('search-main', s.project, { artifact_location: 's3://bucket/main' });
    exp.E2 = await newExperiment('search-other', s.project, { artifact_location: 's3://bucket/other' });
    exp.E3 = await newExperiment('search-lifecycle');
    exp.E4 = await newExperiment('search-stable');
    for (const r of RUNS) await createFixtureRun(r);
  });
  afterAll(async () => s?.close());

  it('the fixture is what the tables assume', async () => {
    const all = await searchRuns({ experiment_ids: [exp.E1, exp.E2], run_view_type: 'ALL' });
    expect(runs(all)).toHaveLength(RUNS.length);
    const byName = new Map(runs(all).map((r) => [names.get(r.info.run_id)!, r]));
    expect(byName.get('Beta-1')!.data.metrics).toEqual([
      { key: 'acc', value: 0.9, timestamp: 1, step: 0 },
      { key: 'loss', value: 0.2, timestamp: 1, step: 1 },
    ]);
    expect(byName.get('alpha-2')!.data.metrics).toContainEqual({ key: 'loss', value: 'NaN', timestamp: 1, step: 0 });
    expect(byName.get('beta_2')!.data.metrics).toEqual([{ key: 'loss', value: 'Infinity', timestamp: 1, step: 0 }]);
    expect(byName.get('gamma')!.info).toMatchObject({
      run_name: 'gamma', user_id: 'bob', status: 'RUNNING', start_time: 500, lifecycle_stage: 'active',
      artifact_uri: `s3://bucket/other/${ids.get('gamma')}/artifacts`, experiment_id: exp.E2,
    });
    expect(byName.get('gamma')!.info.end_time).toBeUndefined();
    expect(byName.get('alpha-deleted')!.info.lifecycle_stage).toBe('deleted');
  });

  it('returns runs exactly as runs/get does', async () => {
    const body = await mainSearch({});
    expect(Object.keys(body)).toEqual(['runs']);
    for (const run of runs(body)) {
      const got = await s.request
        .get(s.mlflow() + '/runs/get')
        .set('Authorization', `Bearer ${s.tokens.write}`)
        .query({ run_id: run.info.run_id });
      expect(got.status).toBe(200);
      expect(run).toEqual(got.body.run);
    }
  });

  describe('filters', () => {
    it.each(FILTER_CASES)('%s', async (filter, expected) => {
      const body = await mainSearch({ filter: withIds(filter) });
      expect(runNames(body)).toEqual(defaultOrder(expected));
      if (expected.length === 0) expect(body).toEqual({});
      expect(body.next_page_token).toBeUndefined();
    });

    it('every filter case also holds with order_by and small pages', async () => {
      for (const [filter, expected] of FILTER_CASES.filter(([, e]) => e.length > 1).slice(0, 12)) {
        const got: string[] = [];
        let token: string | undefined;
        do {
          const body = await mainSearch({ filter: withIds(filter), order_by: ['attributes.run_name DESC'], max_results: 1, page_token: token });
          got.push(...runNames(body));
          token = body.next_page_token;
        } while (token);
        expect(got, filter).toEqual([...expected].sort((a, b) => cmp(b, a)));
      }
    });

    it.each(BAD_FILTERS)('rejects %s', async (filter, message) => {
      await bad('/runs/search', { experiment_ids: [exp.E1], filter }, message);
    });

    it('rejects a bad filter even when no experiment id is known (MLflow parses first)', async () => {
      await bad('/runs/search', { experiment_ids: ['424242'], filter: 'metrics.acc > 1 OR metrics.acc < 0' }, /Invalid clause\(s\)/);
      await bad('/runs/search', { experiment_ids: [], filter: 'nope.x = 1' }, /Invalid entity type 'nope'/);
      await bad('/runs/search', { experiment_ids: ['424242'], order_by: ['metrics.a', 'metrics.a DESC'] }, /duplicate fields/);
      await bad('/runs/search', { experiment_ids: ['424242'], page_token: 'garbage!' }, /Invalid page token/);
    });

    it('binds odd values safely', async () => {
      for (const v of ["x' OR '1'='1", '%', '\\', "'; DROP TABLE runs; --", 'ünïcödé ✓', '😀']) {
        const quoted = v.includes('"') ? `'${v}'` : `"${v}"`;
        const body = await mainSearch({ filter: `params.model = ${quoted}` });
        expect(body).toEqual({});
      }
      expect(runNames(await mainSearch({ filter: "tags.team LIKE '%%'" }))).toEqual(defaultOrder(['alpha-1', 'alpha-2', 'Beta-1', 'gamma']));
      // still there
      expect(runNames(await mainSearch({}))).toHaveLength(5);
    });
  });

  describe('order_by', () => {
    /** Resolves '*Beta-1|beta_2' (a start_time tie → run_id ASC) and '*E1' (artifact_uri ties are unique by run id). */
    function resolve(expected: string[], orderBy: string[]): string[] {
      const out = [...expected];
      const tie = ['Beta-1', 'beta_2'].sort((a, b) => cmp(ids.get(a)!, ids.get(b)!));
      let t = 0;
      for (let i = 0; i < out.length; i++) if (out[i] === '*Beta-1|beta_2') out[i] = tie[t++]!;
      if (out.includes('*E1')) {
        // artifact_uri = s3://bucket/main/<run id>/artifacts: ordered by run id
        const e1 = E1_ACTIVE.slice().sort((a, b) => cmp(ids.get(a)!, ids.get(b)!));
        if (orderBy[0]!.endsWith('DESC')) e1.reverse();
        let k = 0;
        for (let i = 0; i < out.length; i++) if (out[i] === '*E1') out[i] = e1[k++]!;
      }
      return out;
    }

    it.each(ORDER_CASES)('%j', async (orderBy, expected) => {
      const want = resolve(expected, orderBy);
      expect(runNames(await mainSearch({ order_by: orderBy }))).toEqual(want);
      // the same order page by page, for every page size
      for (const size of [1, 2, 3, 4]) {
        const got: string[] = [];
        let token: string | undefined;
        let pages = 0;
        do {
          const body = await mainSearch({ order_by: orderBy, max_results: size, page_token: token });
          got.push(...runNames(body));
          token = body.next_page_token;
          pages++;
        } while (token && pages < 20);
        expect(got, `max_results ${size}`).toEqual(want);
        expect(pages).toBe(Math.ceil(want.length / size));
      }
    });

    it('run_id ASC / DESC is the id order; later keys change nothing', async () => {
      const byId = [...ACTIVE].sort((a, b) => cmp(ids.get(a)!, ids.get(b)!));
      expect(runNames(await mainSearch({ order_by: ['attributes.run_id ASC'] }))).toEqual(byId);
      expect(runNames(await mainSearch({ order_by: ['run_id DESC', 'metrics.acc DESC'] }))).toEqual([...byId].reverse());
    });

    it('default order: start_time DESC, run_id ASC; [] and "" ⇒ default', async () => {
      expect(runNames(await mainSearch({}))).toEqual(defaultOrder(ACTIVE));
      expect(runNames(await mainSearch({ order_by: [] }))).toEqual(defaultOrder(ACTIVE));
    });

    it('ties over a page boundary are not lost or repeated', async () => {
      // five runs with equal metric and start_time: only run_id separates them
      const e = await newExperiment('search-ties');
      const tied: string[] = [];
      for (let i = 0; i < 5; i++) {
        const id = await newRun(e, `tie-${i}`, 7000);
        tied.push(id);
        await ok('/runs/log-batch', { run_id: id, metrics: [{ key: 'm', value: 1, timestamp: 1, step: 0 }] });
      }
      const want = [...tied].sort();
      for (const orderBy of [['metrics.m DESC'], ['metrics.m ASC'], ['attributes.start_time ASC'], []]) {
        for (const size of [1, 2, 3]) {
          const got: string[] = [];
          let token: string | undefined;
          do {
            const body = await searchRuns({ experiment_ids: [e], order_by: orderBy, max_results: size, page_token: token });
            got.push(...runs(body).map((r) => r.info.run_id));
            token = body.next_page_token;
          } while (token);
          expect(got).toEqual(want);
        }
      }
    });

    it.each<[string[], RegExp]>([
      [['metrics.acc', 'metrics.acc DESC'], /`order_by` contains duplicate fields: \['metrics\.acc', 'metrics\.acc DESC'\]/],
      [['start_time', 'created DESC'], /duplicate fields/],
      [['params.lr', 'param.lr'], /duplicate fields/],
      [['metrics.acc sideways'], /Invalid ordering key in order_by clause 'metrics\.acc sideways'/],
      [['metrics.acc DESC extra'], /Invalid order_by clause 'metrics\.acc DESC extra'/],
      [['foo.bar'], /Invalid entity type 'foo'/],
      [['datasets.name'], /Invalid order_by entity type 'dataset'/],
      [['attributes.nope'], /Invalid attribute key 'nope'/],
      [[''], /Invalid order_by clause ''/],
    ])('rejects order_by %j', async (orderBy, message) => {
      await bad('/runs/search', { experiment_ids: [exp.E1], order_by: orderBy }, message);
    });
  });

  describe('paging', () => {
    const orders: [string[]][] = [[[]], [['metrics.loss DESC']], [['params.model ASC', 'attributes.start_time ASC']], [['tags.team DESC']]];
    it.each(orders)('every page concatenated == one large page (order_by %j)', async (orderBy) => {
      const all = await mainSearch({ order_by: orderBy, run_view_type: 'ALL', max_results: 50000 });
      expect(all.next_page_token).toBeUndefined();
      const want = runs(all).map((r) => r.info.run_id);
      expect(want).toHaveLength(RUNS.length);
      for (const size of [1, 2, 4, 5, 6, 7]) {
        const got: Json[] = [];
        let token: string | undefined;
        for (;;) {
          const body = await mainSearch({ order_by: orderBy, run_view_type: 'ALL', max_results: size, page_token: token });
          expect(runs(body).length).toBeLessThanOrEqual(size);
          got.push(...runs(body));
          token = body.next_page_token;
          if (!token) break;
          expect(typeof token).toBe('string');
          expect(runs(body)).toHaveLength(size);
        }
        expect(got.map((r) => r.info.run_id), `max_results ${size}`).toEqual(want);
        // whole runs on every page, equal to the big page's
        expect(got).toEqual(runs(all));
      }
    });

    it('next_page_token is absent at the end, also when the last page is exactly full', async () => {
      const p1 = await mainSearch({ max_results: 3 });
      expect(runs(p1)).toHaveLength(3);
      expect(p1.next_page_token).toEqual(expect.any(String));
      const p2 = await mainSearch({ max_results: 2, page_token: p1.next_page_token });
      expect(runs(p2)).toHaveLength(2);
      expect(p2).not.toHaveProperty('next_page_token');
      const exact = await mainSearch({ max_results: 5 });
      expect(Object.keys(exact)).toEqual(['runs']);
      // an empty page_token is no token
      expect(runNames(await mainSearch({ max_results: 5, page_token: '' }))).toEqual(defaultOrder(ACTIVE));
    });

    it('a token may be used with another page size, but not with another order_by or another kind of search', async () => {
      const p1 = await mainSearch({ max_results: 1, order_by: ['metrics.acc DESC'] });
      const rest = await mainSearch({ max_results: 10, order_by: ['metrics.acc DESC'], page_token: p1.next_page_token });
      expect([...runNames(p1), ...runNames(rest)]).toEqual(['Beta-1', 'alpha-1', 'alpha-2', 'gamma', 'beta_2']);
      await bad('/runs/search', { experiment_ids: [exp.E1], order_by: ['metrics.acc ASC'], page_token: p1.next_page_token }, /Invalid page token: it was issued for a different order_by/);
      await bad('/runs/search', { experiment_ids: [exp.E1], page_token: p1.next_page_token }, /Invalid page token/);
      const e = await ok('/experiments/search', { max_results: 1 });
      expect(e.next_page_token).toEqual(expect.any(String));
      await bad('/runs/search', { experiment_ids: [exp.E1], page_token: e.next_page_token }, /Invalid page token: it was issued by another kind of search/);
      await bad('/experiments/search', { page_token: p1.next_page_token, max_results: 1 }, /Invalid page token/);
    });

    it.each([
      'garbage',
      'garbage!',
      'eyJvZmZzZXQiOiAxMDAwfQ==', // MLflow's own {"offset": 1000}
      Buffer.from('{"v":1,"q":"runs","s":"00000000","k":[]}').toString('base64url'),
      Buffer.from('not json').toString('base64url'),
      Buffer.from('[1,2]').toString('base64url'),
      'x'.repeat(70000),
    ])('a garbage page_token → 400 INVALID_PARAMETER_VALUE (%#)', async (token) => {
      await bad('/runs/search', { experiment_ids: [exp.E1, exp.E2], page_token: token }, /^Invalid page token/);
      await bad('/experiments/search', { page_token: token }, /^Invalid page token/);
    });

    it('a tampered token is rejected, not trusted', async () => {
      const p1 = await mainSearch({ max_results: 2 });
      const decoded = JSON.parse(Buffer.from(p1.next_page_token, 'base64url').toString('utf8'));
      for (const k of [[], ['x'], decoded.k.map(() => 'x'), [...decoded.k, 1], decoded.k.map(() => null)]) {
        const token = Buffer.from(JSON.stringify({ ...decoded, k })).toString('base64url');
        await bad('/runs/search', { experiment_ids: [exp.E1, exp.E2], max_results: 2, page_token: token }, /^Invalid page token/);
      }
      // injection attempts inside a well-formed token are only values
      const evil = { ...decoded, k: decoded.k.map((v: unknown) => (typeof v === 'string' && !/^-?\d+$/.test(v) ? "' OR 1=1 --" : v)) };
      const res = await post('/runs/search', { experiment_ids: [exp.E1, exp.E2], max_results: 2, page_token: Buffer.from(JSON.stringify(evil)).toString('base64url') });
      expect([200, 400]).toContain(res.status);
    });

    it('is stable while runs arrive: no run twice, every original once', async () => {
      const originals: string[] = [];
      for (let i = 0; i < 10; i++) originals.push(await newRun(exp.E4, `stable-${i}`, 1000 + i));
      const p1 = await searchRuns({ experiment_ids: [exp.E4], max_results: 4 });
      expect(runs(p1).map((r) => names.get(r.info.run_id))).toEqual(['stable-9', 'stable-8', 'stable-7', 'stable-6']);
      // newer runs sort first (start_time DESC): with OFFSET paging they would push originals onto page 2 again
      const fresh: string[] = [];
      for (let i = 0; i < 3; i++) fresh.push(await newRun(exp.E4, `fresh-${i}`, 2000 + i));
      // one that sorts after the cursor is seen once
      const late = await newRun(exp.E4, 'late', 1001);
      const seen = runs(p1).map((r) => r.info.run_id);
      let token: string | undefined = p1.next_page_token;
      while (token) {
        const body = await searchRuns({ experiment_ids: [exp.E4], max_results: 4, page_token: token });
        seen.push(...runs(body).map((r) => r.info.run_id));
        token = body.next_page_token;
      }
      expect(new Set(seen).size).toBe(seen.length);
      for (const id of originals) expect(seen.filter((x) => x === id)).toHaveLength(1);
      for (const id of fresh) expect(seen).not.toContain(id);
      expect(seen.filter((x) => x === late)).toHaveLength(1);
      // a deleted run between pages simply drops out
      const q1 = await searchRuns({ experiment_ids: [exp.E4], max_results: 5 });
      await ok('/runs/delete', { run_id: ids.get('stable-5') });
      const q2 = await searchRuns({ experiment_ids: [exp.E4], max_results: 50, page_token: q1.next_page_token });
      const all = [...runs(q1), ...runs(q2)].map((r) => names.get(r.info.run_id));
      expect(new Set(all).size).toBe(all.length);
      expect(all.filter((n) => n?.startsWith('stable-'))).toHaveLength(all.includes('stable-5') ? 10 : 9);
      await ok('/runs/restore', { run_id: ids.get('stable-5') });
    });
  });

  describe('max_results', () => {
    it.each<[unknown, RegExp]>([
      [0, /max_results/],
      [-1, /max_results/],
      [50001, /max_results.*50000/],
      [2147483647, /max_results/],
    ])('%j → 400', async (max, message) => {
      await bad('/runs/search', { experiment_ids: [exp.E1], max_results: max }, message);
      await bad('/experiments/search', { max_results: max }, message);
    });

    it('rejects non-integers with a 4xx', async () => {
      for (const max of ['abc', 1.5, true, 2147483648]) {
        const res = await post('/runs/search', { experiment_ids: [exp.E1], max_results: max });
        expect(res.status, JSON.stringify(max)).toBe(400);
        expect(res.body.error_code).toBe('INVALID_PARAMETER_VALUE');
      }
    });

    it('50000 and "2" (a digit string) are accepted', async () => {
      expect(runNames(await mainSearch({ max_results: 50000 }))).toEqual(defaultOrder(ACTIVE));
      const body = await mainSearch({ max_results: '2' });
      expect(runs(body)).toHaveLength(2);
      expect(body.next_page_token).toEqual(expect.any(String));
    });
  });

  describe('run_view_type', () => {
    let active: string;
    let gone: string[];
    beforeAll(async () => {
      active = await newRun(exp.E3, 'life-active', 1);
      gone = [await newRun(exp.E3, 'life-deleted-1', 2), await newRun(exp.E3, 'life-deleted-2', 3)];
      for (const id of gone) await ok('/runs/delete', { run_id: id });
    });
    const lifeNames = async (body: Json) => runNames(await searchRuns({ experiment_ids: [exp.E3], ...body }));

    it('ACTIVE_ONLY (default), DELETED_ONLY, ALL — by name or number', async () => {
      expect(await lifeNames({})).toEqual(['life-active']);
      expect(await lifeNames({ run_view_type: 'ACTIVE_ONLY' })).toEqual(['life-active']);
      expect(await lifeNames({ run_view_type: 1 })).toEqual(['life-active']);
      expect(await lifeNames({ run_view_type: 'DELETED_ONLY' })).toEqual(['life-deleted-2', 'life-deleted-1']);
      expect(await lifeNames({ run_view_type: 2 })).toEqual(['life-deleted-2', 'life-deleted-1']);
      expect(await lifeNames({ run_view_type: 'ALL' })).toEqual(['life-deleted-2', 'life-deleted-1', 'life-active']);
      expect(await lifeNames({ run_view_type: 3 })).toEqual(['life-deleted-2', 'life-deleted-1', 'life-active']);
      expect(await lifeNames({ run_view_type: 'ALL', filter: "attributes.run_name LIKE '%deleted%'" })).toEqual(['life-deleted-2', 'life-deleted-1']);
      const deleted = await searchRuns({ experiment_ids: [exp.E3], run_view_type: 'DELETED_ONLY' });
      expect(runs(deleted).map((r) => r.info.lifecycle_stage)).toEqual(['deleted', 'deleted']);
      expect(active).toBe(ids.get('life-active'));
    });

    it('the main fixture: alpha-deleted only shows with DELETED_ONLY / ALL', async () => {
      expect(runNames(await mainSearch({ run_view_type: 'DELETED_ONLY' }))).toEqual(['alpha-deleted']);
      expect(runNames(await mainSearch({ run_view_type: 'DELETED_ONLY', filter: 'metrics.loss < 0.15' }))).toEqual(['alpha-deleted']);
      expect(runNames(await mainSearch({ run_view_type: 'ALL', filter: 'metrics.loss < 0.3' }))).toEqual(defaultOrder(['Beta-1', 'alpha-deleted']));
    });

    it('restore brings a run back; a bad view type is a 400', async () => {
      await ok('/runs/restore', { run_id: gone[0] });
      expect(await lifeNames({})).toEqual(['life-deleted-1', 'life-active']);
      await ok('/runs/delete', { run_id: gone[0] });
      for (const v of ['SOME', 0, 4]) {
        const res = await post('/runs/search', { experiment_ids: [exp.E3], run_view_type: v });
        expect(res.status, JSON.stringify(v)).toBe(400);
        expect(res.body.error_code).toBe('INVALID_PARAMETER_VALUE');
      }
    });

    it('runs of a deleted experiment are deleted too', async () => {
      const e = await newExperiment('search-doomed');
      await newRun(e, 'doomed', 5);
      await ok('/experiments/delete', { experiment_id: e });
      expect(await searchRuns({ experiment_ids: [e] })).toEqual({});
      expect(runNames(await searchRuns({ experiment_ids: [e], run_view_type: 'DELETED_ONLY' }))).toEqual(['doomed']);
    });
  });

  describe('experiment ids and isolation', () => {
    let isoExp: string;
    let isoRun: string;
    beforeAll(async () => {
      // `another` gets more experiments than `project` has, so its highest id does not exist in `project`
      const projectMax = Math.max(...(await ok('/experiments/search', { view_type: 'ALL' })).experiments.map((e: Json) => Number(e.experiment_id)));
      for (;;) {
        isoExp = await newExperiment(`iso-${crypto.randomBytes(3).toString('hex')}`, s.another);
        if (Number(isoExp) > projectMax + 5) break;
      }
      isoRun = await newRun(isoExp, 'iso-run', 1000, s.another);
      await ok('/runs/log-batch', { run_id: isoRun, metrics: [{ key: 'acc', value: 0.9, timestamp: 1 }], params: [{ key: 'lr', value: '0.01' }] }, s.another);
      // and a run in another's experiment "1", which exists in both projects
      await newRun('1', 'iso-run-in-1', 1000, s.another);
    });

    it('one, several, duplicate and numeric experiment ids', async () => {
      expect(runNames(await searchRuns({ experiment_ids: [exp.E1] }))).toEqual(defaultOrder(E1_ACTIVE));
      expect(runNames(await searchRuns({ experiment_ids: [exp.E2] }))).toEqual(['gamma']);
      expect(runNames(await searchRuns({ experiment_ids: [exp.E2, exp.E1, exp.E1] }))).toEqual(defaultOrder(ACTIVE));
      expect(runNames(await searchRuns({ experiment_ids: [Number(exp.E2), Number(exp.E1)] }))).toEqual(defaultOrder(ACTIVE));
      expect(runNames(await searchRuns({ experiment_ids: ['424242', exp.E2, 'abc', '-1'] }))).toEqual(['gamma']);
    });

    it('unknown or no experiment ids → {}', async () => {
      for (const body of [{ experiment_ids: ['424242'] }, { experiment_ids: [] }, {}, { experiment_ids: ['abc'] }, { experiment_ids: ['99999999999999999999'] }]) {
        const res = await post('/runs/search', body);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.text).toBe('{}');
      }
    });

    it("another project's experiment id returns nothing from that project", async () => {
      // isoExp exists only in `another`
      const res = await post('/runs/search', { experiment_ids: [isoExp] });
      expect(res.text).toBe('{}');
      expect(await searchRuns({ experiment_ids: [isoExp], filter: 'metrics.acc = 0.9' })).toEqual({});
      // experiment "1" exists in both: only this project's runs
      const one = await searchRuns({ experiment_ids: ['1'], run_view_type: 'ALL' });
      expect(runNames(one)).not.toContain('iso-run-in-1');
      for (const r of runs(one)) expect(r.info.artifact_uri).not.toContain(isoRun);
      // every experiment id of both projects, searched from `project`: never a run of `another`
      const anotherIds = (await ok('/experiments/search', { view_type: 'ALL' }, s.another)).experiments.map((e: Json) => e.experiment_id);
      const wide = await searchRuns({ experiment_ids: [...anotherIds, exp.E1], run_view_type: 'ALL', max_results: 50000 });
      const wideIds = runs(wide).map((r) => r.info.run_id);
      expect(wideIds).not.toContain(isoRun);
      expect(wideIds).not.toContain(ids.get('iso-run-in-1'));
      expect(await searchRuns({ experiment_ids: [exp.E1, exp.E2], filter: `attributes.run_id = '${isoRun}'` })).toEqual({});
      // the owner project sees it
      expect(runNames(await searchRuns({ experiment_ids: [isoExp] }, s.another))).toEqual(['iso-run']);
    });

    it('needs read access to the project: strangers get 404, reporters and read_api tokens may search', async () => {
      const stranger = await post('/runs/search', { experiment_ids: [exp.E1] }, s.project, s.tokens.stranger);
      expect(stranger.status).toBe(404);
      const anon = await s.request.post(s.mlflow() + '/runs/search').send({ experiment_ids: [exp.E1] });
      expect(anon.status).toBe(401);
      const reporter = await post('/runs/search', { experiment_ids: [exp.E1, exp.E2] }, s.project, s.tokens.reporter);
      expect(reporter.status).toBe(200);
      expect(runNames(reporter.body)).toEqual(defaultOrder(ACTIVE));
      expect((await post('/experiments/search', {}, s.project, s.tokens.reporter)).status).toBe(200);
      // scopes are enforced per procedure (routers/trpc.ts): the searches are reads, so read_api may POST them
      const ro = await post('/runs/search', { experiment_ids: [exp.E1, exp.E2] }, s.project, s.tokens.read);
      expect(ro.status).toBe(200);
      expect(runNames(ro.body)).toEqual(defaultOrder(ACTIVE));
      expect((await post('/experiments/search', {}, s.project, s.tokens.read)).status).toBe(200);
      // but not write
      expect((await post('/runs/create', { experiment_id: exp.E1 }, s.project, s.tokens.read)).status).toBe(403);
    });
  });

  describe('experiments/search', () => {
    let p: Project;
    const eid: Record<string, string> = {};
    const expNames = (body: Json): string[] => (body.experiments ?? []).map((e: Json) => e.name);
    const searchExp = (body: Json) => ok('/experiments/search', body, p);

    beforeAll(async () => {
      p = await ownProject('group/exp-search');
      eid.Default = '0';
      eid['exp-a'] = await newExperiment('exp-a', p, { tags: [{ key: 'team', value: 'red' }] });
      eid['exp-b'] = await newExperiment('exp-b', p, { tags: [{ key: 'team', value: 'blue' }, { key: 'my.key', value: 'v' }] });
      eid['Exp-C'] = await newExperiment('Exp-C', p, { tags: [{ key: 'team', value: 'Red' }] });
      eid.other = await newExperiment('other', p);
      await ok('/experiments/delete', { experiment_id: eid.other }, p);
      // creation times under test control: exp-b and Exp-C tie
      const times: Record<string, number> = { Default: 100, 'exp-a': 1000, 'exp-b': 2000, 'Exp-C': 2000, other: 3000 };
      for (const [name, t] of Object.entries(times)) {
        await s.t.db('experiments').where({ project_id: p.id, name }).update({ creation_time: t, last_update_time: t + 1 });
      }
    });

    it('default: ACTIVE_ONLY, creation_time DESC, experiment_id ASC; max_results absent ⇒ 1000', async () => {
      const body = await searchExp({});
      expect(Object.keys(body)).toEqual(['experiments']);
      expect(expNames(body)).toEqual(['exp-b', 'Exp-C', 'exp-a', 'Default']);
      const b = body.experiments[0];
      expect(b).toEqual({
        experiment_id: eid['exp-b'], name: 'exp-b', artifact_location: expect.any(String), lifecycle_stage: 'active',
        last_update_time: 2001, creation_time: 2000,
        tags: expect.arrayContaining([{ key: 'team', value: 'blue' }, { key: 'my.key', value: 'v' }]),
      });
      const got = await s.request.get(s.mlflow(p) + '/experiments/get').set('Authorization', `Bearer ${s.tokens.write}`).query({ experiment_id: eid['exp-b'] });
      expect(b).toEqual(got.body.experiment);
    });

    it.each<[string, string[]]>([
      ["name = 'exp-a'", ['exp-a']],
      ["attribute.name = 'Default'", ['Default']],
      ["name != 'exp-a'", ['exp-b', 'Exp-C', 'Default']],
      ["name LIKE 'exp-%'", ['exp-b', 'exp-a']],
      ["name LIKE '%-_'", ['exp-b', 'Exp-C', 'exp-a']],
      ["name ILIKE 'EXP-%'", ['exp-b', 'Exp-C', 'exp-a']],
      ['name = "Exp-C"', ['Exp-C']],
      ["tags.team = 'red'", ['exp-a']],
      ["tags.team != 'red'", ['exp-b', 'Exp-C']],
      ["tags.team LIKE '%e%'", ['exp-b', 'Exp-C', 'exp-a']],
      ["tag.team ILIKE 'RED'", ['Exp-C', 'exp-a']],
      ["tags.`my.key` = 'v'", ['exp-b']],
      ["tags.\"my.key\" = 'v'", ['exp-b']],
      ["tags.nope != 'x'", []],
      ['creation_time > 1000', ['exp-b', 'Exp-C']],
      ['creation_time >= 1000', ['exp-b', 'Exp-C', 'exp-a']],
      ['creation_time = 2000', ['exp-b', 'Exp-C']],
      ['creation_time != 2000', ['exp-a', 'Default']],
      ['creation_time < 1000', ['Default']],
      ['attribute.creation_time <= 1000', ['exp-a', 'Default']],
      ['last_update_time = 1001', ['exp-a']],
      ["name ILIKE 'exp%' AND tags.team = 'Red' AND creation_time >= 2000", ['Exp-C']],
    ])('filter %s', async (filter, expected) => {
      const body = await searchExp({ filter });
      expect(expNames(body)).toEqual(expected);
      if (!expected.length) expect(body).toEqual({});
    });

    it.each<[string[], string[]]>([
      [['name ASC'], ['Default', 'Exp-C', 'exp-a', 'exp-b']],
      [['name DESC'], ['exp-b', 'exp-a', 'Exp-C', 'Default']],
      [['name'], ['Default', 'Exp-C', 'exp-a', 'exp-b']],
      [['experiment_id DESC'], ['Exp-C', 'exp-b', 'exp-a', 'Default']],
      [['experiment_id'], ['Default', 'exp-a', 'exp-b', 'Exp-C']],
      [['creation_time ASC'], ['Default', 'exp-a', 'Exp-C', 'exp-b']],
      [['creation_time DESC'], ['Exp-C', 'exp-b', 'exp-a', 'Default']],
      [['creation_time DESC', 'experiment_id ASC'], ['exp-b', 'Exp-C', 'exp-a', 'Default']],
      [['attribute.last_update_time ASC'], ['Default', 'exp-a', 'Exp-C', 'exp-b']],
    ])('order_by %j, and the same page by page', async (orderBy, expected) => {
      expect(expNames(await searchExp({ order_by: orderBy }))).toEqual(expected);
      for (const size of [1, 2, 3]) {
        const got: string[] = [];
        let token: string | undefined;
        do {
          const body = await searchExp({ order_by: orderBy, max_results: size, page_token: token });
          got.push(...expNames(body));
          token = body.next_page_token;
        } while (token);
        expect(got).toEqual(expected);
      }
    });

    it('view_type', async () => {
      expect(expNames(await searchExp({ view_type: 'ACTIVE_ONLY' }))).toEqual(['exp-b', 'Exp-C', 'exp-a', 'Default']);
      expect(expNames(await searchExp({ view_type: 'DELETED_ONLY' }))).toEqual(['other']);
      expect(expNames(await searchExp({ view_type: 'ALL' }))).toEqual(['other', 'exp-b', 'Exp-C', 'exp-a', 'Default']);
      expect(expNames(await searchExp({ view_type: 'ALL', filter: "name = 'other'" }))).toEqual(['other']);
      expect(await searchExp({ filter: "name = 'other'" })).toEqual({});
      const deleted = await searchExp({ view_type: 'DELETED_ONLY' });
      expect(deleted.experiments[0].lifecycle_stage).toBe('deleted');
    });

    it('paging: pages concatenated == one page, token only when more exist', async () => {
      const want = expNames(await searchExp({ view_type: 'ALL' }));
      for (const size of [1, 2, 4, 5, 6]) {
        const got: string[] = [];
        let token: string | undefined;
        let pages = 0;
        do {
          const body = await searchExp({ view_type: 'ALL', max_results: size, page_token: token });
          got.push(...expNames(body));
          token = body.next_page_token;
          pages++;
        } while (token);
        expect(got).toEqual(want);
        expect(pages).toBe(Math.ceil(want.length / size));
      }
    });

    it('only the experiments of the project', async () => {
      const mine = await ok('/experiments/search', { view_type: 'ALL', max_results: 50000 });
      expect(mine.experiments.map((e: Json) => e.name)).not.toContain('exp-a');
      expect(mine.experiments.map((e: Json) => e.name)).toContain('search-main');
      expect(expNames(await searchExp({ filter: "name = 'search-main'" }))).toEqual([]);
    });

    it.each<[Json, RegExp]>([
      [{ filter: "metrics.acc = 1" }, /Invalid entity type 'metrics'/],
      [{ filter: "foo = 'x'" }, /Invalid attribute key 'foo'/],
      [{ filter: "name > 'a'" }, /Invalid comparator '>' for string attribute 'name'/],
      [{ filter: "name IN ('a')" }, /Invalid comparator 'IN'/],
      [{ filter: "creation_time = 'x'" }, /Expected numeric value type for numeric attribute: creation_time/],
      [{ filter: "name = 'a' OR name = 'b'" }, /Invalid clause\(s\)/],
      [{ filter: "(name = 'a')" }, /Invalid clause\(s\)/],
      [{ filter: 'name = abc' }, /not quoted/],
      [{ order_by: ['name', 'name DESC'] }, /duplicate fields/],
      [{ order_by: ['tags.team'] }, /Invalid order_by entity/],
      [{ order_by: ['nope'] }, /Invalid attribute key 'nope'/],
      [{ order_by: ['name upward'] }, /Invalid ordering key/],
      [{ view_type: 'NOPE' }, /./],
    ])('rejects %j', async (body, message) => {
      await bad('/experiments/search', body, message, p);
    });
  });

  describe('bulk: max_results defaults and the MLflow client', () => {
    let bulk: Project;
    let bulkIds: string[];
    // more than SQLite binds in one statement (32766), so a 50000-run page must be loaded in slices
    const N = 33000;

    beforeAll(async () => {
      bulk = await ownProject('group/bulk-search');
      const e = await newExperiment('bulk', bulk);
      expect(e).toBe('1');
      const expRow = await s.t.db('experiments').where({ project_id: bulk.id, experiment_id: 1 }).first('id');
      const rows = Array.from({ length: N }, (_, i) => {
        const uuid = crypto.randomBytes(16).toString('hex');
        return {
          run_uuid: uuid, project_id: bulk.id, experiment_id: expRow.id, name: `bulk-${i}`, user_id: 'developer', creator_id: devId,
          status: 'FINISHED', start_time: 1_700_000_000_000 + (i % 700), end_time: null, lifecycle_stage: 'active',
          artifact_uri: `mlflow-artifacts:/1/${uuid}/artifacts`,
        };
      });
      for (let i = 0; i < rows.length; i += 500) await s.t.db('runs').insert(rows.slice(i, i + 500));
      const inserted = await s.t.db('runs').where({ experiment_id: expRow.id }).select('id', 'name');
      const tags = inserted.map((r: { id: number; name: string }) => ({ run_id: r.id, key: 'mlflow.runName', value: r.name }));
      for (let i = 0; i < tags.length; i += 500) await s.t.db('tags').insert(tags.slice(i, i + 500));
      // the order MLflow gives: start_time DESC, run_id ASC
      bulkIds = rows
        .slice()
        .sort((a, b) => b.start_time - a.start_time || cmp(a.run_uuid, b.run_uuid))
        .map((r) => r.run_uuid);
    }, 300_000);

    it("the Python client's exact requests: 10000, then the rest with page_token", async () => {
      const first = await s.request
        .post(s.mlflow(bulk) + '/runs/search')
        .set('Authorization', `Bearer ${s.tokens.write}`)
        .set('Content-Type', 'application/json')
        .send('{"experiment_ids": ["1"], "filter": "", "run_view_type": "ACTIVE_ONLY", "max_results": 10000}');
      expect(first.status).toBe(200);
      expect(Object.keys(first.body)).toEqual(['runs', 'next_page_token']);
      expect(first.body.runs).toHaveLength(10000);
      expect(first.body.runs[0].info.run_name).toBe(first.body.runs[0].data.tags.find((t: Json) => t.key === 'mlflow.runName').value);
      // get_results_from_paginated_fn: repeat with the token and max_results = min(10000, 100000 - fetched)
      const got: string[] = first.body.runs.map((r: Json) => r.info.run_id);
      let token: string | undefined = first.body.next_page_token;
      let requests = 1;
      while (token) {
        const res = await s.request
          .post(s.mlflow(bulk) + '/runs/search')
          .set('Authorization', `Bearer ${s.tokens.write}`)
          .set('Content-Type', 'application/json')
          .send(`{"experiment_ids": ["1"], "filter": "", "run_view_type": "ACTIVE_ONLY", "max_results": ${Math.min(10000, 100000 - got.length)}, "page_token": "${token}"}`);
        expect(res.status).toBe(200);
        got.push(...res.body.runs.map((r: Json) => r.info.run_id));
        token = res.body.next_page_token;
        requests++;
      }
      expect(requests).toBe(Math.ceil(N / 10000));
      expect(got).toEqual(bulkIds);
    }, 120_000);

    it('max_results absent ⇒ 1000; 50000 ⇒ everything, no token', async () => {
      const def = await ok('/runs/search', { experiment_ids: ['1'] }, bulk);
      expect(def.runs).toHaveLength(1000);
      expect(def.next_page_token).toEqual(expect.any(String));
      expect(def.runs.map((r: Json) => r.info.run_id)).toEqual(bulkIds.slice(0, 1000));
      const next = await ok('/runs/search', { experiment_ids: ['1'], page_token: def.next_page_token }, bulk);
      expect(next.runs.map((r: Json) => r.info.run_id)).toEqual(bulkIds.slice(1000, 2000));
      const all = await ok('/runs/search', { experiment_ids: ['1'], max_results: 50000, filter: "attributes.status = 'FINISHED'" }, bulk);
      expect(all.runs).toHaveLength(N);
      expect(all.runs.map((r: Json) => r.info.run_id)).toEqual(bulkIds);
      expect(all).not.toHaveProperty('next_page_token');
    }, 120_000);

    it('experiments/search: max_results absent ⇒ 1000', async () => {
      const many = await ownProject('group/many-experiments');
      const rows = Array.from({ length: 1005 }, (_, i) => ({
        project_id: many.id, experiment_id: i + 1, name: `many-${String(i).padStart(4, '0')}`, artifact_location: `mlflow-artifacts:/${i + 1}`,
        lifecycle_stage: 'active', creation_time: 5000 + (i % 10), last_update_time: 5000,
      }));
      for (let i = 0; i < rows.length; i += 500) await s.t.db('experiments').insert(rows.slice(i, i + 500));
      const def = await ok('/experiments/search', {}, many);
      expect(def.experiments).toHaveLength(1000);
      expect(def.next_page_token).toEqual(expect.any(String));
      const rest = await ok('/experiments/search', { page_token: def.next_page_token }, many);
      // 1005 inserted + Default
      expect(rest.experiments).toHaveLength(6);
      expect(rest).not.toHaveProperty('next_page_token');
      const names = [...def.experiments, ...rest.experiments].map((e: Json) => e.name);
      expect(new Set(names).size).toBe(1006);
      expect(names[0]).toBe('Default'); // created now, the others at 5000..5009
      const big = await ok('/experiments/search', { max_results: 50000 }, many);
      expect(big.experiments.map((e: Json) => e.name)).toEqual(names);
    }, 120_000);
  });

  describe('edge values', () => {
    /** All ids of a search, page by page. */
    async function pageAll(body: Json, size: number): Promise<string[]> {
      const got: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const res = await searchRuns({ ...body, max_results: size, page_token: token });
        got.push(...runs(res).map((r) => r.info.run_id));
        token = res.next_page_token;
        if (++pages > 100) throw new Error('too many pages');
      } while (token);
      return got;
    }

    it('int64 start_time / end_time beyond 2^53: exact filters and paging', async () => {
      const e = await newExperiment('search-int64');
      const starts = ['9007199254740993', '9007199254740992', '9007199254740994', '9223372036854775807', '9007199254740993'];
      const made: { id: string; start: bigint }[] = [];
      for (const [i, start] of starts.entries()) {
        const res = await s.request
          .post(s.mlflow() + '/runs/create')
          .set('Authorization', `Bearer ${s.tokens.write}`)
          .set('Content-Type', 'application/json')
          .send(`{"experiment_id": "${e}", "run_name": "big-${i}", "start_time": ${start}}`);
        expect(res.status, res.text).toBe(200);
        expect(res.text).toContain(`"start_time":${start}`);
        made.push({ id: res.body.run.info.run_id, start: BigInt(start) });
        names.set(res.body.run.info.run_id, `big-${i}`);
      }
      await s.request
        .post(s.mlflow() + '/runs/update')
        .set('Authorization', `Bearer ${s.tokens.write}`)
        .set('Content-Type', 'application/json')
        .send(`{"run_id": "${made[0]!.id}", "status": "FINISHED", "end_time": 9007199254740995}`)
        .expect(200);
      const byStart = (desc: boolean) =>
        [...made].sort((a, b) => (a.start === b.start ? cmp(a.id, b.id) : (a.start < b.start) === desc ? 1 : -1)).map((r) => r.id);
      for (const size of [1, 2, 3]) {
        expect(await pageAll({ experiment_ids: [e] }, size), `DESC ${size}`).toEqual(byStart(true));
        expect(await pageAll({ experiment_ids: [e], order_by: ['attributes.start_time ASC'] }, size), `ASC ${size}`).toEqual(byStart(false));
      }
      const ids = async (filter: string) => (await pageAll({ experiment_ids: [e], filter }, 1000)).sort();
      expect(await ids('attributes.start_time = 9007199254740993')).toEqual([made[0]!.id, made[4]!.id].sort());
      expect(await ids('attributes.start_time > 9007199254740993')).toEqual([made[2]!.id, made[3]!.id].sort());
      expect(await ids('attributes.start_time < 9007199254740993')).toEqual([made[1]!.id]);
      expect(await ids('attributes.start_time = 9223372036854775807')).toEqual([made[3]!.id]);
      expect(await ids('attributes.start_time > 9223372036854775807')).toEqual([]);
      expect(await ids('attributes.end_time = 9007199254740995')).toEqual([made[0]!.id]);
      expect(await ids('attributes.end_time > 9007199254740994')).toEqual([made[0]!.id]);
      expect(await ids('attributes.end_time < 9007199254740995')).toEqual([]);
      // end_time order: the one value first, then the runs without, by start_time DESC
      const endOrder = await pageAll({ experiment_ids: [e], order_by: ['attributes.end_time DESC'] }, 1);
      expect(endOrder).toEqual([made[0]!.id, ...byStart(true).filter((id) => id !== made[0]!.id)]);
    });

    it('doubles that are hard to round-trip page exactly', async () => {
      const e = await newExperiment('search-doubles');
      const values: (number | string)[] = [
        1 / 3, 0.1 + 0.2, 0.3, 5e-324, -5e-324, 0, -0, 1e-300, 2.2250738585072014e-308, 123456789.12345679, 2 / 3,
        1.7976931348623157e308, 'Infinity', '-Infinity', -1.7976931348623157e308, 'NaN', 0.1 + 0.2,
      ];
      const made: string[] = [];
      for (const [i, v] of values.entries()) {
        const id = await newRun(e, `dbl-${i}`, 1000);
        made.push(id);
        await ok('/runs/log-batch', { run_id: id, metrics: [{ key: 'm', value: v, timestamp: 1, step: 0 }] });
      }
      await newRun(e, 'dbl-missing', 1000);
      for (const orderBy of [['metrics.m ASC'], ['metrics.m DESC']]) {
        const want = await pageAll({ experiment_ids: [e], order_by: orderBy }, 1000);
        expect(want).toHaveLength(values.length + 1);
        for (const size of [1, 2, 5]) expect(await pageAll({ experiment_ids: [e], order_by: orderBy }, size), `${orderBy} ${size}`).toEqual(want);
      }
      const asc = (await pageAll({ experiment_ids: [e], order_by: ['metrics.m ASC'] }, 1000)).map((id) => names.get(id));
      expect(asc.at(-1)).toBe('dbl-missing');
      expect(asc.at(-2)).toBe(`dbl-${values.indexOf('NaN')}`);
      const n = async (filter: string) => (await pageAll({ experiment_ids: [e], filter }, 1000)).map((id) => names.get(id)!).sort();
      expect(await n('metrics.m = 0.30000000000000004')).toEqual(['dbl-1', 'dbl-16']);
      expect(await n('metrics.m = 0.3')).toEqual(['dbl-2']);
      expect(await n('metrics.m > 0 AND metrics.m < 1e-299')).toEqual(['dbl-3', 'dbl-7', 'dbl-8']);
      expect(await n('metrics.m = 5e-324')).toEqual(['dbl-3']);
      expect(await n('metrics.m = 0')).toEqual(['dbl-5', 'dbl-6']);
      expect(await n('metrics.m >= 1.7976931348623157e308')).toEqual(['dbl-11', 'dbl-12']);
    });

    it('values are compared exactly: case, trailing spaces, LIKE escapes', async () => {
      const e = await newExperiment('search-exact');
      const tag = async (name: string, value: string) => {
        const id = await newRun(e, name, 1);
        await ok('/runs/log-batch', { run_id: id, tags: [{ key: 'v', value }], params: [{ key: 'v', value }] });
      };
      await tag('pad-0', 'pad');
      await tag('pad-1', 'pad ');
      await tag('pad-2', 'PAD');
      await tag('pct-0', '50% off');
      await tag('pct-1', '500 off');
      await tag('bs-0', 'a\\b');
      await tag('us-0', 'a_b');
      await tag('us-1', 'axb');
      const n = async (filter: string) => runNames(await searchRuns({ experiment_ids: [e], filter })).sort();
      for (const entity of ['tags', 'params']) {
        expect(await n(`${entity}.v = 'pad'`)).toEqual(['pad-0']);
        expect(await n(`${entity}.v = 'pad '`)).toEqual(['pad-1']);
        expect(await n(`${entity}.v != 'pad'`)).toEqual(['bs-0', 'pad-1', 'pad-2', 'pct-0', 'pct-1', 'us-0', 'us-1']);
        expect(await n(`${entity}.v LIKE 'pad'`)).toEqual(['pad-0']);
        expect(await n(`${entity}.v ILIKE 'pad'`)).toEqual(['pad-0', 'pad-2']);
        expect(await n(`${entity}.v ILIKE 'pad%'`)).toEqual(['pad-0', 'pad-1', 'pad-2']);
        expect(await n(`${entity}.v LIKE '50\\%%'`)).toEqual(['pct-0']);
        expect(await n(`${entity}.v LIKE '50%'`)).toEqual(['pct-0', 'pct-1']);
        expect(await n(`${entity}.v LIKE 'a\\_b'`)).toEqual(['us-0']);
        expect(await n(`${entity}.v LIKE 'a_b'`)).toEqual(['bs-0', 'us-0', 'us-1']);
        expect(await n(`${entity}.v LIKE 'a\\\\b'`)).toEqual(['bs-0']);
        expect(await n(`${entity}.v = 'a\\b'`)).toEqual(['bs-0']);
      }
      expect(await n("attributes.run_name = 'pad-0 '")).toEqual([]);
      expect(await n("attributes.run_name = 'PAD-0'")).toEqual([]);
      expect(await n("attributes.run_id IN ('" + ids.get('pad-0')!.toUpperCase() + "')")).toEqual([]);
    });

    it('a renamed run is found by its new name (attribute and tag)', async () => {
      const e = await newExperiment('search-rename');
      const id = await newRun(e, 'before', 1);
      await ok('/runs/update', { run_id: id, run_name: 'after' });
      const n = async (filter: string) => runNames(await searchRuns({ experiment_ids: [e], filter })).length;
      expect(await n("attributes.run_name = 'after'")).toBe(1);
      expect(await n("tags.mlflow.runName = 'after'")).toBe(1);
      expect(await n("attributes.run_name = 'before'")).toBe(0);
      await ok('/runs/set-tag', { run_id: id, key: 'mlflow.runName', value: 'again' });
      expect(await n("attributes.run_name = 'again'")).toBe(1);
      expect(runs(await searchRuns({ experiment_ids: [e] }))[0]!.info.run_name).toBe('again');
    });

    it('a long filter with many clauses and a long IN list', async () => {
      const clauses = Array.from({ length: 40 }, (_, i) => `metrics.acc > ${-i - 1}`);
      expect(runNames(await mainSearch({ filter: clauses.join(' AND ') }))).toEqual(defaultOrder(['alpha-1', 'alpha-2', 'Beta-1']));
      const list = Array.from({ length: 2000 }, (_, i) => `'${i.toString(16).padStart(32, '0')}'`);
      list.push(`'${ids.get('gamma')}'`);
      expect(runNames(await mainSearch({ filter: `attributes.run_id IN (${list.join(', ')})` }))).toEqual(['gamma']);
      expect(runNames(await mainSearch({ filter: `attributes.run_id NOT IN (${list.join(', ')})` }))).toEqual(defaultOrder(ACTIVE.filter((n) => n !== 'gamma')));
    });
  });

  describe('size limits: big requests are 400s or answers, never 500s', () => {
    const clauses = (n: number) => Array.from({ length: n }, (_, i) => `metrics.acc > ${-i - 1}`).join(' AND ');
    const hexIds = (n: number) => Array.from({ length: n }, (_, i) => `'${i.toString(16).padStart(32, '0')}'`);

    it('up to 250 clauses; more → 400', async () => {
      expect(runNames(await mainSearch({ filter: clauses(250) }))).toEqual(defaultOrder(['alpha-1', 'alpha-2', 'Beta-1']));
      await bad('/runs/search', { experiment_ids: [exp.E1], filter: clauses(251) }, /^Invalid filter string: more than 250 clauses/);
      await bad('/runs/search', { experiment_ids: [exp.E1], filter: clauses(10000) }, /more than 250 clauses/);
      const expClauses = Array.from({ length: 251 }, (_, i) => `creation_time > ${-i}`).join(' AND ');
      await bad('/experiments/search', { filter: expClauses }, /more than 250 clauses/);
    });

    it('up to 10000 IN-list values in all; more → 400', async () => {
      const list = [...hexIds(9999), `'${ids.get('gamma')}'`];
      expect(runNames(await mainSearch({ filter: `attributes.run_id IN (${list.join(', ')})` }))).toEqual(['gamma']);
      await bad('/runs/search', { experiment_ids: [exp.E1], filter: `attributes.run_id IN (${hexIds(10001).join(',')})` }, /more than 10000 values in IN lists/);
      const half = hexIds(5001).join(',');
      await bad('/runs/search', { experiment_ids: [exp.E1], filter: `run_id IN (${half}) AND run_id NOT IN (${half})` }, /more than 10000 values/);
      await bad('/runs/search', { experiment_ids: [exp.E1], filter: `run_id IN (${hexIds(70000).join(',')})` }, /more than 10000 values/);
    });

    it('up to 20 order_by fields, with 250 clauses and a page token; more → 400', async () => {
      const orderBy = ['metrics.acc DESC', ...Array.from({ length: 17 }, (_, i) => `metrics.m${i}`), 'params.lr', 'tags.team'];
      const p1 = await mainSearch({ filter: clauses(250), order_by: orderBy, max_results: 1 });
      expect(runNames(p1)).toEqual(['Beta-1']);
      const rest = await mainSearch({ filter: clauses(250), order_by: orderBy, max_results: 10, page_token: p1.next_page_token });
      expect(runNames(rest)).toEqual(['alpha-1', 'alpha-2']);
      await bad('/runs/search', { experiment_ids: [exp.E1], order_by: [...orderBy, 'metrics.one_more'] }, /`order_by` may contain at most 20 fields, got 21/);
      await bad('/runs/search', { experiment_ids: [exp.E1], order_by: Array.from({ length: 100 }, (_, i) => `metrics.m${i}`) }, /at most 20 fields/);
    });

    it('any number of experiment ids', async () => {
      const many = [...Array.from({ length: 70000 }, (_, i) => String(100000 + i)), exp.E2, exp.E1];
      expect(runNames(await mainSearch({ experiment_ids: many }))).toEqual(defaultOrder(ACTIVE));
    });
  });

  describe('typed tRPC client', () => {
    it('runs.search.mutate returns the same runs as REST, page by page', async () => {
      const c = createMltrackClient({ url: s.baseUrl, token: s.tokens.write, project: s.project.path });
      const rest = await mainSearch({ order_by: ['metrics.acc DESC'], filter: "params.lr LIKE '0.%'" });
      const p1 = await c.runs.search.mutate({ experiment_ids: [exp.E1, exp.E2], order_by: ['metrics.acc DESC'], filter: "params.lr LIKE '0.%'", max_results: 2 });
      expect(p1.runs).toHaveLength(2);
      expect(p1.next_page_token).toEqual(expect.any(String));
      const p2 = await c.runs.search.mutate({
        experiment_ids: [exp.E1, exp.E2], order_by: ['metrics.acc DESC'], filter: "params.lr LIKE '0.%'", max_results: 2, page_token: p1.next_page_token,
      });
      expect(p2.next_page_token).toBeUndefined();
      const typed = [...(p1.runs ?? []), ...(p2.runs ?? [])];
      expect(typed.map((r) => names.get(r.info.run_id))).toEqual(['Beta-1', 'alpha-1', 'alpha-2', 'gamma']);
      expect(typed.map((r) => r.info.run_id)).toEqual(runs(rest).map((r) => r.info.run_id));
      expect(JSON.parse(JSON.stringify(typed))).toEqual(runs(rest));
    });

    it('experiments.search and errors through the typed client', async () => {
      const c = createMltrackClient({ url: s.baseUrl, token: s.tokens.write, project: s.project.id, batch: false });
      const e = await c.experiments.search.mutate({ filter: "name LIKE 'search-%'", order_by: ['name ASC'] });
      const got = e.experiments?.map((x) => x.name) ?? [];
      expect(got).toEqual([...got].sort());
      expect(got).toEqual(expect.arrayContaining(['search-lifecycle', 'search-main', 'search-other', 'search-stable']));
      expect(got).not.toContain('search-doomed'); // deleted
      const err = await c.runs.search.mutate({ experiment_ids: [exp.E1], filter: 'metrics.a > 1 OR metrics.a < 0' }).catch((x) => x);
      expect(err.data.httpStatus).toBe(400);
      expect(err.data.mlflow.error_code).toBe('INVALID_PARAMETER_VALUE');
      expect(err.data.mlflow.message).toMatch(/Invalid clause\(s\)/);
      const none = await c.runs.search.mutate({ experiment_ids: ['424242'] });
      expect(none).toEqual({});
    });
  });
});
