import type { Db } from '../db/knex.ts';
import { migrationSource } from '../db/migrations/index.ts';

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
