// The route's data, requested before the app chunk (React, views) is loaded, parsed and run: main.tsx calls
// preloadRoute() first and only then imports the app. Measured on the 10k-run bench (npm run bench:ui): the requests
// used to go out one after another (session check → project → keys/experiment → runs) from ~140 ms after
// navigation, after the whole app had booted; now they all leave at once, ~30 ms in. Plain fetch, no tRPC client:
// this module ends up in the small entry chunk.
// The app takes each answer once with takePreloaded(path, input): the same path and input (built by the same
// functions below) → the preloaded data; anything else, or a failed request, → undefined and the app asks itself
// (so errors surface through the tRPC client with their codes, as before).
import { int64Transformer } from '../../client/index.ts';
import { parseHash } from './routes.ts';

export interface ColRef { kind: 'metrics' | 'params' | 'tags'; key: string }
export type Keys = { metrics: { key: string; count: number }[]; params: { key: string; count: number }[]; tags: { key: string; count: number }[] };

/** The UI's same-origin proof, sent with every request (see api.ts). */
export const UI_HEADERS = { 'x-mltrack-ui': '1' };

/** The project this page belongs to: put in index.html by the server (`/` → the root project). */
export const projectRef: string =
  document.querySelector<HTMLMetaElement>('meta[name="mltrack-project"]')?.content ??
  decodeURIComponent(/\/api\/v4\/projects\/([^/]+)\/ml\/mlflow/.exec(location.pathname)?.[1] ?? '1');
export const trpcBase = `/api/v4/projects/${encodeURIComponent(projectRef)}/trpc`;

export const encodeCols = (cols: ColRef[]) => cols.map((c) => `${c.kind[0]}:${c.key}`).join('\n');
export function decodeCols(s: string | null): ColRef[] | undefined {
  if (s === null) return undefined;
  return s.split('\n').filter(Boolean).map((p) => ({ kind: p[0] === 'm' ? 'metrics' : p[0] === 'p' ? 'params' : 'tags', key: p.slice(2) }) as ColRef);
}

/** Columns shown when the URL names none: the first 4 metrics and 4 params. */
export function defaultCols(k: Keys): ColRef[] {
  return [...k.metrics.slice(0, 4).map((m) => ({ kind: 'metrics' as const, key: m.key })), ...k.params.slice(0, 4).map((p) => ({ kind: 'params' as const, key: p.key }))];
}

/** Rows in the first page: a screenful and some; the rest follow in one request (see Runs.tsx). */
export const HEAD_ROWS = 100;
/** The most one ui.runs request may ask for. */
export const PAGE_ROWS = 10_000;

/** ui.runs input of the runs table for the URL's filter, view, metric aggregate and the given columns. */
export function runsInput(experimentId: string, query: URLSearchParams, chosen: ColRef[]) {
  return {
    experimentId,
    filter: query.get('filter') || undefined,
    viewType: query.get('view') === 'deleted' ? ('DELETED_ONLY' as const) : ('ACTIVE_ONLY' as const),
    metrics: chosen.filter((c) => c.kind === 'metrics').map((c) => c.key),
    params: chosen.filter((c) => c.kind === 'params').map((c) => c.key),
    tags: chosen.filter((c) => c.kind === 'tags').map((c) => c.key),
    metricAgg: (query.get('agg') ?? 'last') as 'last' | 'min' | 'max',
  };
}
export type RunsInput = ReturnType<typeof runsInput>;

const ORDER_ATTR: Record<string, string> = { 'attr.name': 'run_name', 'attr.status': 'status', 'attr.start_time': 'start_time', 'attr.user': 'user_id' };
export const DEFAULT_SORT = 'attr.start_time:desc';

/**
 * The table's sort (`<column>:<asc|desc>`) as MLflow order_by, so the first page is the top of what the table will
 * show. undefined when the server cannot order by that column (duration, source; min/max aggregates): then the
 * table waits for all rows.
 */
