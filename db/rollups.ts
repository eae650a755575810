import { cmpInt64, DOUBLE_MAX, int64Col, type Int64 } from '../core/codecs.ts';
import type { Db } from './knex.ts';

/**
 * Pre-aggregated metric buckets (table metric_rollups, migration 007; ui-plan §3.3): for each run, key and level L,
 * the points whose step falls in [b·2^L, (b+1)·2^L) summed up as count, min and max of the non-NaN stored values,
 * and the first and last point in (step, timestamp, value, is_nan) order. log-batch keeps them in the same
 * transaction as the history rows; the UI's downsampled history reads them instead of the history (db/ui.ts).
 * Levels are 2^5, 2^10, 2^15, 2^20 steps: an answer bucket is never more than 32 rollup rows, and a 1M-step history
 * at 1,000 buckets reads ~980 rows of level 10 (measured in scripts/bench/history.ts).
 */
export const LEVELS = [5, 10, 15, 20] as const;

/** A point as stored: value NaN → 0 with nan, ±Infinity → ±DOUBLE_MAX. */
export interface Pt {
  step: Int64;
  ts: Int64;
  value: number;
  nan: boolean;
}

export interface Agg {
  n: number;
  vmin: number | null;
  vmax: number | null;
  first: Pt;
  last: Pt;
}

/** The history's own order within a step: (step, timestamp, value, is_nan). */
export function cmpPt(a: Pt, b: Pt): number {
  return cmpInt64(a.step, b.step) || cmpInt64(a.ts, b.ts) || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0) || Number(a.nan) - Number(b.nan);
}

/** floor(step / 2^lvl), exact for int64 steps beyond 2^53 too (arithmetic shift). */
export function bucketOf(step: Int64, lvl: number): Int64 {
  if (typeof step === 'bigint') return int64Col(step >> BigInt(lvl));
  return Math.floor(step / 2 ** lvl);
}

export function aggOf(p: Pt): Agg {
  return { n: 1, vmin: p.nan ? null : p.value, vmax: p.nan ? null : p.value, first: p, last: p };
}

export function addPoint(a: Agg, p: Pt): void {
  a.n++;
  if (!p.nan) {
    if (a.vmin === null || p.value < a.vmin) a.vmin = p.value;
    if (a.vmax === null || p.value > a.vmax) a.vmax = p.value;
  }
  if (cmpPt(p, a.first) < 0) a.first = p;
  if (cmpPt(p, a.last) > 0) a.last = p;
}

export function mergeAgg(a: Agg, b: Agg): Agg {
  return {
    n: a.n + b.n,
    vmin: a.vmin === null ? b.vmin : b.vmin === null ? a.vmin : Math.min(a.vmin, b.vmin),
    vmax: a.vmax === null ? b.vmax : b.vmax === null ? a.vmax : Math.max(a.vmax, b.vmax),
    first: cmpPt(b.first, a.first) < 0 ? b.first : a.first,
    last: cmpPt(b.last, a.last) > 0 ? b.last : a.last,
  };
}

export interface RollupDelta {
  key: string;
  lvl: number;
  bucket: Int64;
  agg: Agg;
}

/**
 * The rollup rows new points of one run touch, summed up. Each point is added to its finest-level bucket only (points
 * of a batch mostly come in step order, so each key remembers its current bucket and looks one up only when the step
 * leaves it); the coarser levels are then merged from those buckets (floor(floor(s/2^a)/2^b) = floor(s/2^(a+b))). One
 * bucket lookup and one addPoint a point instead of four: rollups went from ~0.5 ms to ~0.15 ms of a 1000-point batch.
 */
