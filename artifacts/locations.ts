/**
 * Where the artifacts of a run or logged model live in the store.
 *
 * Runs and logged models carry MLflow URIs: `mlflow-artifacts:/<experiment_id>/<run_id>/artifacts` and
 * `mlflow-artifacts:/<experiment_id>/models/<model_id>/artifacts` (or below a custom `mlflow-artifacts:` experiment
 * location). The client resolves them to `<tracking>/api/2.0/mlflow-artifacts/artifacts/<path>`, so `<path>` is the
 * location inside the project's store scope. Any other scheme (s3://, file:…) is written by the client itself and
 * is never read or written by this server.
 */
import path from 'node:path';
import { safeRelativePath } from './paths.ts';
import type { ArtifactFileInfo, ArtifactStore } from './store.ts';

/** The store scope of a project: every artifact of project N lives under `p/N`, out of reach of other projects. */
export const projectScope = (projectId: number) => `p/${projectId}`;

/**
 * The store path (relative to the project scope) of an `mlflow-artifacts:` URI, or null for any other URI.
 * `mlflow-artifacts:/a/b`, `mlflow-artifacts:///a/b` and `mlflow-artifacts://host:port/a/b` all give `a/b`
 * (the client also ignores the authority when it is the tracking server). Unsafe paths give null.
 */
export function proxyPathOf(uri: string): string | null {
  const m = /^mlflow-artifacts:(.*)$/i.exec(uri);
  if (!m) return null;
  let rest = m[1]!;
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    rest = slash >= 0 ? rest.slice(slash) : '';
  }
  rest = rest.replace(/\/{2,}/g, '/').replace(/^\/+/, '');
  try {
    return safeRelativePath(rest);
  } catch {
    return null;
  }
}

/** `a/b` + `c` → `a/b/c`; either side may be empty. */
export const joinRel = (...parts: string[]) => parts.filter((p) => p !== '').join('/');

/**
 * The entries of `rel` below an artifact root URI, with paths relative to that root (`dir/f.txt`), as the tracking
 * service's artifacts/list answers. `rel` must already be normalised by safeRelativePath. A root that is not served
 * by this server lists as empty.
 */
export async function listBelowRoot(
  store: ArtifactStore,
  projectId: number,
  rootUri: string,
  rel: string,
): Promise<ArtifactFileInfo[]> {
  const root = proxyPathOf(rootUri);
  if (root === null) return [];
  const entries = await store.list(projectScope(projectId), joinRel(root, rel));
  return entries.map((e) => ({ ...e, path: rel ? path.posix.join(rel, e.path) : e.path }));
}
