import { createTRPCClient, httpBatchLink, httpLink, splitLink, TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../../routers/index.ts';
// The wire codec shared with the server, through the typed client package: int64 values travel as {"$int64"}.
import { int64Transformer } from '../../client/index.ts';

import { projectRef, takePreloaded, trpcBase, UI_HEADERS } from './preload.ts';

export { projectRef };

// The big answers (a runs page, a history) go alone: batched, every query of the tick waited for the slowest.
const UNBATCHED = new Set(['ui.runs', 'ui.metricHistory']);
const link = (url: string) => splitLink({
  condition: (op) => UNBATCHED.has(op.path),
  true: httpLink({ url, transformer: int64Transformer, headers: () => UI_HEADERS }),
  false: httpBatchLink({ url, transformer: int64Transformer, headers: () => UI_HEADERS, maxURLLength: 6000 }),
});

export const trpc = createTRPCClient<AppRouter>({ links: [link(trpcBase)] });
export const instanceTrpc = createTRPCClient<AppRouter>({ links: [link('/api/v4/trpc')] });

/** MLflow REST base of this project (artifact downloads go through its proxy). */
export const mlflowBase = `/api/v4/projects/${encodeURIComponent(projectRef)}/ml/mlflow`;

export interface Session { user: { username: string; isAdmin: boolean }; scopes: string[] }

export async function getSession(): Promise<Session | null> {
  const pre = await takePreloaded<Session | null>('session');
  if (pre !== undefined) return pre;
  const r = await fetch('/api/v4/ui/session', { headers: UI_HEADERS });
  if (r.status === 401) return null;
  if (!r.ok) throw new Error(`session check failed: HTTP ${r.status}`);
  return r.json();
}

export async function signIn(body: { token: string } | { username: string; password: string }): Promise<Session> {
  const r = await fetch('/api/v4/ui/session', { method: 'POST', headers: { ...UI_HEADERS, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.message ?? `HTTP ${r.status}`);
  return j;
}

export async function signOut(): Promise<void> {
  await fetch('/api/v4/ui/session', { method: 'DELETE', headers: UI_HEADERS });
}

/** The preloaded answer (preload.ts) of this query if there is one, else the query itself. */
export async function preloadedOr<T>(path: string, input: unknown, query: () => Promise<T>): Promise<T> {
  const pre = await takePreloaded<T>(path, input);
  return pre !== undefined ? pre : query();
}

/** MLflow error code of a failed call, if any. */
export function errorCode(e: unknown): string | undefined {
  if (e instanceof TRPCClientError) return (e.data as { mlflow?: { error_code?: string } } | undefined)?.mlflow?.error_code;
  return undefined;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Artifact download URL (through the project's MLflow artifact proxy; the session cookie authenticates it). */
export function artifactUrl(artifactUri: string, path: string): string {
  const root = artifactUri.replace(/^mlflow-artifacts:\/*/, '').replace(/\/+$/, '');
  const rel = [root, path].filter(Boolean).join('/').split('/').map(encodeURIComponent).join('/');
  return `${mlflowBase}/api/2.0/mlflow-artifacts/artifacts/${rel}`;
}
