import type { Db } from '../db/knex.ts';
import { migrationSource } from '../db/migrations/index.ts';

/**
 * How long /ready waits for the database (or MLTRACK_DB_TIMEOUT_MS if smaller). Above Galera's stall when a node
 * dies (every commit and causal read waits ~5-6 s until the dead member is evicted, evs.suspect_timeout PT5S): with
 * 2 s, all three servers failed their check at once during that stall and the load balancer answered 503 to every
 * request (61 of 610 in test/cluster/failures.cluster.ts) although each would have been served a few seconds later.
 */
export const READY_TIMEOUT_MS = 8000;

/**
 * Readiness, for a load balancer or an orchestrator: the database answers `SELECT 1` within `timeoutMs`, and every
 * migration this build knows has been applied. Returns why not, or undefined when ready. `/health` stays liveness.
 * The migration check is remembered once it passes (migrations never go backwards under a running server).
 */
export function readiness(db: Db, timeoutMs: number): () => Promise<string | undefined> {
  let migrated = false;
  const withTimeout = <T>(p: Promise<T>) =>
    Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), timeoutMs).unref())]);
  return async () => {
    try {
      await withTimeout(db.raw('select 1'));
    } catch {
      return 'The database does not answer.';
    }
    if (!migrated) {
      try {
        const [done, known] = await withTimeout(Promise.all([db('knex_migrations').pluck('name'), migrationSource.getMigrations([])]));
        const applied = new Set(done as string[]);
        const pending = (known as unknown[]).map((m) => migrationSource.getMigrationName(m as never)).filter((n) => !applied.has(n));
        if (pending.length) return `Migrations pending: ${pending.join(', ')}.`;
        migrated = true;
      } catch {
        return 'The migrations table cannot be read.';
      }
    }
    return undefined;
  };
}
