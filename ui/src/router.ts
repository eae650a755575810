import { useSyncExternalStore } from 'react';

export { parseHash, type Route } from './routes.ts';

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
