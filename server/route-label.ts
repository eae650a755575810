/**
 * The route of a request as a bounded label, for metrics and logs: the procedure name for the MLflow REST facade and
 * tRPC (`runs.logBatch`, whichever mount and project it came through), the route template for the artifact proxy
 * (`/mlflow-artifacts/artifacts/<path>`), the path itself for the few fixed paths, and `unmatched` for everything
 * else. Never a raw id, artifact path or scanner's URL: a label value names a time series, and each one costs memory
 * in the scraper for as long as it lives.
 */
import { appRouter } from '../routers/index.ts';
import { PROXY_ROUTES } from './artifacts/routes.ts';
import { restRoutes } from './rest.ts';

export const UNMATCHED = 'unmatched';

const REST = /^(?:\/api\/v4\/projects\/[^/]+\/ml\/mlflow)?\/(?:api|ajax-api)\/2\.0\/mlflow(\/.*)$/;
const ARTIFACTS = /^(?:\/api\/v4\/projects\/[^/]+\/ml\/mlflow)?\/(?:api|ajax-api)\/2\.0\/mlflow-artifacts(\/.*)$/;
const TRPC = /^\/api\/v4\/(?:projects\/[^/]+\/)?trpc\/([^/]+)$/;
const UI_PROJECT = /^\/api\/v4\/projects\/[^/]+\/ml\/mlflow\/?$/;
const FIXED = new Set(['/', '/health', '/ready', '/version', '/openapi.json']);

interface Table {
  /** REST path → procedure by method (GET, POST…) */
  exact: Map<string, Map<string, string>>;
  /** templated REST paths (`/logged-models/{model_id}`) */
  templated: { re: RegExp; byMethod: Map<string, string> }[];
  procedures: Set<string>;
}

let table: Table | undefined;

function build(): Table {
  const exact = new Map<string, Map<string, string>>();
  const templated = new Map<string, { re: RegExp; byMethod: Map<string, string> }>();
  for (const r of restRoutes(appRouter)) {
    const method = r.method.toUpperCase();
    if (r.path.includes('{')) {
      const re = new RegExp(`^${r.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '[^/]+')}/?$`);
      const t = templated.get(r.path) ?? { re, byMethod: new Map() };
      t.byMethod.set(method, r.procedurePath);
      templated.set(r.path, t);
    } else {
      const m = exact.get(r.path) ?? new Map<string, string>();
      m.set(method, r.procedurePath);
      exact.set(r.path, m);
    }
  }
  const procedures = new Set(Object.keys(appRouter._def.procedures as object));
  return { exact, templated: [...templated.values()], procedures };
}

/** A procedure by method, or the path's only procedure (the facade may answer other methods with its 4xx). */
function pick(byMethod: Map<string, string>, method: string): string {
  return byMethod.get(method) ?? byMethod.values().next().value ?? UNMATCHED;
}

/**
 * The route labels of a request: one, except for a tRPC batch (`/trpc/a.b,c.d?batch=1`), which names each procedure
 * it calls. `url` is the request's original URL, query included or not.
 */
export function routeLabels(method: string, url: string): string[] {
  table ??= build();
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  const m = method === 'HEAD' ? 'GET' : method;

  let hit = REST.exec(path);
  if (hit) {
    const sub = hit[1]!.length > 1 ? hit[1]!.replace(/\/$/, '') : hit[1]!;
    const exact = table.exact.get(sub);
    if (exact) return [pick(exact, m)];
    for (const t of table.templated) if (t.re.test(sub)) return [pick(t.byMethod, m)];
    return [UNMATCHED];
  }
  hit = ARTIFACTS.exec(path);
  if (hit) {
    const sub = hit[1]!;
    for (const r of PROXY_ROUTES) {
      if (r.method !== m) continue;
      if (!r.path.endsWith('<path>')) {
        if (sub === r.path || sub === `${r.path}/`) return [`/mlflow-artifacts${r.path}`];
        continue;
      }
      const prefix = r.path.slice(0, -'<path>'.length);
      if (sub.startsWith(prefix) && sub !== prefix) return [`/mlflow-artifacts${r.path}`];
    }
    return [UNMATCHED];
  }
  hit = TRPC.exec(path);
  if (hit) {
    let names: string[];
    try {
      names = decodeURIComponent(hit[1]!).split(',');
    } catch {
      return [UNMATCHED];
    }
    const known = names.map((n) => (table!.procedures.has(n) ? n : UNMATCHED));
    return [...new Set(known)];
  }
  if (FIXED.has(path)) return [path];
  if (path.startsWith('/api/v4/ui/session')) return ['/api/v4/ui/session'];
  if (path.startsWith('/assets/')) return ['/assets/*'];
  if (UI_PROJECT.test(path)) return ['/api/v4/projects/:id/ml/mlflow/'];
  return [UNMATCHED];
}
