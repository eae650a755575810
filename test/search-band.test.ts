/**
 * runs/search's value band (db/search/run-band.ts): pages ordered by a metric or by start_time, through every path
 * (the first band, bands grown after a filter rejected rows, the band to the segment's end, then NaN rows, then runs
 * lacking the key), must partition exactly the ordering MLflow defines, with no run twice and none missing, on
 * SQLite and MySQL. Ties cut by page ends, NaN, ±Infinity, deleted runs and an unsearched experiment whose values
 * interleave with the searched ones are all in the fixture; the expected order is computed here, in JS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { DB_KINDS, freshDb } from './helpers/db.ts';
import { DOUBLE_MAX } from '../core/codecs.ts';
import { searchRuns } from '../db/search/runs.ts';
import type { ViewType } from '../core/entities.ts';
import { rng } from './helpers/rng.ts';

interface Spec {
  id: number;
  uuid: string;
  exp: number;
  start: number;
  stage: 'active' | 'deleted';
  m?: number; // NaN: a NaN value; undefined: no such key
  f: number;
  p: string;
}


const stored = (v: number) => (v === Infinity ? DOUBLE_MAX : v === -Infinity ? -DOUBLE_MAX : v);

/** MLflow's order: has a value, then NaN, then lacking the key (ASC and DESC alike), the value, start_time DESC, run_uuid ASC. */
function expected(runs: Spec[], by: { key: 'm' | 'f' | 'start'; desc: boolean } | null): string[] {
  const seg = (r: Spec, key: 'm' | 'f') => (r[key] === undefined ? 2 : Number.isNaN(r[key]) ? 1 : 0);
  return [...runs]
    .sort((a, b) => {
      if (by && by.key !== 'start') {
        const d = seg(a, by.key) - seg(b, by.key);
        if (d) return d;
        if (seg(a, by.key) === 0) {
          const x = stored(a[by.key]!);
          const y = stored(b[by.key]!);
          if (x !== y) return (x < y ? -1 : 1) * (by.desc ? -1 : 1);
        }
      }
      if (a.start !== b.start) return (a.start < b.start ? -1 : 1) * (by?.key === 'start' && !by.desc ? 1 : -1);
      return a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0;
    })
    .map((r) => r.uuid);
}