export function rollupDeltas(points: Iterable<{ key: string } & Pt>): RollupDelta[] {
  const fine = LEVELS[0];
  const div = 2 ** fine;
  const byKey = new Map<string, { map: Map<Int64, RollupDelta>; cur: RollupDelta | null; list: RollupDelta[] }>();
  for (const p of points) {
    let k = byKey.get(p.key);
    if (!k) byKey.set(p.key, (k = { map: new Map(), cur: null, list: [] }));
    const bucket = typeof p.step === 'number' ? Math.floor(p.step / div) : bucketOf(p.step, fine);
    let d = k.cur;
    if (d === null || d.bucket !== bucket) {
      d = k.map.get(bucket) ?? null;
      if (d === null) {
        k.cur = d = { key: p.key, lvl: fine, bucket, agg: aggOf(p) };
        k.map.set(bucket, d);
        k.list.push(d);
        continue;
      }
      k.cur = d;
    }
    addPoint(d.agg, p);
  }
  const out: RollupDelta[] = [];
  for (const k of byKey.values()) {
    for (const d of k.list) out.push(d);
    for (let l = 1; l < LEVELS.length; l++) {
      const lvl = LEVELS[l]!;
      let cur: RollupDelta | null = null;
      const up = new Map<Int64, RollupDelta>();
      for (const d of k.list) {
        const bucket = bucketOf(d.bucket, lvl - fine);
        if (cur === null || cur.bucket !== bucket) cur = up.get(bucket) ?? null;
        if (cur === null) {
          cur = { key: d.key, lvl, bucket, agg: d.agg }; // shared, never mutated: every point is in already
          up.set(bucket, cur);
          out.push(cur);
        } else cur.agg = mergeAgg(cur.agg, d.agg);
      }
    }
  }
  return out;
}

/**
 * mergeAgg as the SET list of an upsert (SQLite's ON CONFLICT DO UPDATE, MySQL's ON DUPLICATE KEY UPDATE), so a
 * batch adds its deltas to the stored rows without reading them first (that read was half the rollup statements).
 * `q` quotes a column, `ins` names the inserted row's value. The first/last tuples are assigned last column first:
 * MySQL evaluates the assignments left to right, each seeing the ones before it, and in this order every test still
 * decides as it would on the old row (the columns it has changed so far only differ where the tuples were already
 * equal up to them); MariaDB's SIMULTANEOUS_ASSIGNMENT and SQLite see the old row throughout, the same answer.
 */
export function rollupMergeSql(q: (c: string) => string, ins: (c: string) => string): string {
  const pick = (fn: 'min' | 'max', c: string) =>
    `${q(c)} = CASE WHEN ${q(c)} IS NULL THEN ${ins(c)} WHEN ${ins(c)} IS NULL THEN ${q(c)} ` +
    `WHEN ${ins(c)} ${fn === 'min' ? '<' : '>'} ${q(c)} THEN ${ins(c)} ELSE ${q(c)} END`;
  const tuple = (side: 'first' | 'last') => {
    const cols = ['step', 'ts', 'value', 'nan'].map((c) => `${side}_${c}`);
    const cond = `(${cols.map(ins).join(', ')}) ${side === 'first' ? '<' : '>'} (${cols.map(q).join(', ')})`;
    return [...cols].reverse().map((c) => `${q(c)} = CASE WHEN ${cond} THEN ${ins(c)} ELSE ${q(c)} END`);
  };
  return [`${q('n')} = ${q('n')} + ${ins('n')}`, pick('min', 'vmin'), pick('max', 'vmax'), ...tuple('first'), ...tuple('last')].join(', ');
}

export const ROLLUP_COLUMNS = [
  'run_id', 'key', 'lvl', 'bucket', 'n', 'vmin', 'vmax',
  'first_step', 'first_ts', 'first_value', 'first_nan', 'last_step', 'last_ts', 'last_value', 'last_nan',
] as const;

/** A metric_rollups row as read (either driver) → Agg. */
export function aggFromRow(r: Record<string, unknown>): Agg {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    n: Number(r.n),
    vmin: num(r.vmin),
    vmax: num(r.vmax),
    first: { step: int64Col(r.first_step), ts: int64Col(r.first_ts), value: Number(r.first_value), nan: Number(r.first_nan) !== 0 },
    last: { step: int64Col(r.last_step), ts: int64Col(r.last_ts), value: Number(r.last_value), nan: Number(r.last_nan) !== 0 },
  };
}

/** The bind values of one row, in ROLLUP_COLUMNS order; int64s through `int64`, booleans as 0/1. */
export function rollupBinds(runId: number, key: string, lvl: number, bucket: Int64, a: Agg, int64: (v: Int64) => unknown): unknown[] {
  return [
    runId, key, lvl, int64(bucket), a.n, a.vmin, a.vmax,
    int64(a.first.step), int64(a.first.ts), a.first.value, a.first.nan ? 1 : 0,
    int64(a.last.step), int64(a.last.ts), a.last.value, a.last.nan ? 1 : 0,
  ];
}

