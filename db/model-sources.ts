/**
 * Where a new model version's files are, as MLflow's create_model_version resolves it: a `models:/<name>/<n>`
 * source is the download location of that version; MLflow 3's `models:/<model_id>` (and a bare `model_id`) is the
 * logged model's artifact location, and the run defaults to the logged model's source run. Everything is looked up
 * in the request's project only: a name or id of another project is not found. MLflow answers 500 when resolution
 * fails; a missing model or version is the caller's mistake, so this answers 404.
 */
import type { Db, Trx } from './knex.ts';
import { parseVersion } from '../core/registry-rules.ts';
import { pyJsonDumps } from '../core/python.ts';
import { requireLoggedModel } from './logged-models.ts';
import { downloadUri, requireVersion } from './model-versions.ts';
import { requireRun } from './runs.ts';
import type { DbModelKeyValueRow } from './tables.ts';

export interface ResolvedSource {
  storageLocation?: string;
  runId?: string;
  /** internal logged_models.id whose `mlflow.modelVersions` tag records the new version */
  loggedModelKey?: number;
  loggedModelId?: string;
}

const LOGGED_MODEL_URI = /^models:\/(m-[0-9a-f]{32})\/?$/;
const VERSION_URI = /^models:\/([^/@]+)\/([^/]+)\/?$/;

export async function resolveVersionSource(
  db: Db,
  projectId: number,
  req: { source: string; runId?: string; modelId?: string },
): Promise<ResolvedSource> {
  const out: ResolvedSource = {};
  if (req.runId) {
    // a run of another project is refused exactly as a missing one is
    await requireRun(db, projectId, req.runId);
    out.runId = req.runId;
  }
  const logged = LOGGED_MODEL_URI.exec(req.source)?.[1] ?? req.modelId;
  if (logged) {
    const m = await requireLoggedModel(db, projectId, logged);
    if (LOGGED_MODEL_URI.test(req.source)) out.storageLocation = m.artifact_location;
    out.runId ??= m.source_run_id ?? undefined;
    out.loggedModelKey = m.id;
    out.loggedModelId = m.model_id;
    return out;
  }
  const v = VERSION_URI.exec(req.source);
  if (v) {
    const row = await requireVersion(db, projectId, decodeURIComponent(v[1]!), parseVersion(v[2]!));
    out.storageLocation = downloadUri(row);
  }
  return out;
}

/** MLflow 3: the logged model's tag `mlflow.modelVersions` lists the versions registered from it. */
export async function recordVersionOnLoggedModel(trx: Trx, loggedModelKey: number, name: string, version: number): Promise<void> {
  const key = 'mlflow.modelVersions';
  const prev = await trx<DbModelKeyValueRow>('logged_model_tags').where({ model_id: loggedModelKey, key }).first('value');
  let list: unknown[] = [];
  try {
    const parsed: unknown = prev ? JSON.parse(prev.value) : [];
    if (Array.isArray(parsed)) list = parsed;
  } catch {
    // a tag a client wrote that is not a JSON list: start a fresh one
  }
  list.push({ name, version });
  // written as MLflow's server writes it (Python's json.dumps), which the 3.x client then merges its entry into
  const value = pyJsonDumps(list);
  await trx<DbModelKeyValueRow>('logged_model_tags').insert({ model_id: loggedModelKey, key, value }).onConflict(['model_id', 'key']).merge(['value']);
}
