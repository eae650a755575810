import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { createMltrackClient } from '../client/index.ts';
import { backfillRollups } from '../db/migrations/007_metric_rollups.ts';
import { rng } from './helpers/rng.ts';

/**
 * The UI's downsampled histories by step come from the rollups log-batch keeps (db/rollups.ts). Property: for random
 * histories — steps out of order, negative, sparse over 2^22 or dense, the same points sent twice, NaN and ±Infinity —
 * the answer equals the one computed here from the points themselves, for bucket sizes that read every rollup level
 * and the raw path; and the migration's backfill rebuilds exactly the rows log-batch kept.
 */

const MAX = 1.7976931348623157e308;


interface P { step: number; ts: number; value: number | 'NaN' | 'Infinity' | '-Infinity' }

/** The answer from the points: sorted (step, timestamp, stored value, is_nan), buckets of 2^k steps. */
function expected(points: P[], want: number) {
  const seen = new Map<string, { step: number; ts: number; v: number; nan: boolean }>();
  for (const p of points) {
    const nan = p.value === 'NaN';
    const v = p.value === 'NaN' ? 0 : p.value === 'Infinity' ? MAX : p.value === '-Infinity' ? -MAX : p.value;
    seen.set(`${p.step}/${p.ts}/${v}/${nan}`, { step: p.step, ts: p.ts, v, nan });
  }
  const pts = [...seen.values()].sort((a, b) => a.step - b.step || a.ts - b.ts || a.v - b.v || Number(a.nan) - Number(b.nan));
  const shown = (p: { v: number; nan: boolean }) => (p.nan ? null : Math.abs(p.v) >= MAX ? null : p.v); // the wire: non-finite → null
  const out = { x: [] as number[], min: [] as (number | null)[], max: [] as (number | null)[], last: [] as (number | null)[], total: pts.length, raw: true };
  if (pts.length <= want * 4) {
    for (const p of pts) { out.x.push(p.step); out.min.push(shown(p)); out.max.push(shown(p)); out.last.push(shown(p)); }
    return out;
  }
  out.raw = false;
  const lo = pts[0]!.step;
  const hi = pts.at(-1)!.step;
  let k = 0;
  while (Math.floor(hi / 2 ** k) - Math.floor(lo / 2 ** k) + 1 > want) k++;
  const groups = new Map<number, typeof pts>();
  for (const p of pts) {
    const b = Math.floor(p.step / 2 ** k);
    groups.set(b, [...(groups.get(b) ?? []), p]);
  }
  const bs = [...groups.keys()].sort((a, b) => a - b);
  const firstGroup = groups.get(bs[0]!)!;
  if (firstGroup.at(-1)!.step !== pts[0]!.step) {
    const f = shown(pts[0]!);
    out.x.push(pts[0]!.step); out.min.push(f); out.max.push(f); out.last.push(f);
  }
  for (const b of bs) {
    const g = groups.get(b)!;
    const nums = g.filter((p) => !p.nan).map((p) => p.v);
    const bound = (v: number | undefined) => (v === undefined || Math.abs(v) >= MAX ? null : v);
    out.x.push(g.at(-1)!.step);
    out.min.push(bound(nums.length ? Math.min(...nums) : undefined));
    out.max.push(bound(nums.length ? Math.max(...nums) : undefined));
    out.last.push(shown(g.at(-1)!));
  }
  return out;
}

