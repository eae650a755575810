import type { Db } from '../db/knex.ts';
import type { Config } from '../core/config.ts';
import type { ArtifactStore } from '../artifacts/store.ts';
import type { FoldedAuth } from '../db/create-auth.ts';


export interface AuthUser {
  id: number;
  username: string;
  isAdmin: boolean;
}

export interface ProjectAccess {
  id: number;
  path: string;
  name: string;
  visibility: 'private' | 'public';
  /** the caller's access level in this project; 0 when not a member (public projects can still be read) */
  accessLevel: number;
}

/** What every request carries once the middleware chain has run. */
export interface RequestContext {
  db: Db;
  config: Config;
  /** Storage behind the mlflow-artifacts proxy and artifacts/list (created once per app). */
  artifacts: ArtifactStore;
  requestId: string;
  user: AuthUser | null;
  scopes: string[];
  /** the project the URL names, once resolved and checked for read access */
  project: ProjectAccess | null;
  /** On /trpc mounts an auth or project failure is kept here and thrown by the procedure, so the typed client
   * receives it in tRPC's error shape. */
  deferredError?: Error;
  /**
   * REST only (server/rest.ts): answers 200 with JSON written piece by piece as `chunks` yields them, for answers too
   * large to build whole (a 100k-point metrics/get-history). A procedure that used it returns `{}`, which is not sent.
   */
  streamJson?: (chunks: AsyncIterable<string>) => Promise<void>;
  /**
   * runs/create on MySQL (server/create-fold.ts): user, scopes and project were taken unchecked from an earlier
   * request of the same token; runs/create's INSERT checks them (db/create-auth.ts). No other procedure runs with it.
   */
  createAuth?: FoldedAuth;
}
