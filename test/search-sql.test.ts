/**
 * runs/search and experiments/search against real databases: SQLite always, MySQL/MariaDB when
 * MLTRACK_TEST_MYSQL_URL is set (test/helpers/db.ts: a fresh database each, and CI fails without MySQL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { isMysql } from '../db/knex.ts';
import { DB_KINDS, freshDb } from './helpers/db.ts';
import { DOUBLE_MAX } from '../core/codecs.ts';
import { searchRuns, type SearchRunsQuery } from '../db/search/runs.ts';
import { searchExperiments, type SearchExperimentsQuery } from '../db/search/experiments.ts';
import { parseRunOrderBy, type RunOrderBy } from '../db/search/parse.ts';
import { MlflowError } from '../core/errors.ts';

const MAX = DOUBLE_MAX;

// ---------------------------------------------------------------------------------------------
// Fixture helpers

interface RunSpec {
  label: string;
  exp: number;
  start: number;
  end?: number | null;
  name?: string;
  user?: string;
  status?: string;
  stage?: 'active' | 'deleted';
  metrics?: Record<string, number>;
  params?: Record<string, string>;
  tags?: Record<string, string>;
  /** dataset id → context tag */
  inputs?: Record<number, string>;
}

class Fixture {
  private seq = 0;
  readonly idToLabel = new Map<number, string>();
  readonly labelToUuid = new Map<string, string>();
  readonly specs = new Map<string, RunSpec & { uuid: string }>();
  projectId = 0;

  constructor(readonly db: Knex) {}

  async project(pathName: string): Promise<number> {
    const [id] = await this.db('projects').insert({ path: pathName, name: pathName, visibility: 'private', last_experiment_iid: 0, created_at: 1 });
    return Number(id);
  }

  async experiment(projectId: number, iid: number, name: string, opts: { creation?: number; update?: number; stage?: string; tags?: Record<string, string> } = {}): Promise<number> {
    const [id] = await this.db('experiments').insert({
      project_id: projectId,
      experiment_id: iid,
      name,
      artifact_location: `s3://bucket/${iid}`,
      lifecycle_stage: opts.stage ?? 'active',
      creation_time: opts.creation ?? 0,
      last_update_time: opts.update ?? opts.creation ?? 0,
    });
    const eid = Number(id);
    for (const [key, value] of Object.entries(opts.tags ?? {})) await this.db('experiment_tags').insert({ experiment_id: eid, key, value });
    return eid;
  }

  /** run_uuid: the run's creation sequence number in hex, so uuid order = creation order unless given. */
  async run(spec: RunSpec, uuid?: string): Promise<number> {
    const id = await this.insertRun(this.db, spec, uuid);
    return id;
  }

  async insertRun(db: Knex, spec: RunSpec, uuid?: string): Promise<number> {
    const runUuid = uuid ?? (++this.seq).toString(16).padStart(32, '0');
    const [rawId] = await db('runs').insert({
      run_uuid: runUuid,
      project_id: this.projectId,
      experiment_id: spec.exp,
      name: spec.name ?? spec.label,
      user_id: spec.user ?? 'u',
      status: spec.status ?? 'FINISHED',
      start_time: spec.start,
      end_time: spec.end ?? null,
      lifecycle_stage: spec.stage ?? 'active',
      artifact_uri: `s3://bucket/${spec.label}`,
    });
    const id = Number(rawId);
    const metrics = Object.entries(spec.metrics ?? {}).map(([key, v]) => ({
      run_id: id,
      experiment_id: spec.exp,
      key,
      value: Number.isNaN(v) ? 0 : v === Infinity ? MAX : v === -Infinity ? -MAX : v,
      is_nan: Number.isNaN(v) ? 1 : 0,
      timestamp: 1,
      step: 0,
    }));
    if (metrics.length) await db('latest_metrics').insert(metrics);
    const params = Object.entries(spec.params ?? {}).map(([key, value]) => ({ run_id: id, key, value }));
    if (params.length) await db('params').insert(params);
    const tags = Object.entries(spec.tags ?? {}).map(([key, value]) => ({ run_id: id, key, value }));
    if (tags.length) await db('tags').insert(tags);
    for (const [datasetId, context] of Object.entries(spec.inputs ?? {})) {
      await db('run_inputs').insert({ run_id: id, dataset_id: Number(datasetId) });
      await db('input_tags').insert({ run_id: id, dataset_id: Number(datasetId), key: 'mlflow.data.context', value: context });
    }
    this.idToLabel.set(id, spec.label);
    this.labelToUuid.set(spec.label, runUuid);
    this.specs.set(spec.label, { ...spec, uuid: runUuid });
    return id;
  }

  labels(ids: number[]): string[] {
    return ids.map((id) => this.idToLabel.get(id) ?? `?${id}`);
  }
}

