/**
 * MySQL: a write transaction as one round trip on db/hot.ts's script pool (connections with `multipleStatements`),
 * for statements whose whole text the caller built with the driver's escaper (no placeholders: db/hot.ts sendScript
 * then has mysql2 format nothing, where a values array, even an empty one, makes it scan the whole text for `?`,
 * ~70 kB for a 1000-point log-batch). Before it, a log-batch was six round trips (BEGIN, the run, metrics, latest
 * values, rollups, COMMIT). Runner, retries and the database timeout are db/hot.ts scriptRun's, as for runs/create.
 */
import type { Db } from './knex.ts';
import { scriptRun } from './hot.ts';

/**
 * The statements `build` answers (given the driver's string escaper), in one transaction sent as one query. A
 * statement that fails rolls the transaction back and its error is thrown; a connection that breaks while the script
 * is out throws ScriptOutcomeUnknown (whether COMMIT took effect is unknown, so the caller's next move must be right
 * either way). False where there is no script pool (SQLite, Galera: db/hot.ts): the caller writes statement by
 * statement.
 */
export async function scriptTransaction(db: Db, build: (escape: (s: string) => string) => string[], attempts = 10): Promise<boolean> {
  const done = await scriptRun(db, (escape) => build(escape).map((sql) => ({ sql, bindings: [] })), attempts);
  return done !== undefined;
}
