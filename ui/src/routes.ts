// Hash routes, without React: the entry chunk (preload.ts) parses the URL before the app is loaded.
/** Hash routes, as the MLflow client prints them: #/experiments/<id> and #/experiments/<id>/runs/<run_id>. */
export type Route =
  | { name: 'experiments' }
  | { name: 'projects' }
  | { name: 'runs'; experimentId: string }
  | { name: 'run'; experimentId: string; runId: string }
  | { name: 'compare'; experimentId: string }
  // models section (issue 10 item 6)
  | { name: 'models' }
  | { name: 'model'; modelName: string }
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
  // models section (issue 10 item 6): #/models and #/models/<url-encoded name>
  if (seg[0] === 'models' && seg.length === 1) return { route: { name: 'models' }, query };
  if (seg[0] === 'models' && seg.length === 2) return { route: { name: 'model', modelName: seg[1]! }, query };
  return { route: { name: 'notFound' }, query };
}

