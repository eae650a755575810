import { createTRPCClient, httpBatchLink, httpLink } from '@trpc/client';
import type { AppRouter } from '../routers/index.ts';
import { int64Transformer } from '../core/transformer.ts';

export type { AppRouter } from '../routers/index.ts';
/** The wire codec, for clients that build their own links (the web UI sends a session cookie, not a token). */
export { int64Transformer } from '../core/transformer.ts';
/** ui.runs answers columns in this compact form; decodeColumn gives one value per run. */
export { decodeColumn, type Column } from '../core/columns.ts';

export interface MltrackClientOptions {
  /** e.g. http://127.0.0.1:5000 */
  url: string;
  /** personal access token */
  token: string;
  /** project id or full path; omit for instance-level (admin) procedures */
  project?: number | string;
  /** batch several calls into one HTTP request (default true) */
  batch?: boolean;
}

/** A typed tRPC client for mltrack: the same procedures as the MLflow REST API, plus admin procedures. */
export function createMltrackClient(opts: MltrackClientOptions) {
  const base = opts.url.replace(/\/+$/, '');
  const url =
    opts.project === undefined ? `${base}/api/v4/trpc` : `${base}/api/v4/projects/${encodeURIComponent(String(opts.project))}/trpc`;
  const link = (opts.batch ?? true) ? httpBatchLink : httpLink;
  return createTRPCClient<AppRouter>({
    links: [link({ url, transformer: int64Transformer, headers: () => ({ authorization: `Bearer ${opts.token}` }) })],
  });
}