for (const kind of DB_KINDS) {
  describe(`runs/search value band on ${kind}`, () => {
    let db: Knex;
    let close: () => Promise<void>;
    let searched: number[] = [];
    const all: Spec[] = [];
    const uuidOf = new Map<number, string>();

    beforeAll(async () => {
      const t = await freshDb(kind);
      db = t.db;
      close = () => t.drop();
      const [pid] = await db('projects').insert({ path: 'g/band', name: 'band', visibility: 'private', last_experiment_iid: 0, created_at: 1 });
      const exps: number[] = [];
      for (const iid of [1, 2, 3]) {
        const [id] = await db('experiments').insert({
          project_id: Number(pid), experiment_id: iid, name: `e${iid}`, artifact_location: 'x', lifecycle_stage: 'active', creation_time: 0, last_update_time: 0,
        });
        exps.push(Number(id));
      }
      searched = exps.slice(0, 2); // the third one's values interleave with these, and must never show up
      const rand = rng(11);
      const values = [-Infinity, -1, 0, 1e-300, 0.5, 0.5, 0.5, 2, 2, Infinity];
      for (const [e, n] of [[0, 140], [1, 60], [2, 50]] as const) {
        for (let i = 0; i < n; i++) {
          const u = rand();
          const m = u < 0.7 ? values[Math.floor(rand() * values.length)] : u < 0.8 ? NaN : undefined;
          const run = {
            uuid: Math.floor(rand() * 2 ** 48).toString(16).padStart(12, '0') + String(all.length).padStart(20, '0'),
            exp: exps[e]!,
            start: 1_700_000_000_000 + Math.floor(rand() * 8) * 1000, // 8 start times: ties everywhere
            stage: rand() < 0.1 ? ('deleted' as const) : ('active' as const),
            m,
            f: Math.floor(rand() * 20) / 20,
            p: rand() < 0.4 ? 'keep' : 'drop',
          };
          const [rid] = await db('runs').insert({
            run_uuid: run.uuid, project_id: Number(pid), experiment_id: run.exp, name: 'r', user_id: 'u', status: 'FINISHED',
            start_time: run.start, end_time: null, lifecycle_stage: run.stage, artifact_uri: 'x',
          });
          const id = Number(rid);
          uuidOf.set(id, run.uuid);
          all.push({ id, ...run });
          const metric = (key: string, v: number) => ({
            run_id: id, experiment_id: run.exp, key, value: Number.isNaN(v) ? 0 : stored(v), is_nan: Number.isNaN(v) ? 1 : 0, timestamp: 1, step: 0,
          });
          await db('latest_metrics').insert([metric('f', run.f), ...(m === undefined ? [] : [metric('m', m)])]);
          await db('params').insert({ run_id: id, key: 'p', value: run.p });
        }
      }
    });
    afterAll(async () => {
      await close?.();
    });

    const pageAll = async (q: { filter?: string; orderBy?: string[]; viewType: ViewType }, size: number) => {
      const out: string[] = [];
      let token: string | undefined;
      for (let guard = 0; guard < 1000; guard++) {
        const res = await searchRuns(db, { experimentIds: searched, ...q, maxResults: size, pageToken: token });
        out.push(...res.runIds.map((id) => uuidOf.get(id)!));
        token = res.nextPageToken;
        if (!token) {
          expect(res.runIds.length).toBeLessThanOrEqual(size);
          return out;
        }
        expect(res.runIds.length).toBe(size);
      }
      throw new Error('paging did not end');
    };

    const orderings = [
      { orderBy: ['metrics.m DESC'], by: { key: 'm', desc: true } },
      { orderBy: ['metrics.m ASC'], by: { key: 'm', desc: false } },
      { orderBy: ['metrics.f DESC'], by: { key: 'f', desc: true } }, // every run has f: the last page skips the missing-key query
      { orderBy: [], by: null },
      { orderBy: ['attributes.start_time ASC'], by: { key: 'start', desc: false } },
    ] as const;
    const filters = [
      { filter: undefined, keep: () => true },
      { filter: "params.p = 'keep'", keep: (r: Spec) => r.p === 'keep' }, // ~40% pass: bands grow
      { filter: 'metrics.f >= 0.9', keep: (r: Spec) => r.f >= 0.9 }, // ~10% pass: the last band runs to the end
      { filter: "params.p = 'none'", keep: () => false },
    ];

    for (const o of orderings) {
      for (const f of filters) {
        it(`order by [${o.orderBy.join(', ')}], filter ${f.filter ?? '(none)'}: pages of 1, 3, 10 and 1000 partition the ordering`, async () => {
          const active = all.filter((r) => searched.includes(r.exp) && r.stage === 'active' && f.keep(r));
          const want = expected(active, o.by as Parameters<typeof expected>[1]);
          if (f.filter === undefined) expect(want.length).toBeGreaterThan(150);
          for (const size of f.filter === undefined ? [1, 3, 10, 1000] : [3, 10, 1000]) {
            const got = await pageAll({ filter: f.filter, orderBy: [...o.orderBy], viewType: 'ACTIVE_ONLY' }, size);
            expect(new Set(got).size).toBe(got.length);
            expect(got).toEqual(want);
          }
        });
      }
    }

    it('deleted runs too (view ALL), ordered by a metric with NaN and missing values', async () => {
      const want = expected(all.filter((r) => searched.includes(r.exp)), { key: 'm', desc: true });
      expect(await pageAll({ orderBy: ['metrics.m DESC'], viewType: 'ALL' }, 7)).toEqual(want);
      const deleted = expected(all.filter((r) => searched.includes(r.exp) && r.stage === 'deleted'), { key: 'm', desc: false });
      expect(deleted.length).toBeGreaterThan(5);
      expect(await pageAll({ orderBy: ['metrics.m ASC'], viewType: 'DELETED_ONLY' }, 2)).toEqual(deleted);
    });

    it('a run written between two pages does not shift the others: later pages still partition the rest', async () => {
      const q = { orderBy: ['metrics.m DESC'], viewType: 'ACTIVE_ONLY' as const };
      const first = await searchRuns(db, { experimentIds: searched, ...q, maxResults: 20 });
      const before = expected(all.filter((r) => searched.includes(r.exp) && r.stage === 'active'), { key: 'm', desc: true });
      expect(first.runIds.map((id) => uuidOf.get(id))).toEqual(before.slice(0, 20));
      // a run that sorts first (largest value) appears on no later page; the rest follow exactly
      const [pid] = await db('runs').where({ id: all[0]!.id }).pluck('project_id');
      const [rid] = await db('runs').insert({
        run_uuid: 'ffffffffffffffffffffffffffffffff', project_id: pid, experiment_id: searched[0], name: 'late', user_id: 'u', status: 'FINISHED',
        start_time: 1, end_time: null, lifecycle_stage: 'active', artifact_uri: 'x',
      });
      try {
        await db('latest_metrics').insert({ run_id: Number(rid), experiment_id: searched[0], key: 'm', value: DOUBLE_MAX, is_nan: 0, timestamp: 1, step: 0 });
        const rest: string[] = [];
        let token = first.nextPageToken;
        while (token) {
          const res = await searchRuns(db, { experimentIds: searched, ...q, maxResults: 20, pageToken: token });
          rest.push(...res.runIds.map((id) => uuidOf.get(id)!));
          token = res.nextPageToken;
        }
        expect(rest).toEqual(before.slice(20));
      } finally {
        await db('runs').where({ id: Number(rid) }).delete();
      }
    });
  });
}