// ---- Reading: the UI's downsampled history by step ----

/** What the chart draws: x ascending; per bucket min, max (NaN: no number in it) and the value at its largest x. */
export interface Buckets {
  x: number[];
  min: number[];
  max: number[];
  last: number[];
  total: number;
  raw: boolean;
}

/** A stored value as the number it stands for: NaN, ±Infinity for ±DOUBLE_MAX. */
const shown = (value: number, nan: boolean) => (nan ? NaN : value >= DOUBLE_MAX ? Infinity : value <= -DOUBLE_MAX ? -Infinity : value);
const shownBound = (v: number | null) => (v === null ? NaN : shown(v, false));

/**
 * The smallest k such that steps lo..hi fall in at most `points` buckets of 2^k steps (aligned at multiples of 2^k,
 * so that rollup buckets nest in answer buckets and the answer is the same whether read from rollups or from points).
 */
export function bucketBits(lo: Int64, hi: Int64, points: number): number {
  const a = BigInt(lo);
  const b = BigInt(hi);
  let k = 0;
  while ((b >> BigInt(k)) - (a >> BigInt(k)) + 1n > BigInt(points)) k++;
  return k;
}

/**
 * Downsampled history of one metric of one run by step: at most 4×points points → all of them (raw); else steps cut in
 * buckets of 2^k steps (bucketBits), each with min and max of its numbers and its last point (the line, so spikes
 * survive and the line ends where the data ends), the first point always kept. Read from the coarsest rollup level
 * that is no coarser than 2^k (at most 32 rollup rows an answer bucket), or from the points when 2^k < 2^5.
 */
export async function stepBuckets(db: Db, runId: number, key: string, points: number): Promise<Buckets> {
  const where = { run_id: runId, key };
  const out: Buckets = { x: [], min: [], max: [], last: [], total: 0, raw: true };
  const top = (await db('metric_rollups').where({ ...where, lvl: LEVELS[LEVELS.length - 1] }).orderBy('bucket').select(ROLLUP_COLUMNS)).map(aggFromRow);
  if (!top.length) return out;
  let total = 0;
  for (const a of top) total += a.n;
  out.total = total;
  const first = top[0]!.first;
  const hi = top[top.length - 1]!.last.step;
  const pointRows = async () =>
    (await db('metrics').where(where).select('timestamp', 'step', 'value', 'is_nan')).map(
      (r: any): Pt => ({ step: int64Col(r.step), ts: int64Col(r.timestamp), value: Number(r.value), nan: Number(r.is_nan) !== 0 }),
    );
  if (total <= points * 4) {
    for (const p of (await pointRows()).sort(cmpPt)) {
      const v = shown(p.value, p.nan);
      out.x.push(Number(p.step)); out.min.push(v); out.max.push(v); out.last.push(v);
    }
    return out;
  }
  out.raw = false;
  const k = bucketBits(first.step, hi, points);
  const lvl = [...LEVELS].reverse().find((l) => l <= k);
  const buckets = new Map<Int64, Agg>();
  const add = (b: Int64, a: Agg) => {
    const cur = buckets.get(b);
    buckets.set(b, cur ? mergeAgg(cur, a) : a);
  };
  if (lvl === undefined) {
    for (const p of await pointRows()) add(bucketOf(p.step, k), aggOf(p));
  } else {
    const rows = await db('metric_rollups').where({ ...where, lvl }).orderBy('bucket').select(ROLLUP_COLUMNS);
    for (const r of rows) add(bucketOf(int64Col(r.bucket), k - lvl), aggFromRow(r));
  }
  const aggs = [...buckets].sort((a, b) => cmpInt64(a[0], b[0])).map(([, a]) => a);
  if (cmpInt64(aggs[0]!.last.step, first.step) !== 0) {
    const v = shown(first.value, first.nan);
    out.x.push(Number(first.step)); out.min.push(v); out.max.push(v); out.last.push(v);
  }
  for (const a of aggs) {
    out.x.push(Number(a.last.step)); out.min.push(shownBound(a.vmin)); out.max.push(shownBound(a.vmax)); out.last.push(shown(a.last.value, a.last.nan));
  }
  return out;
}
