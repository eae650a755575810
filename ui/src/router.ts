import { useSyncExternalStore } from 'react';

/** Hash routes, as the MLflow client prints them: #/experiments/<id> and #/experiments/<id>/runs/<run_id>. */
export type Route =
  | { name: 'experiments' }
  | { name: 'projects' }
  | { name: 'runs'; experimentId: string }
  | { name: 'run'; experimentId: string; runId: string }
  | { name: 'compare'; experimentId: string }
  | { name: 'notFound' };

export function parseHash(hash: string): { route: Route; query: URLSearchParams } {
  const h = hash.replace(/^#/, '') || '/';
  const [path = '/', qs = ''] = h.split('?');
  const query = new URLSearchParams(qs);
  const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (seg.length === 0) return { route: { name: 'experiments' }, query };
  if (seg[0] === 'projects' && seg.length === 1) return { route: { name: 'projects' }, query };
  if (seg[0] === 'experiments' && seg.length === 2) return { route: { name: 'runs', experimentId: seg[1]! }, query };
  if (seg[0] === 'experiments' && seg[2] === 'runs' && seg.length === 4) return { route: { name: 'run', experimentId: seg[1]!, runId: seg[3]! }, query };
  if (seg[0] === 'experiments' && seg[2] === 'compare' && seg.length === 3) return { route: { name: 'compare', experimentId: seg[1]! }, query };
  return { route: { name: 'notFound' }, query };
}

const subscribe = (cb: () => void) => {
  window.addEventListener('hashchange', cb);
  return () => window.removeEventListener('hashchange', cb);
};

export function useHash(): string {
  return useSyncExternalStore(subscribe, () => location.hash);
}

export function href(path: string, query?: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v) q.set(k, v);
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ''}`;
}

/** Replaces the query of the current route (filter/sort/columns live in the URL) without a history entry per keystroke. */
export function setQuery(update: Record<string, string | undefined>, push = false): void {
  const h = location.hash.replace(/^#/, '') || '/';
  const [path = '/', qs = ''] = h.split('?');
  const q = new URLSearchParams(qs);
  for (const [k, v] of Object.entries(update)) v ? q.set(k, v) : q.delete(k);
  const next = `#${path}${q.toString() ? `?${q}` : ''}`;
  if (push) location.hash = next;
  else {
    history.replaceState(null, '', next);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  }
}