function expectInvalid(err: unknown, message: RegExp): void {
  expect(err).toBeInstanceOf(MlflowError);
  expect((err as MlflowError).status).toBe(400);
  expect((err as MlflowError).message).toMatch(message);
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

/** MLflow's ordering, computed in JS from the fixture: the reference the SQL must match. */
function referenceOrder(specs: (RunSpec & { uuid: string })[], orderBy: RunOrderBy[], mysql: boolean): string[] {
  const str = (s: string) => (mysql ? s.slice(0, 256) : s);
  const cmp = (a: number | string, b: number | string) => (a < b ? -1 : a > b ? 1 : 0);
  type Key = { v: number | string; desc: boolean };
  const keys = (r: RunSpec & { uuid: string }): Key[] => {
    const out: Key[] = [];
    let startOrdered = false;
    for (const o of orderBy) {
      const desc = !o.ascending;
      if (o.kind === 'metric') {
        const v = r.metrics?.[o.key];
        out.push({ v: v === undefined ? 2 : Number.isNaN(v) ? 1 : 0, desc: false });
        out.push({ v: v === undefined || Number.isNaN(v) ? 0 : Math.max(-MAX, Math.min(MAX, v)), desc });
      } else if (o.kind === 'param' || o.kind === 'tag') {
        const v = (o.kind === 'param' ? r.params : r.tags)?.[o.key];
        out.push({ v: v === undefined ? 1 : 0, desc: false });
        out.push({ v: v === undefined ? '' : str(v), desc });
      } else if (o.key === 'start_time') {
        startOrdered = true;
        out.push({ v: r.start, desc });
      } else if (o.key === 'end_time') {
        out.push({ v: r.end == null ? 1 : 0, desc: false });
        out.push({ v: r.end ?? 0, desc });
      } else if (o.key === 'run_id') {
        out.push({ v: r.uuid, desc });
        return out;
      } else {
        const v = o.key === 'run_name' ? (r.name ?? r.label) : o.key === 'status' ? (r.status ?? 'FINISHED') : o.key === 'user_id' ? (r.user ?? 'u') : `s3://bucket/${r.label}`;
        out.push({ v: str(v), desc });
      }
    }
    if (!startOrdered) out.push({ v: r.start, desc: true });
    out.push({ v: r.uuid, desc: false });
    return out;
  };
  return [...specs]
    .map((r) => ({ r, k: keys(r) }))
    .sort((a, b) => {
      for (let i = 0; i < a.k.length; i++) {
        const c = cmp(a.k[i]!.v, b.k[i]!.v);
        if (c !== 0) return a.k[i]!.desc ? -c : c;
      }
      return 0;
    })
    .map((x) => x.r.label);
}

// ---------------------------------------------------------------------------------------------

for (const kind of DB_KINDS) {
  describe(`search on ${kind}`, () => {
    let db: Knex;
    let close: () => Promise<void>;
    let fx: Fixture;
    let mysql = false;
    let expA = 0;
    let expB = 0;
    let expBulk = 0;
    let otherProject = 0;

    const runs = async (q: Partial<SearchRunsQuery> & { experimentIds: number[] }) => {
      const res = await searchRuns(db, { maxResults: 1000, viewType: 'ACTIVE_ONLY', ...q });
      return fx.labels(res.runIds);
    };
    const A = (filter: string) => runs({ experimentIds: [expA], filter });
    const uuid = (label: string) => fx.labelToUuid.get(label)!;

    /** Pages through a search with the given page size and returns all labels in order. */
    const pageAll = async (q: Omit<SearchRunsQuery, 'maxResults' | 'pageToken'>, size: number) => {
      const out: string[] = [];
      let token: string | undefined;
      for (let guard = 0; guard < 10000; guard++) {
        const res = await searchRuns(db, { ...q, maxResults: size, pageToken: token });
        expect(res.runIds.length).toBeLessThanOrEqual(size);
        out.push(...fx.labels(res.runIds));
        token = res.nextPageToken;
        if (!token) return out;
        expect(res.runIds.length).toBe(size);
      }
      throw new Error('paging did not end');
    };

    beforeAll(async () => {
      const t = await freshDb(kind);
      db = t.db;
      close = () => t.drop();
      mysql = isMysql(db);
      fx = new Fixture(db);
      fx.projectId = await fx.project('g/p');
      otherProject = await fx.project('g/other');
      expA = await fx.experiment(fx.projectId, 1, 'A');
      expB = await fx.experiment(fx.projectId, 2, 'B');
      expBulk = await fx.experiment(fx.projectId, 3, 'bulk');
      const [d1] = await db('datasets').insert({ experiment_id: expA, name: 'train-ds', digest: 'abc', source_type: 'local', source: '{}' });
      const [d2] = await db('datasets').insert({ experiment_id: expA, name: 'eval-ds', digest: 'def', source_type: 'local', source: '{}' });

      await fx.run({
        label: 'r1', exp: expA, start: 1000, end: 2000, name: 'alpha-run', user: 'alice', status: 'FINISHED',
        metrics: { loss: 0.5, acc: 0.9 }, params: { lr: '0.1', opt: 'Adam', path: 'a_b' }, tags: { team: 'Alpha', sp: 'x' },
        inputs: { [Number(d1)]: 'training', [Number(d2)]: 'eval' },
      });
      await fx.run({
        label: 'r2', exp: expA, start: 2000, end: null, name: 'Beta', user: 'bob', status: 'RUNNING',
        metrics: { loss: 0.3 }, params: { lr: '0.01', opt: 'adam', path: 'axb' }, tags: { team: 'alpha', sp: 'x ' },
        inputs: { [Number(d2)]: 'eval' },
      });
      await fx.run({ label: 'r3', exp: expA, start: 3000, end: 3500, name: 'gamma', user: 'alice', status: 'FAILED', metrics: { loss: NaN }, params: { lr: '0.1' }, tags: { team: 'beta' } });
      await fx.run({ label: 'r4', exp: expA, start: 3000, end: 4000, name: 'delta', status: 'FINISHED', metrics: { loss: Infinity } });
      await fx.run({ label: 'r5', exp: expA, start: 500, end: 600, name: 'eps', status: 'KILLED', params: { opt: 'SGD' } });
      await fx.run({ label: 'r6', exp: expA, start: 4000, name: 'deleted-run', stage: 'deleted', metrics: { loss: -Infinity } });
      await fx.run({ label: 'r7', exp: expB, start: 2500, name: 'other', metrics: { loss: 0.3 }, params: { lr: '0.1' } });

      // A bulk experiment with many ties, NaN, ±Infinity, missing values and long shared-prefix strings.
      await db.transaction(async (trx) => {
        for (let i = 0; i < 90; i++) {
          const metrics: Record<string, number> = {};
          if (i % 11 !== 0) metrics.m = i % 9 === 0 ? NaN : i % 13 === 0 ? Infinity : i % 17 === 0 ? -Infinity : ((i * 37) % 17) / 4;
          const params: Record<string, string> = {};
          if (i % 5 !== 0) params.p = `v${(i * 7) % 6}`;
          const tags: Record<string, string> = {};
          if (i % 4 === 0) tags.t = 'L'.repeat(300) + String.fromCharCode(97 + (i % 3));
          else if (i % 4 === 1) tags.t = `t${i % 3}`;
          await fx.insertRun(trx, {
            label: `b${i}`, exp: expBulk, start: 1000 + (i % 7) * 10, end: i % 6 === 0 ? null : 5000 - (i % 10) * 3,
            status: ['FINISHED', 'FAILED', 'RUNNING'][i % 3]!, name: `n${i % 8}`, metrics, params, tags,
          }, (i * 7919 % 1000).toString(16).padStart(4, '0') + i.toString(16).padStart(28, '0'));
        }
      });
    }, 120_000);

    afterAll(async () => {
      await close?.();
    }, 60_000);

    // ----- filters -------------------------------------------------------------------------

    it('default order: start_time DESC, run_uuid ASC', async () => {
      expect(await A('')).toEqual(['r3', 'r4', 'r2', 'r1', 'r5']);
    });

    it('view types', async () => {
      expect(await runs({ experimentIds: [expA], viewType: 'DELETED_ONLY' })).toEqual(['r6']);
      expect(await runs({ experimentIds: [expA], viewType: 'ALL' })).toEqual(['r6', 'r3', 'r4', 'r2', 'r1', 'r5']);
    });

    it('multiple experiment ids, and none', async () => {
      expect(await runs({ experimentIds: [expA, expB] })).toEqual(['r3', 'r4', 'r7', 'r2', 'r1', 'r5']);
      expect(await runs({ experimentIds: [expB] })).toEqual(['r7']);
      expect(await runs({ experimentIds: [] })).toEqual([]);
    });

    it.each([
      ['metrics.loss = 0.3', ['r2']],
      ['metrics.loss != 0.3', ['r4', 'r1']],
      ['metrics.loss > 0.4', ['r4', 'r1']],
      ['metrics.loss >= 0.5', ['r4', 'r1']],
      ['metrics.loss < 0.5', ['r2']],
      ['metrics.loss <= 0.5', ['r2', 'r1']],
      ['metrics.loss = 0', []], // NaN is stored as 0 but never matches
      ['metrics.loss > 1e308', ['r4']], // +Infinity is stored as the largest double
      ['metrics.loss >= 1e999', ['r4']], // a literal beyond the double range means Infinity
      ['metric.acc > 0', ['r1']],
      ['metrics.missing > -1e308', []],
    ])('metric filter %s', async (filter, expected) => {
      expect(await A(filter)).toEqual(expected);
    });

    it('metric filter spans experiments', async () => {
      expect(await runs({ experimentIds: [expA, expB], filter: 'metrics.loss = 0.3' })).toEqual(['r7', 'r2']);
    });

    it.each([
      ["params.lr = '0.1'", ['r3', 'r1']],
      ["params.lr != '0.1'", ['r2']], // runs without the param never match
      ["params.lr LIKE '0.0%'", ['r2']],
      ["params.lr LIKE '0._'", ['r3', 'r1']],
      ["params.opt LIKE 'A%'", ['r1']], // LIKE is case-sensitive
      ["params.opt ILIKE 'A%'", ['r2', 'r1']],
      ["params.opt = 'adam'", ['r2']],
      ["params.opt ILIKE 'ADAM'", ['r2', 'r1']],
      ["params.path LIKE 'a_b'", ['r2', 'r1']],
      ["params.path LIKE 'a\\_b'", ['r1']], // backslash escapes a wildcard on both databases
      ["tags.team = 'alpha'", ['r2']],
      ["tags.team != 'alpha'", ['r3', 'r1']],
      ["tags.team LIKE 'a%'", ['r2']],
      ["tags.team ILIKE 'a%'", ['r2', 'r1']],
      ["tags.team ILIKE '%A'", ['r3', 'r2', 'r1']],
      ["tags.sp = 'x'", ['r1']], // trailing spaces are significant (MariaDB's _bin pads otherwise)
      ["tags.sp = 'x '", ['r2']],
      ["tags.sp != 'x'", ['r2']],
      ["tags.sp LIKE 'x'", ['r1']],
    ])('param/tag filter %s', async (filter, expected) => {
      expect(await A(filter)).toEqual(expected);
    });

    it.each([
      ["attributes.status = 'FINISHED'", ['r4', 'r1']],
      ["attributes.status != 'FINISHED'", ['r3', 'r2', 'r5']],
      ["status LIKE 'F%'", ['r3', 'r4', 'r1']],
      ["status ILIKE 'f%d'", ['r3', 'r4', 'r1']],
      ["attributes.run_name LIKE '%a'", ['r3', 'r4', 'r2']],
      ["run_name ILIKE 'b%'", ['r2']],
      ["run_name = 'beta'", []],
      ["`Run Name` = 'Beta'", ['r2']],
      ["attributes.user_id = 'alice'", ['r3', 'r1']],
      ["user_id != 'alice'", ['r4', 'r2', 'r5']],
      ["attributes.artifact_uri = 's3://bucket/r1'", ['r1']],
      ['start_time = 3000', ['r3', 'r4']],
      ['start_time != 3000', ['r2', 'r1', 'r5']],
      ['start_time > 1000', ['r3', 'r4', 'r2']],
      ['attributes.start_time >= 1000', ['r3', 'r4', 'r2', 'r1']],
      ['created < 2000', ['r1', 'r5']],
      ['start_time <= 2000', ['r2', 'r1', 'r5']],
      ['start_time > 999.5', ['r3', 'r4', 'r2', 'r1']],
      ['end_time > 2500', ['r3', 'r4']],
      ['end_time != 0', ['r3', 'r4', 'r1', 'r5']], // a run without end_time never matches
      ['end_time <= 9223372036854775807', ['r3', 'r4', 'r1', 'r5']],
    ])('attribute filter %s', async (filter, expected) => {
      expect(await A(filter)).toEqual(expected);
    });

    it('run_id =, IN, NOT IN', async () => {
      expect(await A(`attributes.run_id = '${uuid('r2')}'`)).toEqual(['r2']);
      const b10 = uuid('b10');
      expect(b10).toMatch(/[a-f]/);
      expect(await runs({ experimentIds: [expBulk], filter: `run_id = '${b10}'` })).toEqual(['b10']);
      expect(await runs({ experimentIds: [expBulk], filter: `run_id = '${b10.toUpperCase()}'` })).toEqual([]);
      expect(await runs({ experimentIds: [expBulk], filter: `run_id IN ('${b10.toUpperCase()}')` })).toEqual([]);
      expect(await A(`run_id IN ('${uuid('r1')}', '${uuid('r5')}', 'nope')`)).toEqual(['r1', 'r5']);
      expect(await A(`run_id NOT IN ('${uuid('r1')}', '${uuid('r5')}')`)).toEqual(['r3', 'r4', 'r2']);
      expect(await A(`run_id LIKE '%${uuid('r1').slice(-2)}'`)).toEqual(['r1']);
    });

    it.each([
      ["datasets.name = 'train-ds'", ['r1']],
      ["datasets.name != 'train-ds'", ['r2', 'r1']], // any input that differs
      ["datasets.name LIKE 'train%'", ['r1']],
      ["datasets.name ILIKE 'EVAL%'", ['r2', 'r1']],
      ["datasets.name IN ('eval-ds', 'x')", ['r2', 'r1']],
      ["datasets.name NOT IN ('eval-ds')", ['r1']],
      ["datasets.digest = 'def'", ['r2', 'r1']],
      ["datasets.context = 'training'", ['r1']],
      ["datasets.context LIKE 'ev%'", ['r2', 'r1']],
      ["datasets.context ILIKE 'EVAL'", ['r2', 'r1']],
      ["datasets.context IN ('training')", ['r1']],
    ])('dataset filter %s', async (filter, expected) => {
      expect(await A(filter)).toEqual(expected);
    });

    it('odd values are bound safely', async () => {
      const exp = await fx.experiment(fx.projectId, 50, 'odd');
      await fx.run({ label: 'q1', exp, start: 2, params: { 'k?': "it's ? \\ %", 'k"`': 'é' }, tags: { t: 'a\\' } });
      await fx.run({ label: 'q2', exp, start: 1, params: { 'k?': 'x' }, tags: { t: 'ÉCOLE' } });
      const R = (filter: string) => runs({ experimentIds: [exp], filter });
      expect(await R("params.`k?` = 'it''s ? \\ %'")).toEqual(['q1']);
      expect(await R('params."k?" = "it\'s ? \\ %"')).toEqual(['q1']);
      expect(await R("params.`k?` LIKE '%?%'")).toEqual(['q1']);
      expect(await R("params.`k?` LIKE '%\\%'")).toEqual(['q1']); // escaped % matches a literal %
      expect(await R("params.`k\"``` = 'é'")).toEqual(['q1']); // a doubled backtick stands for itself: key k"`
      expect(await R("params.\"k\"\"`\" = 'é'")).toEqual(['q1']);
      expect(await R("tags.t LIKE 'a\\'")).toEqual(['q1']); // a lone trailing escape character is a literal backslash on both
      expect(await R("tags.t = 'a\\'")).toEqual(['q1']);
      expect(await R("tags.t LIKE 'É%'")).toEqual(['q2']);
      expect(await R("tags.t ILIKE 'éCOLE'")).toEqual(mysql ? ['q2'] : []); // SQLite's LOWER() folds ASCII only
    });

    it('conjunctions', async () => {
      expect(await A("metrics.loss < 1 AND params.lr = '0.1'")).toEqual(['r1']);
      expect(await A("params.lr = '0.1' and tags.team = 'beta' AND start_time > 0")).toEqual(['r3']);
      expect(await A("metrics.loss > 0 AND metrics.acc > 0 AND datasets.context = 'eval' AND attributes.status = 'FINISHED'")).toEqual(['r1']);
    });

    it('invalid filters and order_by surface as 400s', async () => {
      expectInvalid(await rejection(A('metrics.a > 1 OR metrics.b > 1')), /Invalid clause\(s\)/);
      expectInvalid(await rejection(runs({ experimentIds: [expA], orderBy: ['metrics.a', 'metric.a'] })), /duplicate fields/);
    });

    // ----- ordering ------------------------------------------------------------------------

    it.each([
      [['metrics.loss ASC'], ['r2', 'r1', 'r4', 'r3', 'r5']], // values, then NaN, then missing
      [['metrics.loss DESC'], ['r4', 'r1', 'r2', 'r3', 'r5']], // still NaN then missing last
      [['metrics.loss'], ['r2', 'r1', 'r4', 'r3', 'r5']],
      [['params.lr ASC'], ['r2', 'r3', 'r1', 'r4', 'r5']], // tie on '0.1' → start_time DESC; missing last
      [['params.lr DESC'], ['r3', 'r1', 'r2', 'r4', 'r5']],
      [['tags.team ASC'], ['r1', 'r2', 'r3', 'r4', 'r5']], // binary: 'Alpha' < 'alpha' < 'beta'
      [['tags.team DESC'], ['r3', 'r2', 'r1', 'r4', 'r5']],
      [['start_time ASC'], ['r5', 'r1', 'r2', 'r3', 'r4']], // no start_time DESC tie-break: run_uuid decides
      [['created DESC'], ['r3', 'r4', 'r2', 'r1', 'r5']],
      [['end_time DESC'], ['r4', 'r3', 'r1', 'r5', 'r2']], // missing end_time last
      [['end_time ASC'], ['r5', 'r1', 'r3', 'r4', 'r2']],
      [['attributes.run_name ASC'], ['r2', 'r1', 'r4', 'r5', 'r3']],
      [['status'], ['r3', 'r4', 'r1', 'r5', 'r2']], // FINISHED tie → start_time DESC
      [['run_id DESC'], ['r5', 'r4', 'r3', 'r2', 'r1']],
      [['user_id DESC', 'run_id ASC'], ['r4', 'r5', 'r2', 'r1', 'r3']],
      [['params.opt ASC', 'metrics.loss DESC'], ['r1', 'r5', 'r2', 'r4', 'r3']],
    ])('order_by %j', async (orderBy, expected) => {
      expect(await runs({ experimentIds: [expA], orderBy })).toEqual(expected);
    });

    it('orders -Infinity first ascending', async () => {
      expect(await runs({ experimentIds: [expA], viewType: 'ALL', orderBy: ['metrics.loss'] })).toEqual(['r6', 'r2', 'r1', 'r4', 'r3', 'r5']);
    });

    // ----- paging --------------------------------------------------------------------------

    const orderings: string[][] = [
      [],
      ['metrics.m ASC'],
      ['metrics.m DESC'],
      ['params.p DESC', 'metrics.m'],
      ['tags.t ASC'],
      ['tags.t DESC', 'params.p ASC'],
      ['end_time ASC'],
      ['end_time DESC', 'params.p'],
      ['start_time ASC'],
      ['run_id DESC'],
      ['attributes.status', 'created DESC'],
      ['run_name DESC', 'metrics.m DESC', 'tags.t'],
    ];

    it.each(orderings.map((o) => [o]))('bulk order %j matches the reference order', async (orderBy) => {
      const all = await runs({ experimentIds: [expBulk], orderBy, maxResults: 50000 });
      const specs = [...fx.specs.values()].filter((s) => s.exp === expBulk);
      expect(all).toEqual(referenceOrder(specs, parseRunOrderBy(orderBy), mysql));
    });

    it.each(orderings.flatMap((o) => [1, 4, 13].map((size) => [o, size] as const)))(
      'paging %j by %i equals one large page',
      async (orderBy, size) => {
        const q = { experimentIds: [expBulk], orderBy, viewType: 'ACTIVE_ONLY' as const };
        const all = fx.labels((await searchRuns(db, { ...q, maxResults: 50000 })).runIds);
        expect(all).toHaveLength(90);
        expect(await pageAll(q, size)).toEqual(all);
      },
    );

    it('paging with a filter and across experiments', async () => {
      const q = { experimentIds: [expBulk, expA, expB], filter: 'metrics.m > 1', orderBy: ['metrics.m DESC'], viewType: 'ALL' as const };
      const all = fx.labels((await searchRuns(db, { ...q, maxResults: 50000 })).runIds);
      expect(all.length).toBeGreaterThan(20);
      expect(await pageAll(q, 7)).toEqual(all);
    });

    it('returns a token only when more rows exist', async () => {
      const full = await searchRuns(db, { experimentIds: [expA], maxResults: 5, viewType: 'ACTIVE_ONLY' });
      expect(full.runIds).toHaveLength(5);
      expect(full.nextPageToken).toBeUndefined();
      const first = await searchRuns(db, { experimentIds: [expA], maxResults: 4, viewType: 'ACTIVE_ONLY' });
      expect(first.nextPageToken).toMatch(/^[A-Za-z0-9_-]+$/);
      const rest = await searchRuns(db, { experimentIds: [expA], maxResults: 4, viewType: 'ACTIVE_ONLY', pageToken: first.nextPageToken });
      expect(fx.labels(rest.runIds)).toEqual(['r5']);
      expect(rest.nextPageToken).toBeUndefined();
    });

    it('rejects bad page tokens', async () => {
      const base = { experimentIds: [expA], maxResults: 2, viewType: 'ACTIVE_ONLY' as const, orderBy: ['metrics.loss'] };
      const good = (await searchRuns(db, base)).nextPageToken!;
      const decoded = JSON.parse(Buffer.from(good, 'base64url').toString('utf8'));
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const bad = [
        'not a token!',
        'eyJvZmZzZXQiOiAxMDAwfQ==', // MLflow's offset token
        Buffer.from('not json').toString('base64url'),
        enc([1, 2]),
        enc({ ...decoded, extra: 1 }),
        enc({ ...decoded, v: 2 }),
        enc({ ...decoded, k: decoded.k.slice(1) }),
        enc({ ...decoded, k: ['0', ...decoded.k.slice(1)] }), // flag as a string
        enc({ ...decoded, k: [decoded.k[0], 'x', ...decoded.k.slice(2)] }), // double as a string
        enc({ ...decoded, k: [...decoded.k.slice(0, 2), 1e400, ...decoded.k.slice(3)] }),
        enc({ ...decoded, k: [...decoded.k.slice(0, 2), '1.5', ...decoded.k.slice(3)] }), // start_time not integral
        enc({ ...decoded, k: [...decoded.k.slice(0, 2), '99999999999999999999', ...decoded.k.slice(3)] }),
        enc({ ...decoded, q: 'experiments' }),
        good + 'A',
      ];
      for (const pageToken of bad) {
        expectInvalid(await rejection(searchRuns(db, { ...base, pageToken })), /^Invalid page token/);
      }
      // a token is tied to its order_by
      expectInvalid(await rejection(searchRuns(db, { ...base, orderBy: ['metrics.loss DESC'], pageToken: good })), /Invalid page token.*order_by/);
      expectInvalid(await rejection(searchExperiments(db, { projectId: fx.projectId, maxResults: 1, viewType: 'ALL', pageToken: good })), /Invalid page token/);
      // the good one still works
      expect((await searchRuns(db, { ...base, pageToken: good })).runIds).toHaveLength(2);
    });

    it.each([
      [[] as string[]],
      [['metrics.s ASC']],
      [['params.s DESC']],
    ])('paging is stable while runs arrive (order %j)', async (orderBy) => {
      const exp = await fx.experiment(fx.projectId, 100 + orderBy.length * 10 + (orderBy[0]?.startsWith('p') ? 1 : 0), `stable-${JSON.stringify(orderBy)}`);
      const originals: string[] = [];
      const tag = `s${exp}`;
      // this experiment's run_uuids: a prefix of its own, then an even number (odd ones are free for newcomers)
      const prefix = '5' + exp.toString(16).padStart(3, '0');
      const uuidOf = (n: bigint) => prefix + n.toString(16).padStart(28, '0');
      for (let i = 0; i < 30; i++) {
        const label = `${tag}-o${i}`;
        originals.push(label);
        await fx.run({
          label, exp, start: 1000 + Math.floor(i / 3) * 10,
          metrics: i % 10 === 9 ? {} : { s: i % 8 === 7 ? NaN : Math.floor(i / 2) },
          params: i % 10 === 9 ? {} : { s: `v${String(Math.floor(i / 2)).padStart(2, '0')}` },
        }, uuidOf(BigInt(i) * 2n + 2n));
      }
      const q = { experimentIds: [exp], orderBy, viewType: 'ACTIVE_ONLY' as const };
      const first = await searchRuns(db, { ...q, maxResults: 10 });
      const seen = fx.labels(first.runIds);
      expect(seen).toHaveLength(10);

      // Insert runs that sort before the cursor, at the cursor (both sides of its tie-breakers)
      // and after it, plus runs identical to the last row except for the run_uuid.
      const last = fx.specs.get(seen[seen.length - 1]!)!;
      const lastUuid = last.uuid;
      const lastNum = BigInt('0x' + lastUuid.slice(4));
      const newcomers: string[] = [];
      const add = async (suffix: string, spec: Partial<RunSpec>, uuidHex?: string) => {
        const label = `${tag}-n${suffix}`;
        newcomers.push(label);
        await fx.run({ label, exp, start: 5000, ...spec }, uuidHex);
      };
      await add('top', { start: 99999, metrics: { s: -1 }, params: { s: 'a' } });
      await add('bottom', { start: 1, metrics: {}, params: {} });
      await add('same-lo', { start: last.start, metrics: last.metrics, params: last.params }, uuidOf(lastNum - 1n));
      await add('same-hi', { start: last.start, metrics: last.metrics, params: last.params }, uuidOf(lastNum + 1n));
      await add('mid', { start: 1055, metrics: { s: 7.5 }, params: { s: 'v07x' } });
      await add('nan', { start: 1055, metrics: { s: NaN }, params: { s: 'v99' } });
      expect(lastUuid).toBeTruthy();

      let token = first.nextPageToken;
      while (token) {
        const page = await searchRuns(db, { ...q, maxResults: 10, pageToken: token });
        seen.push(...fx.labels(page.runIds));
        token = page.nextPageToken;
      }
      expect(new Set(seen).size).toBe(seen.length); // no duplicates
      for (const o of originals) expect(seen.filter((s) => s === o)).toHaveLength(1);
      // every newcomer sorting after the cursor shows up, in the reference order
      const now = fx.labels((await searchRuns(db, { ...q, maxResults: 50000 })).runIds);
      const cursorIndex = now.indexOf(seen[9]!);
      expect(seen.slice(10)).toEqual(now.slice(cursorIndex + 1));
      expect(newcomers.some((n) => seen.includes(n))).toBe(true);
      expect(newcomers.some((n) => !seen.includes(n))).toBe(true);
    });

    // ----- experiments ---------------------------------------------------------------------

    describe('experiments', () => {
      let project = 0;
      const ex = new Map<number, string>();
      const exps = async (q: Partial<SearchExperimentsQuery>) => {
        const res = await searchExperiments(db, { projectId: project, maxResults: 1000, viewType: 'ACTIVE_ONLY', ...q });
        return res.experimentIds.map((id) => ex.get(id) ?? `?${id}`);
      };

      beforeAll(async () => {
        project = await fx.project('g/experiments');
        ex.set(await fx.experiment(project, 1, 'Alpha', { creation: 100, update: 500, tags: { team: 'x' } }), 'e1');
        ex.set(await fx.experiment(project, 2, 'alpha', { creation: 200, update: 400, tags: { team: 'X', sp: 'y ' } }), 'e2');
        ex.set(await fx.experiment(project, 3, 'beta', { creation: 200, update: 300, tags: { sp: 'y' } }), 'e3');
        ex.set(await fx.experiment(project, 4, 'gamma', { creation: 50, stage: 'deleted' }), 'e4');
        ex.set(await fx.experiment(otherProject, 1, 'alpha', { creation: 999 }), 'other');
      });

      it.each([
        ['', ['e2', 'e3', 'e1']],
        ["name = 'alpha'", ['e2']],
        ["attribute.name != 'alpha'", ['e3', 'e1']],
        ["name LIKE 'a%'", ['e2']],
        ["name ILIKE 'a%'", ['e2', 'e1']],
        ['creation_time > 100', ['e2', 'e3']],
        ['creation_time = 200', ['e2', 'e3']],
        ['creation_time != 200', ['e1']],
        ['creation_time >= 100', ['e2', 'e3', 'e1']],
        ['creation_time < 200', ['e1']],
        ['last_update_time <= 400', ['e2', 'e3']],
        ["tags.team = 'x'", ['e1']],
        ["tags.team != 'x'", ['e2']],
        ["tag.team LIKE 'x'", ['e1']],
        ["tags.team ILIKE 'x'", ['e2', 'e1']],
        ["tags.sp = 'y'", ['e3']],
        ["tags.team ILIKE 'x' AND creation_time > 150", ['e2']],
      ])('filter %s', async (filter, expected) => {
        expect(await exps({ filter })).toEqual(expected);
      });

      it.each([
        [['name'], ['e1', 'e2', 'e3']],
        [['name DESC'], ['e3', 'e2', 'e1']],
        [['experiment_id DESC'], ['e3', 'e2', 'e1']],
        [['experiment_id'], ['e1', 'e2', 'e3']],
        [['creation_time ASC'], ['e1', 'e3', 'e2']], // tie → experiment_id DESC
        [['creation_time DESC', 'experiment_id ASC'], ['e2', 'e3', 'e1']],
        [['last_update_time'], ['e3', 'e2', 'e1']],
        [['attribute.last_update_time DESC'], ['e1', 'e2', 'e3']],
      ])('order_by %j', async (orderBy, expected) => {
        expect(await exps({ orderBy })).toEqual(expected);
      });

      it('view types', async () => {
        expect(await exps({ viewType: 'DELETED_ONLY' })).toEqual(['e4']);
        expect(await exps({ viewType: 'ALL' })).toEqual(['e2', 'e3', 'e1', 'e4']);
      });

      it('paging: every page size gives the same sequence; token only when more rows exist', async () => {
        for (const orderBy of [[], ['name'], ['creation_time ASC'], ['last_update_time DESC']]) {
          const all = await exps({ viewType: 'ALL', orderBy });
          for (const size of [1, 2, 3]) {
            const seen: string[] = [];
            let token: string | undefined;
            do {
              const res = await searchExperiments(db, { projectId: project, viewType: 'ALL', orderBy, maxResults: size, pageToken: token });
              seen.push(...res.experimentIds.map((id) => ex.get(id)!));
              token = res.nextPageToken;
            } while (token);
            expect(seen).toEqual(all);
          }
        }
        const exact = await searchExperiments(db, { projectId: project, viewType: 'ALL', maxResults: 4 });
        expect(exact.experimentIds).toHaveLength(4);
        expect(exact.nextPageToken).toBeUndefined();
      });

      it('paging is stable while experiments arrive', async () => {
        const p = await fx.project('g/exp-stable');
        const names = new Map<number, string>();
        for (let i = 1; i <= 12; i++) names.set(await fx.experiment(p, i, `e${i}`, { creation: Math.floor(i / 2) * 10 }), `e${i}`);
        // first page: e12 (60), e10, e11 (50), e8, e9 (40), e6 (30) — the cursor is (30, 6)
        const first = await searchExperiments(db, { projectId: p, viewType: 'ACTIVE_ONLY', maxResults: 6 });
        const seen = first.experimentIds.map((id) => names.get(id)!);
        names.set(await fx.experiment(p, 13, 'new-top', { creation: 1000 }), 'new-top');
        names.set(await fx.experiment(p, 14, 'new-bottom', { creation: 0 }), 'new-bottom');
        names.set(await fx.experiment(p, 0, 'new-tie-before', { creation: 30 }), 'new-tie-before');
        names.set(await fx.experiment(p, 15, 'new-tie-after', { creation: 30 }), 'new-tie-after');
        let token = first.nextPageToken;
        while (token) {
          const res = await searchExperiments(db, { projectId: p, viewType: 'ACTIVE_ONLY', maxResults: 5, pageToken: token });
          seen.push(...res.experimentIds.map((id) => names.get(id)!));
          token = res.nextPageToken;
        }
        expect(new Set(seen).size).toBe(seen.length);
        for (let i = 1; i <= 12; i++) expect(seen).toContain(`e${i}`);
        expect(seen).toContain('new-bottom');
        expect(seen).toContain('new-tie-after');
        expect(seen).not.toContain('new-top');
        expect(seen).not.toContain('new-tie-before');
      });

      it('rejects bad input with 400s', async () => {
        expectInvalid(await rejection(exps({ filter: 'metrics.a > 1' })), /Invalid entity type 'metrics'/);
        expectInvalid(await rejection(exps({ orderBy: ['tags.a'] })), /Invalid order_by entity: tag/);
        expectInvalid(await rejection(exps({ pageToken: 'garbage!' })), /Invalid page token/);
      });
    });

    // ----- volume (timings belong to scripts/bench/search.ts) --------------------------------

    it('three thousand runs: every search shape answers and paging covers each run once', async () => {
      const exp = await fx.experiment(fx.projectId, 999, 'perf');
      const N = 3000;
      const t0 = performance.now();
      const runRows: Record<string, unknown>[] = [];
      for (let i = 0; i < N; i++) {
        runRows.push({
          run_uuid: `c${((i * 2654435761) >>> 0).toString(16).padStart(8, '0').slice(-7)}${i.toString(16).padStart(24, '0')}`,
          project_id: fx.projectId, experiment_id: exp, name: `run-${i}`, user_id: 'u', status: 'FINISHED',
          start_time: 1_700_000_000_000 + (i % 500) * 1000, end_time: null, lifecycle_stage: 'active', artifact_uri: 'x',
        });
      }
      await db.transaction(async (trx) => {
        await trx.batchInsert('runs', runRows, 500);
        const ids = (await trx('runs').where('experiment_id', exp).select('id')).map((r: { id: unknown }) => Number(r.id));
        expect(ids.length).toBe(N);
        const m: object[] = [];
        const pr: object[] = [];
        const tg: object[] = [];
        ids.forEach((id, i) => {
          for (const key of ['loss', 'acc', 'f1']) m.push({ run_id: id, experiment_id: exp, key, value: ((i * 7919) % 1000) / 1000, is_nan: 0, timestamp: 1, step: 0 });
          for (const key of ['lr', 'opt', 'seed']) pr.push({ run_id: id, key, value: `${key}-${i % 37}` });
          for (const key of ['team', 'mlflow.runName']) tg.push({ run_id: id, key, value: `${key}-${i % 11}` });
        });
        await trx.batchInsert('latest_metrics', m, 500);
        await trx.batchInsert('params', pr, 500);
        await trx.batchInsert('tags', tg, 500);
      });
      const tInsert = performance.now() - t0;
      const time = async (label: string, q: Partial<SearchRunsQuery>) => {
        const s = performance.now();
        const res = await searchRuns(db, { experimentIds: [exp], maxResults: 1000, viewType: 'ACTIVE_ONLY', ...q });
        const ms = performance.now() - s;
        return { label, ms: Math.round(ms * 10) / 10, n: res.runIds.length, token: res.nextPageToken };
      };
      const results = [];
      results.push(await time('default order, 1000', {}));
      results.push(await time('order metrics.loss DESC, 1000', { orderBy: ['metrics.loss DESC'] }));
      results.push(await time("filter metrics.loss > 0.5 AND params.opt = 'opt-3', order params.lr", { filter: "metrics.loss > 0.5 AND params.opt = 'opt-3'", orderBy: ['params.lr'] }));
      const p1 = await time('order tags.team, metrics.acc DESC, 1000', { orderBy: ['tags.team', 'metrics.acc DESC'] });
      results.push(p1);
      results.push(await time('…its page 2 (keyset)', { orderBy: ['tags.team', 'metrics.acc DESC'], pageToken: p1.token }));
      const s = performance.now();
      const pages = await pageAll({ experimentIds: [exp], orderBy: ['metrics.f1'], viewType: 'ACTIVE_ONLY' }, 100);
      results.push({ label: 'page through 3000 by 100 (order metrics.f1)', ms: Math.round(performance.now() - s), n: pages.length, token: undefined });
      expect(results.map((r) => r.n)).toEqual([1000, 1000, 81, 1000, 1000, N]);
      expect(tInsert).toBeGreaterThan(0);
      expect(pages).toHaveLength(N);
      expect(new Set(pages).size).toBe(N);
    }, 120_000);
  });
}
