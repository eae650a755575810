import { z } from 'zod';
import { authedProcedure, readProcedure, router } from './trpc.ts';
import { viewType } from './schemas.ts';
import { ACCESS } from '../core/accounts.ts';
import { notFound } from '../core/errors.ts';
import { encodeColumn, type Column } from '../core/columns.ts';
import { searchRuns } from '../db/search/index.ts';
import { getExperimentRowByIid } from '../db/experiments.ts';
import { experimentKeys, experimentsWithCounts, metricBuckets, runColumns } from '../db/ui.ts';

/**
 * Procedures made for the web UI (ui/), on the same auth/project middleware as the API. tRPC only: no MLflow path.
 * Answers are columnar and carry only what a view shows (ui-plan §3.4: 10k runs as columns are 1/4 of the
 * MLflow-shaped JSON and parse ~20× faster).
 */

const column = z.union([z.object({ n: z.array(z.number().nullable()) }), z.object({ s: z.array(z.string()), i: z.array(z.number().int()) })]);
const finite = (v: number) => (Number.isFinite(v) ? v : null);

const ATTRS = ['name', 'status', 'start_time', 'duration', 'user', 'source', 'lifecycle'] as const;

export const uiRouter = router({
  /** The signed-in user, and what they may do in the project of the URL (the UI hides edit buttons from guests). */
  project: readProcedure
    .output(z.object({ id: z.number(), path: z.string(), name: z.string(), username: z.string(), accessLevel: z.number(), canWrite: z.boolean() }))
    .query(({ ctx }) => ({
      id: ctx.project.id,
      path: ctx.project.path,
      name: ctx.project.name,
      username: ctx.user.username,
      accessLevel: ctx.project.accessLevel,
      canWrite: ctx.scopes.includes('api') && (ctx.project.accessLevel >= ACCESS.developer || ctx.user.isAdmin),
    })),

  /** Projects the user can read (member, public, or admin: all). */
  projects: authedProcedure
    .output(z.array(z.object({ id: z.number(), path: z.string(), name: z.string(), visibility: z.string() })))
    .query(async ({ ctx }) => {
      const q = ctx.db('projects as p').leftJoin('project_members as m', function () {
        this.on('m.project_id', 'p.id').andOnVal('m.user_id', ctx.user.id);
      }).orderBy('p.path').select('p.id', 'p.path', 'p.name', 'p.visibility');
      if (!ctx.user.isAdmin) q.where((w) => w.whereNotNull('m.user_id').orWhere('p.visibility', 'public'));
      return (await q).map((r: any) => ({ id: Number(r.id), path: r.path, name: r.name, visibility: r.visibility }));
    }),

  experiments: readProcedure
    .input(z.object({ search: z.string().max(500).optional(), deleted: z.boolean().default(false) }))
    .output(z.array(z.object({ experimentId: z.string(), name: z.string(), runs: z.number(), creationTime: z.number(), lastUpdateTime: z.number() })))
    .query(async ({ ctx, input }) => {
      const rows = await experimentsWithCounts(ctx.db, ctx.project.id, { search: input.search, deleted: input.deleted });
      return rows.map((r: any) => ({ experimentId: String(r.experiment_id), name: r.name, runs: r.runs, creationTime: Number(r.creation_time), lastUpdateTime: Number(r.last_update_time) }));
    }),

  keys: readProcedure
    .input(z.object({ experimentId: z.string().max(32) }))
    .output(z.object({ metrics: z.array(z.object({ key: z.string(), count: z.number() })), params: z.array(z.object({ key: z.string(), count: z.number() })), tags: z.array(z.object({ key: z.string(), count: z.number() })) }))
    .query(async ({ ctx, input }) => {
      const e = await getExperimentRowByIid(ctx.db, ctx.project.id, input.experimentId);
      if (!e) throw notFound(`No Experiment with id=${input.experimentId} exists`);
      return experimentKeys(ctx.db, e.id);
    }),

  /** A page of runs as columns: only the chosen metric/param/tag columns, keyset cursor, and the total. */
  runs: readProcedure
    .input(z.object({
      experimentId: z.string().max(32),
      filter: z.string().max(10000).optional(),
      orderBy: z.array(z.string().max(500)).max(20).optional(),
      viewType: viewType.optional(),
      metrics: z.array(z.string().max(250)).max(200).default([]),
      params: z.array(z.string().max(250)).max(200).default([]),
      tags: z.array(z.string().max(250)).max(200).default([]),
      metricAgg: z.enum(['last', 'min', 'max']).default('last'),
      limit: z.number().int().min(1).max(10000).default(5000),
      cursor: z.string().max(2000).optional(),
    }))
    // columns in core/columns.ts's compact form: numbers as they are, strings as a dictionary and indexes
    .output(z.object({ total: z.number(), nextCursor: z.string().nullable(), runIds: z.array(z.string()), columns: z.record(z.string(), column) }))
    .query(async ({ ctx, input }) => {
      const e = await getExperimentRowByIid(ctx.db, ctx.project.id, input.experimentId);
      if (!e) throw notFound(`No Experiment with id=${input.experimentId} exists`);
      const view = input.viewType ?? 'ACTIVE_ONLY';
      const q = { experimentIds: [e.id], filter: input.filter, orderBy: input.orderBy, viewType: view as typeof view };
      const page = await searchRuns(ctx.db, { ...q, maxResults: input.limit, pageToken: input.cursor });
      // The total: the matching ids only (no run data), once per first page.
      const total = input.cursor || !page.nextPageToken ? (input.cursor ? -1 : page.runIds.length) : (await searchRuns(ctx.db, { ...q, maxResults: 50000 })).runIds.length;
      const ids = page.runIds;
      const cols = await runColumns(ctx.db, ids, input, input.metricAgg);
      const pos = new Map(ids.map((id, i) => [id, i]));
      const n = ids.length;
      const columns: Record<string, (string | number | null)[]> = {};
      const col = (k: string) => (columns[k] ??= new Array(n).fill(null));
      for (const a of ATTRS) col(`attr.${a}`);
      for (const k of input.metrics) col(`metrics.${k}`);
      for (const k of input.params) col(`params.${k}`);
      for (const k of input.tags) col(`tags.${k}`);
      const runIds = new Array<string>(n);
      for (const r of cols.base as any[]) {
        const i = pos.get(Number(r.id))!;
        runIds[i] = r.run_uuid;
        columns['attr.name']![i] = r.name;
        columns['attr.status']![i] = r.status;
        columns['attr.start_time']![i] = Number(r.start_time);
        columns['attr.duration']![i] = r.end_time != null ? Number(r.end_time) - Number(r.start_time) : null;
        columns['attr.user']![i] = r.user_id;
        columns['attr.lifecycle']![i] = r.lifecycle_stage;
      }
      for (const t of cols.sourceTags as any[]) {
        const i = pos.get(Number(t.run_id))!;
        if (t.key === 'mlflow.source.name') columns['attr.source']![i] = t.value;
        if (columns[`tags.${t.key}`]) columns[`tags.${t.key}`]![i] = t.value;
      }
      for (const p of cols.params as any[]) columns[`params.${p.key}`]![pos.get(Number(p.run_id))!] = p.value;
      for (const m of cols.metrics as any[]) columns[`metrics.${m.key}`]![pos.get(Number(m.run_id))!] = m.is_nan ? null : finite(Number(m.value));
      const numeric = (k: string) => k === 'attr.start_time' || k === 'attr.duration' || k.startsWith('metrics.');
      const wire: Record<string, Column> = {};
      for (const [k, v] of Object.entries(columns)) wire[k] = encodeColumn(v, numeric(k));
      return { total, nextCursor: page.nextPageToken ?? null, runIds, columns: wire };
    }),

  /** One metric's whole history, downsampled on the server to `points` x-buckets (min, max, last). */
  metricHistory: readProcedure
    .input(z.object({ runId: z.string().max(32), key: z.string().max(250), x: z.enum(['step', 'time']).default('step'), points: z.number().int().min(10).max(5000).default(1000) }))
    .output(z.object({ x: z.array(z.number()), min: z.array(z.number().nullable()), max: z.array(z.number().nullable()), last: z.array(z.number().nullable()), total: z.number(), raw: z.boolean() }))
    .query(async ({ ctx, input }) => {
      const run = await ctx.db('runs').where({ run_uuid: input.runId, project_id: ctx.project.id }).first('id');
      if (!run) throw notFound(`Run '${input.runId}' not found`);
      const b = await metricBuckets(ctx.db, Number(run.id), input.key, input.x === 'time' ? 'timestamp' : 'step', input.points);
      return { x: b.x, min: b.min.map(finite), max: b.max.map(finite), last: b.last.map(finite), total: b.total, raw: b.raw };
    }),
});