describe.each(DB_KINDS)('metric rollups (%s)', (kind) => {
  let s: TestServer;
  let c: ReturnType<typeof createMltrackClient>;
  let eid: string;
  beforeAll(async () => {
    s = await startServer(kind);
    c = createMltrackClient({ url: s.baseUrl, token: s.tokens.write, project: s.project.id });
    eid = (await c.experiments.create.mutate({ name: 'rollups' })).experiment_id;
  });
  afterAll(async () => s?.close());

  const logBatch = async (runId: string, key: string, points: P[]) => {
    const res = await s.request
      .post(`${s.mlflow()}/runs/log-batch`)
      .set('authorization', `Bearer ${s.tokens.write}`)
      .send({ run_id: runId, metrics: points.map((p) => ({ key, value: p.value, timestamp: p.ts, step: p.step })) });
    expect(res.status, res.text).toBe(200);
  };

  const shapes: [string, (r: () => number, i: number) => number][] = [
    ['dense, shuffled', (_r, i) => i],
    ['sparse over 2^22, with negatives', (r) => Math.floor(r() * 2 ** 22) - 2 ** 20],
    ['narrow: many points per step', (r) => Math.floor(r() * 40)],
    ['wide: steps up to 2^40', (r) => Math.floor(r() * 2 ** 40)],
  ];

  it.each(shapes)('downsampled answer from rollups = answer from the points: %s', async (_name, stepOf) => {
    const r = rng(_name.length * 7919 + (kind === 'mysql' ? 1 : 0));
    const { run } = await c.runs.create.mutate({ experiment_id: eid });
    const points: P[] = [];
    for (let i = 0; i < 2500; i++) {
      const u = r();
      const value = u < 0.03 ? 'NaN' : u < 0.05 ? 'Infinity' : u < 0.07 ? '-Infinity' : Math.round((r() - 0.5) * 2000) / 8 || 0; // no -0: JSON has none
      points.push({ step: stepOf(r, i), ts: Math.floor(r() * 5), value });
    }
    // a few points with every value NaN at steps of their own, and the same point at one step with many values
    for (let i = 0; i < 5; i++) points.push({ step: stepOf(r, 2500 + i), ts: 1, value: 'NaN' });
    for (let i = 0; i < 5; i++) points.push({ step: points[0]!.step, ts: 3, value: i });
    for (let i = points.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [points[i], points[j]] = [points[j]!, points[i]!];
    }
    // batches of random sizes, some sent twice (a client's retry), one resent with new points
    let at = 0;
    while (at < points.length) {
      const n = 1 + Math.floor(r() * 400);
      const batch = points.slice(at, at + n);
      await logBatch(run.info.run_id, 'm', batch);
      if (r() < 0.3) await logBatch(run.info.run_id, 'm', batch);
      if (r() < 0.2 && at > 0) await logBatch(run.info.run_id, 'm', [...points.slice(at - 3, at), ...points.slice(at + n, at + n + 2)]);
      at += n;
    }
    for (const want of [10, 33, 100, 250, 700]) {
      const got = await c.ui.metricHistory.query({ runId: run.info.run_id, key: 'm', points: want });
      const exp = expected(points, want);
      expect(got.total).toBe(exp.total);
      expect(got, `points=${want}`).toEqual(exp);
      if (!got.raw) expect(got.x.length).toBeLessThanOrEqual(want + 1);
    }
  });

  it('concurrent batches into one run, overlapping ones among them, count each point once', async () => {
    const r = rng(kind === 'mysql' ? 11 : 12);
    const { run } = await c.runs.create.mutate({ experiment_id: eid });
    const points: P[] = Array.from({ length: 3000 }, (_, i) => ({ step: i * 3, ts: i % 7, value: Math.floor(r() * 1000) }));
    const batches = Array.from({ length: 12 }, (_, b) => points.slice(b * 250, b * 250 + 250));
    // every batch twice, and each overlapping its neighbour, all at once
    await Promise.all([...batches, ...batches, ...batches.map((b, i) => [...b.slice(200), ...(batches[i + 1] ?? []).slice(0, 50)])].map((b) => logBatch(run.info.run_id, 'c', b)));
    for (const want of [20, 300]) {
      expect(await c.ui.metricHistory.query({ runId: run.info.run_id, key: 'c', points: want })).toEqual(expected(points, want));
    }
  });

  it('the migration backfill rebuilds the rows log-batch kept', async () => {
    const rows = async () =>
      (await s.t.db('metric_rollups').orderBy(['run_id', 'key', 'lvl', 'bucket']).select()).map((r: Record<string, unknown>) =>
        Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? null : Number(v)])),
      );
    const before = await rows();
    expect(before.length).toBeGreaterThan(100);
    await s.t.db('metric_rollups').del();
    await backfillRollups(s.t.db);
    expect(await rows()).toEqual(before);
  });
});
