import type { Db } from './knex.ts';
import { isMysql } from './knex.ts';
import { stepBuckets, type Buckets } from './rollups.ts';

export type { Buckets };

/** Read models for the web UI: columns, keys with counts, downsampled histories. Rows only; routers shape the wire. */

export async function experimentsWithCounts(db: Db, projectId: number, o: { search?: string; deleted: boolean }) {
  const q = db('experiments as e')
    .leftJoin('runs as r', function () {
      this.on('r.experiment_id', 'e.id').andOnVal('r.lifecycle_stage', 'active');
    })
    .where('e.project_id', projectId)
    .andWhere('e.lifecycle_stage', o.deleted ? 'deleted' : 'active')
    .groupBy('e.id', 'e.experiment_id', 'e.name', 'e.lifecycle_stage', 'e.creation_time', 'e.last_update_time')
    .orderBy('e.experiment_id', 'asc')
    .select('e.experiment_id', 'e.name', 'e.lifecycle_stage', 'e.creation_time', 'e.last_update_time')
    .count({ runs: 'r.id' });
  // '!' as the LIKE escape: the same literal on both databases (a backslash is itself escaped in MySQL strings)
  if (o.search) q.andWhereRaw("LOWER(e.name) LIKE ? ESCAPE '!'", [`%${o.search.toLowerCase().replace(/[%_!]/g, (c) => '!' + c)}%`]);
  return (await q).map((r: any) => ({ ...r, runs: Number(r.runs) }));
}

/** Metric, param and tag keys of an experiment's active runs, with how many runs have each. */
export async function experimentKeys(db: Db, experimentInternalId: number) {
  const runs = db('runs').where({ experiment_id: experimentInternalId, lifecycle_stage: 'active' }).select('id');
  const of = (table: string) =>
    db(table).whereIn('run_id', runs.clone()).groupBy('key').orderBy('key').select('key').count({ n: '*' });
  const [metrics, params, tags] = await Promise.all([of('latest_metrics'), of('params'), of('tags')]);
  const norm = (rows: any[]) => rows.map((r) => ({ key: String(r.key), count: Number(r.n) }));
  return { metrics: norm(metrics), params: norm(params), tags: norm(tags) };
}

export type MetricAgg = 'last' | 'min' | 'max';

/** The chosen columns of the given runs (internal ids), as maps run id → value. */
export async function runColumns(db: Db, runIds: number[], cols: { metrics: string[]; params: string[]; tags: string[] }, agg: MetricAgg) {
  const base = await db('runs').whereIn('id', runIds).select('id', 'run_uuid', 'name', 'status', 'start_time', 'end_time', 'user_id', 'lifecycle_stage');
  const sourceTags = await db('tags').whereIn('run_id', runIds).whereIn('key', ['mlflow.source.name', ...cols.tags]).select('run_id', 'key', 'value');
  const params = cols.params.length ? await db('params').whereIn('run_id', runIds).whereIn('key', cols.params).select('run_id', 'key', 'value') : [];
  let metrics: { run_id: number; key: string; value: number | null }[] = [];
  if (cols.metrics.length) {
    if (agg === 'last') {
      metrics = await db('latest_metrics').whereIn('run_id', runIds).whereIn('key', cols.metrics).select('run_id', 'key', 'value', 'is_nan');
    } else {
      metrics = await db('metrics').whereIn('run_id', runIds).whereIn('key', cols.metrics).where('is_nan', false).groupBy('run_id', 'key')
        .select('run_id', 'key', db.raw(`${agg === 'min' ? 'MIN' : 'MAX'}(value) as value`));
    }
  }
  return { base, sourceTags, params, metrics };
}

/**
 * Downsampled history of one metric of one run: the x range cut into buckets, each with min, max and the value at its
 * largest x (so spikes survive and the line ends where the data ends); the first and last points are always kept. At
 * most 4×points rows → the raw points. By step: from the rollups kept at ingest (db/rollups.ts, ui-plan §3.3). By
 * time: a GROUP BY over the run's rows (~0.7 s for 1M points on SQLite per the plan's measurement): timestamps have
 * no rollups.
 */
export async function metricBuckets(db: Db, runInternalId: number, key: string, x: 'step' | 'timestamp', points: number): Promise<Buckets> {
  if (x === 'step') return stepBuckets(db, runInternalId, key, points);
  const where = { run_id: runInternalId, key };
  const stats = await db('metrics').where(where).first(db.raw(`MIN(${x}) as lo, MAX(${x}) as hi, COUNT(*) as n`));
  const total = Number(stats?.n ?? 0);
  const out: Buckets = { x: [], min: [], max: [], last: [], total, raw: true };
  if (!total) return out;
  if (total <= points * 4) {
    const rows = await db('metrics').where(where).orderBy([x, 'step', 'timestamp']).select('step', 'timestamp', 'value', 'is_nan');
    for (const r of rows) {
      const v = r.is_nan ? NaN : Number(r.value);
      out.x.push(Number(r[x])); out.min.push(v); out.max.push(v); out.last.push(v);
    }
    return out;
  }
  out.raw = false;
  const lo = Number(stats.lo), hi = Number(stats.hi);
  const span = hi - lo + 1;
  const bucketExpr = isMysql(db) ? `FLOOR((${x} - ?) * ? / ?)` : `CAST((${x} - ?) * CAST(? AS REAL) / ? AS INTEGER)`;
  const groups = await db('metrics').where(where).andWhere('is_nan', false)
    .select(db.raw(`${bucketExpr} as b`, [lo, points, span]))
    .min({ vmin: 'value' }).max({ vmax: 'value' }).max({ xmax: x })
    .groupBy('b').orderBy('b');
  // value at the bucket's largest x (the line): one more indexed read per bucket edge, in one query
  const ends = groups.map((g: any) => Number(g.xmax));
  const lastRows: any[] = [];
  for (let i = 0; i < ends.length; i += 500) {
    lastRows.push(...(await db('metrics').where(where).whereIn(x, ends.slice(i, i + 500)).select(x, 'value', 'is_nan')));
  }
  const lastAt = new Map<number, number>();
  for (const r of lastRows) lastAt.set(Number(r[x]), r.is_nan ? NaN : Number(r.value));
  const first = await db('metrics').where(where).orderBy([x, 'step']).first(x, 'value', 'is_nan');
  if (first) { const v = first.is_nan ? NaN : Number(first.value); out.x.push(Number(first[x])); out.min.push(v); out.max.push(v); out.last.push(v); }
  for (const g of groups as any[]) {
    const xm = Number(g.xmax);
    if (first && xm === Number(first[x])) continue;
    out.x.push(xm); out.min.push(Number(g.vmin)); out.max.push(Number(g.vmax)); out.last.push(lastAt.get(xm) ?? Number(g.vmax));
  }
  return out;
}
