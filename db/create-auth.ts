/**
 * runs/create's authorization checked inside its own INSERT (MySQL's one-round-trip script, db/runs.ts
 * insertRunScript), instead of by a SELECT of its own before it: on one connection that SELECT was a whole round trip
 * of the two each create cost. MariaDB, scripts/bench/create-ab.ts against the build before (same run, alternating
 * rounds, medians): 1 client 536 → 717 req/s and 0.73 → 0.57 ms of server CPU a create, 20 clients 1,012 → 1,172
 * req/s and 0.58 → 0.49 ms; on a quieter machine 773 → 859 and 1,152 → 1,321 req/s.
 *
 * The server (server/create-fold.ts) takes who the caller is from an earlier request of the same token and project
 * path, unchecked; the run's INSERT then takes its experiment key from a SELECT that finds the experiment only if, at
 * that moment, the token is still that user's, not revoked, not expired, recently enough marked used, of the same
 * scopes, and the user still may write to that project: otherwise the INSERT fails (experiment_id cannot be NULL),
 * the transaction rolls back having written nothing, and the request goes the usual way, which answers the exact
 * error (or succeeds, when only the remembered facts were stale). Every check reads the rows of this request's own
 * transaction: a revoked token or a removed member counts from the very next request, as before.
 */
import { ACCESS } from '../core/accounts.ts';
import { LAST_USED_INTERVAL_MS } from './tokens.ts';

/** The caller of a runs/create as an earlier request found it; checked only by the run's INSERT. */
export interface FoldedAuth {
  tokenDigest: string;
  userId: number;
  username: string;
  isAdmin: boolean;
  /** as stored: the scopes joined by ',' */
  scopes: string;
  projectId: number;
  projectPath: string;
  /** Set once the run's transaction committed: the caller was who the request said, every check passed. */
  confirmed?: boolean;
}

/** The folded check did not pass (or could not run): nothing was written, the request is to go the usual way. */
export class FoldRefused extends Error {
  constructor() {
    super('runs/create: the folded authorization did not pass');
  }
}

/**
 * The experiment's key, or NULL unless the experiment is the project's and active and the caller may write to the
 * project now. `last_used_at` recent enough: the usual path writes it at most every LAST_USED_INTERVAL_MS
 * (db/tokens.ts), and this one never does, so a token due for it goes the usual way once. The username is compared
 * byte for byte: it becomes the run's user_id.
 */
export const FOLDED_EXPERIMENT =
  '(SELECT e.id FROM experiments e JOIN projects p ON p.id = e.project_id JOIN access_tokens t ON t.token_digest = ? ' +
  'JOIN users u ON u.id = t.user_id LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = u.id ' +
  "WHERE e.id = ? AND e.project_id = ? AND e.lifecycle_stage = 'active' AND p.path = ? " +
  'AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?) AND t.last_used_at >= ? AND t.scopes = ? ' +
  `AND u.id = ? AND BINARY u.username = ? AND u.is_admin = ? AND (u.is_admin = 1 OR m.access_level >= ${ACCESS.developer}))`;

/** FOLDED_EXPERIMENT's values, in order. */
export function foldedExperimentBindings(a: FoldedAuth, experimentKey: number, now = Date.now()): unknown[] {
  return [
    a.tokenDigest, experimentKey, a.projectId, a.projectPath,
    now, now - LAST_USED_INTERVAL_MS, a.scopes,
    a.userId, a.username, a.isAdmin ? 1 : 0,
  ];
}