export function sortOrderBy(sort: string, agg: string): string[] | undefined {
  const [id = '', dir = 'desc'] = sort.split(':');
  const d = dir === 'asc' ? 'ASC' : 'DESC';
  const q = (k: string) => '`' + k.replace(/`/g, '``') + '`';
  if (ORDER_ATTR[id]) return [`attributes.${ORDER_ATTR[id]} ${d}`];
  if (id.startsWith('metrics.')) return agg === 'last' ? [`metrics.${q(id.slice(8))} ${d}`] : undefined;
  if (id.startsWith('params.')) return [`params.${q(id.slice(7))} ${d}`];
  if (id.startsWith('tags.')) return [`tags.${q(id.slice(5))} ${d}`];
  return undefined;
}

export const headInput = (input: RunsInput, orderBy: string[]) => ({ ...input, orderBy, limit: HEAD_ROWS });
export const allInput = (input: RunsInput) => ({ ...input, limit: PAGE_ROWS });

const pending = new Map<string, Promise<unknown>>();
const keyOf = (path: string, input?: unknown) => `${path}?${JSON.stringify(input ?? null)}`;

/** The preloaded answer of this exact call, once; undefined when there is none (or it failed). */
export function takePreloaded<T>(path: string, input?: unknown): Promise<T | undefined> | undefined {
  const k = keyOf(path, input);
  const p = pending.get(k);
  if (p) pending.delete(k);
  return p as Promise<T | undefined> | undefined;
}

function fetchTrpc(path: string, input?: unknown): Promise<unknown> {
  const qs = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(int64Transformer.serialize(input)))}`;
  return fetch(`${trpcBase}/${path}${qs}`, { headers: UI_HEADERS })
    .then(async (r) => (r.ok ? int64Transformer.deserialize(((await r.json()) as { result: { data: unknown } }).result.data) : undefined))
    .catch(() => undefined);
}

/** Asks now, or once `after` settles; either way the answer is registered at once for takePreloaded. */
function trpcGet(path: string, input?: unknown, after?: Promise<unknown>): Promise<unknown> {
  const p = after ? after.then(() => fetchTrpc(path, input)) : fetchTrpc(path, input);
  pending.set(keyOf(path, input), p);
  return p;
}

/** The signed-in user, or null (401). Also preloaded; api.ts getSession() takes it. */
export function preloadSession(): void {
  pending.set(keyOf('session', undefined), fetch('/api/v4/ui/session', { headers: UI_HEADERS }).then((r) => (r.status === 401 ? null : r.ok ? r.json() : undefined)).catch(() => undefined));
}

/** Starts the requests of the page in the URL. Requests go out in the order the page needs their answers. */
export function preloadRoute(): void {
  preloadSession();
  trpcGet('ui.project');
  const { route, query } = parseHash(location.hash);
  if (route.name === 'runs') {
    const eid = route.experimentId;
    trpcGet('experiments.get', { experiment_id: eid });
    const fromUrl = decodeCols(query.get('cols'));
    // The first page alone, then the keys (column chooser, filter suggestions) and all rows: asked together, the
    // big answers held up the small one (one Node thread serves them all; sync SQLite queries block it).
    const keysInput = { experimentId: eid };
    const runs = (cols: ColRef[], withKeys: boolean) => {
      const input = runsInput(eid, query, cols);
      const orderBy = sortOrderBy(query.get('sort') ?? DEFAULT_SORT, input.metricAgg);
      const head = orderBy ? trpcGet('ui.runs', headInput(input, orderBy)) : undefined;
      if (withKeys) trpcGet('ui.keys', keysInput, head);
      trpcGet('ui.runs', allInput(input), head);
    };
    if (fromUrl) runs(fromUrl, true);
    else {
      // without columns in the URL, the runs request needs the keys first (the default columns come from them)
      const kp = (fetchTrpc('ui.keys', keysInput) as Promise<Keys | undefined>).then((k) => { if (k) runs(defaultCols(k), false); return k; });
      pending.set(keyOf('ui.keys', keysInput), kp);
    }
  } else if (route.name === 'run') {
    trpcGet('runs.get', { run_id: route.runId });
    // the chart code (uPlot, a lazy chunk) starts loading now rather than after the run page has rendered
    if (query.get('tab') === 'charts') void import('./views/Chart.tsx');
  } else if (route.name === 'compare') {
    void import('./views/Chart.tsx');
  }
}