for (const kind of DB_KINDS) {
  describe(`migration 008 on ${kind}`, () => {
    it('gives a latest value without experiment_id its run\'s experiment, so the band (which reads by it) finds the run; down and up again keep the data', async () => {
      const t = await freshDb(kind);
      try {
        const db = t.db;
        const [pid] = await db('projects').insert({ path: 'g/m8', name: 'm8', visibility: 'private', last_experiment_iid: 0, created_at: 1 });
        const [eid] = await db('experiments').insert({ project_id: Number(pid), experiment_id: 1, name: 'e', artifact_location: 'x', lifecycle_stage: 'active', creation_time: 0, last_update_time: 0 });
        const ids: number[] = [];
        for (let i = 0; i < 30; i++) {
          const [rid] = await db('runs').insert({
            run_uuid: i.toString(16).padStart(32, '0'), project_id: Number(pid), experiment_id: Number(eid), name: 'r', user_id: 'u', status: 'FINISHED',
            start_time: 1000 + i, end_time: null, lifecycle_stage: 'active', artifact_uri: 'x',
          });
          ids.push(Number(rid));
          // every third row as written before 004 (no experiment_id)
          await db('latest_metrics').insert({ run_id: Number(rid), experiment_id: i % 3 ? Number(eid) : null, key: 'm', value: i, is_nan: 0, timestamp: 1, step: 0 });
        }
        const m008 = await import('../db/migrations/008_latest_metrics_band_index.ts');
        await m008.down(db);
        await m008.up(db);
        expect(await db('latest_metrics').whereNull('experiment_id').count({ n: '*' }).then((r) => Number(r[0]!.n))).toBe(0);
        expect(await db('latest_metrics').where({ experiment_id: Number(eid) }).count({ n: '*' }).then((r) => Number(r[0]!.n))).toBe(30);
        const indexes =
          kind === 'mysql'
            ? ((await db.raw('SHOW INDEX FROM latest_metrics')) as any)[0].map((r: { Key_name: string }) => r.Key_name)
            : ((await db.raw("SELECT name AS Key_name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'latest_metrics'")) as { Key_name: string }[]).map((r) => r.Key_name);
        expect(indexes).toContain('latest_metrics_experiment_band_idx');
        expect(indexes).not.toContain('latest_metrics_experiment_key_value_idx');
        // pages of 4 by the metric (bands of ~13 values) list every run, largest value first
        const got: number[] = [];
        let token: string | undefined;
        do {
          const res = await searchRuns(db, { experimentIds: [Number(eid)], orderBy: ['metrics.m DESC'], maxResults: 4, viewType: 'ACTIVE_ONLY', pageToken: token });
          got.push(...res.runIds);
          token = res.nextPageToken;
        } while (token);
        expect(got).toEqual([...ids].reverse());
      } finally {
        await t.drop();
      }
    });
  });
}
