import { z } from 'zod';
import { readProcedure } from './trpc.ts';
import { experimentOut, idString, int32, int64, runOut, viewType } from './schemas.ts';
import { validateMaxResults } from '../core/validation.ts';
import { searchExperiments, searchRuns } from '../db/search/index.ts';
import { experimentInternalIds, getExperimentRowsByIds, toExperimentsOut } from '../db/experiments.ts';
import { loadRuns } from '../db/run-view.ts';
import { runsJsonText } from '../db/run-json.ts';
import { chunk } from '../db/tx.ts';
import type { ExperimentKey } from '../db/tables.ts';

/** MLflow's SearchRuns: filter and order in SQL, keyset pages, full runs for the page in a fixed number of queries. */
export const searchRunsProcedure = readProcedure
  .meta({ openapi: { method: 'POST', path: '/runs/search', tags: ['MLflow runs'], summary: 'SearchRuns' } })
  .input(
    z.object({
      experiment_ids: z.array(idString).optional(),
      filter: z.string().optional(),
      run_view_type: viewType.optional(),
      max_results: int32.optional(),
      order_by: z.array(z.string()).optional(),
      page_token: z.string().optional(),
    }),
  )
  .output(z.object({ runs: z.array(runOut).optional(), next_page_token: z.string().optional() }))
  .mutation(async ({ ctx, input }) => {
    const maxResults = input.max_results ?? 1000;
    validateMaxResults(maxResults);
    // Experiment ids of other projects (or unknown ones) match nothing, as unknown ids do in MLflow. No early
    // return when none is left: searchRuns validates the filter, order_by and token first, as MLflow does.
    const experimentIds = await internalIds(ctx.db, ctx.project.id, input.experiment_ids ?? []);
    const page = await searchRuns(ctx.db, {
      experimentIds,
      filter: input.filter,
      orderBy: input.order_by,
      maxResults,
      pageToken: input.page_token || undefined,
      viewType: input.run_view_type ?? 'ACTIVE_ONLY',
    });
    if (ctx.streamJson && searchJsonStream.enabled) {
      await ctx.streamJson(searchRunsJson(ctx.db, page.runIds, page.nextPageToken));
      return {};
    }
    const runs: Awaited<ReturnType<typeof loadRuns>> = [];
    for (const ids of chunks(page.runIds)) runs.push(...(await loadRuns(ctx.db, ids)));
    const out: { runs?: typeof runs; next_page_token?: string } = {};
    if (runs.length) out.runs = runs;
    if (page.nextPageToken) out.next_page_token = page.nextPageToken;
    return out;
  });

/**
 * The REST answer, written as JSON text slice by slice (runsJsonText) instead of Run objects that zod then checks and
 * JSON.stringify writes: the same answer as the object path above (test/search-json.test.ts compares them).
 */
async function* searchRunsJson(db: Parameters<typeof runsJsonText>[0], ids: number[], token: string | undefined): AsyncGenerator<string> {
  let open = false;
  for (const slice of chunk(ids, JSON_SLICE)) {
    const text = await runsJsonText(db, slice);
    if (!text) continue;
    yield `${open ? ',' : '{"runs":['}${text}`;
    open = true;
  }
  const tokenJson = token ? `"next_page_token":${JSON.stringify(token)}` : '';
  yield open ? `]${tokenJson ? `,${tokenJson}` : ''}}` : `{${tokenJson}}`;
}

/** Off only for the bench's same-run "before" figures (scripts/bench/search.ts): the object path then answers REST too. */
export const searchJsonStream = { enabled: true };

/** Runs per streamed chunk: bounds the server's memory for a 50,000-run page. */
const JSON_SLICE = 1000;

/**
 * Ids in slices of 5000: a page holds up to 50000 rows, but SQLite binds at most 32766 values in one statement
 * (a 50000-run page was a 500 there). Loading the slices keeps the page order.
 */
const ID_SLICE = 5000;
const chunks = <T>(ids: T[]) => chunk(ids, ID_SLICE);

/** experimentInternalIds in chunks: a request may list any number of ids, one statement binds a bounded number. */
async function internalIds(db: Parameters<typeof experimentInternalIds>[0], projectId: number, ids: string[]): Promise<ExperimentKey[]> {
  const unique = [...new Set(ids)];
  const out: ExperimentKey[] = [];
  for (const part of chunks(unique)) out.push(...(await experimentInternalIds(db, projectId, part)));
  return out;
}

/** MLflow's SearchExperiments over the experiments of the project. */
export const searchExperimentsProcedure = readProcedure
  .meta({ openapi: { method: 'POST', path: '/experiments/search', tags: ['MLflow experiments'], summary: 'SearchExperiments' } })
  .input(
    z.object({
      max_results: int64.optional(),
      page_token: z.string().optional(),
      filter: z.string().optional(),
      order_by: z.array(z.string()).optional(),
      view_type: viewType.optional(),
    }),
  )
  .output(z.object({ experiments: z.array(experimentOut).optional(), next_page_token: z.string().optional() }))
  .mutation(async ({ ctx, input }) => {
    // MLflow's server 400s on an absent max_results; clients always send it, so absent means the default.
    const maxResults = input.max_results === undefined ? 1000 : Number(input.max_results);
    validateMaxResults(maxResults);
    const page = await searchExperiments(ctx.db, {
      projectId: ctx.project.id,
      filter: input.filter,
      orderBy: input.order_by,
      maxResults,
      pageToken: input.page_token || undefined,
      viewType: input.view_type ?? 'ACTIVE_ONLY',
    });
    const experiments: Awaited<ReturnType<typeof toExperimentsOut>> = [];
    for (const ids of chunks(page.experimentIds)) experiments.push(...(await toExperimentsOut(ctx.db, await getExperimentRowsByIds(ctx.db, ids))));
    const out: { experiments?: typeof experiments; next_page_token?: string } = {};
    if (experiments.length) out.experiments = experiments;
    if (page.nextPageToken) out.next_page_token = page.nextPageToken;
    return out;
  });
