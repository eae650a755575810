import { z } from 'zod';
import { readProcedure, router } from './trpc.ts';
import { doubleOut, int32, int64, int64Out, metricOut, requiredString, runRequest } from './schemas.ts';
import { invalidParam } from '../core/errors.ts';
import * as metrics from '../db/metrics.ts';
import { decodeOffsetToken, encodeOffsetToken } from '../core/page-token.ts';
import { validateMaxResults } from '../core/validation.ts';
import type { Metric } from '../core/entities.ts';

const MLFLOW = ['MLflow metrics'];

/** MLflow's GetMetricHistoryBulkInterval limits (`MAX_RUNS_GET_METRIC_HISTORY_BULK`, `MAX_RESULTS_PER_RUN`). */
const MAX_BULK_RUNS = 100;
const MAX_RESULTS_PER_RUN = 2500;

const SEE_DOCS = ' See the API docs for more information about request parameters.';

const metricWithRunIdOut = z.object({
  key: z.string(),
  value: doubleOut,
  timestamp: int64Out,
  step: int64Out,
  run_id: z.string(),
});

/** A number or int64 as JSON.stringify writes it (BigInt as its digits, as server/json.ts does). */
const jsonNum = (v: number | bigint) => String(v);

/**
 * The get-history answer as JSON text, page by page: byte for byte what `{ metrics, next_page_token }` serializes to
 * through metricOut (key, value, timestamp, step; NaN/±Infinity as strings; `{}` when empty). Measured on 100k points
 * (scripts/bench/history.ts): see the figures there.
 */
async function* historyJson(pages: AsyncIterable<Metric[]>, more: () => boolean, token: () => string): AsyncGenerator<string> {
  let started = false;
  let key = '';
  let keyJson = '';
  for await (const page of pages) {
    const parts: string[] = new Array(page.length);
    for (let i = 0; i < page.length; i++) {
      const m = page[i]!;
      if (m.key !== key) keyJson = `{"key":${JSON.stringify((key = m.key))},"value":`;
      // String(n) is JSON's number text for every finite double (-0 too: "0")
      const v = typeof m.value === 'string' ? `"${m.value}"` : String(m.value);
      parts[i] = `${keyJson}${v},"timestamp":${jsonNum(m.timestamp)},"step":${jsonNum(m.step)}}`;
    }
    yield (started ? ',' : '{"metrics":[') + parts.join(',');
    started = true;
  }
  const tail = more() ? `"next_page_token":${JSON.stringify(token())}` : '';
  yield started ? `]${tail ? ',' + tail : ''}}` : `{${tail}}`;
}

export const metricsRouter = router({
  /**
   * GetMetricHistory: every point of one metric of one run, ordered (timestamp, step, value), paged with
   * `max_results` (the client asks 25,000) and MLflow's offset token. No max_results (or 0, the proto default)
   * means the whole history. An unknown run is 404 (MLflow's SQL store answers an empty list).
   */
  getHistory: readProcedure
    .meta({ openapi: { method: 'GET', path: '/metrics/get-history', tags: MLFLOW, summary: 'GetMetricHistory' } })
    .input(
      runRequest({
        metric_key: requiredString,
        page_token: z.string().optional(),
        max_results: int32.optional(),
      }),
    )
    .output(z.object({ metrics: z.array(metricOut).optional(), next_page_token: z.string().optional() }))
    .query(async ({ ctx, input }) => {
      const runId = input.run_id;
      // 0 (the proto default) means the whole history; no upper bound
      if (input.max_results !== undefined && input.max_results < 0) validateMaxResults(input.max_results, Infinity);
      const maxResults = input.max_results || undefined;
      const offset = decodeOffsetToken(input.page_token);
      if (ctx.streamJson) {
        const { pages, more } = await metrics.streamMetricHistory(ctx.db, ctx.project.id, runId, input.metric_key, { offset, maxResults });
        await ctx.streamJson(historyJson(pages, more, () => encodeOffsetToken(offset + maxResults!)));
        return {};
      }
      const page = await metrics.getMetricHistory(ctx.db, ctx.project.id, runId, input.metric_key, { offset, maxResults });
      const out: { metrics?: typeof page.metrics; next_page_token?: string } = {};
      if (page.metrics.length) out.metrics = page.metrics;
      if (page.more) out.next_page_token = encodeOffsetToken(offset + maxResults!);
      return out;
    }),

  /**
   * GetMetricHistoryBulkInterval (the UI's charts): one metric of up to 100 runs at a sampled set of steps, as
   * MLflow's `get_metric_history_bulk_interval` samples them.
   */
  getHistoryBulkInterval: readProcedure
    .meta({
      openapi: { method: 'GET', path: '/metrics/get-history-bulk-interval', tags: MLFLOW, summary: 'GetMetricHistoryBulkInterval' },
    })
    .input(
      z.object({
        run_ids: z.array(z.string()),
        metric_key: requiredString,
        start_step: int64.optional(),
        end_step: int64.optional(),
        max_results: int32.optional(),
      }),
    )
    .output(z.object({ metrics: z.array(metricWithRunIdOut).optional() }))
    .query(async ({ ctx, input }) => {
      const runIds = input.run_ids;
      if (runIds.length > MAX_BULK_RUNS) {
        throw invalidParam(
          `GetMetricHistoryBulkInterval request must specify at most ${MAX_BULK_RUNS} run_ids. Received ${runIds.length} run_ids.${SEE_DOCS}`,
        );
      }
      const maxResults = input.max_results ?? MAX_RESULTS_PER_RUN;
      if (maxResults < 1 || maxResults > MAX_RESULTS_PER_RUN) {
        throw invalidParam(`max_results must be between 1 and ${MAX_RESULTS_PER_RUN}.${SEE_DOCS}`);
      }
      const { start_step: start, end_step: end } = input;
      if ((start === undefined) !== (end === undefined)) {
        throw invalidParam('If either start step or end step are specified, both must be specified.');
      }
      if (start !== undefined && end !== undefined && start > end) {
        throw invalidParam(`end_step must be greater than start_step. Found start_step=${start} and end_step=${end}.`);
      }
      const points = await metrics.getMetricHistoryBulkInterval(ctx.db, ctx.project.id, runIds, input.metric_key, {
        maxResults,
        startStep: start,
        endStep: end,
      });
      return points.length ? { metrics: points } : {};
    }),
});
