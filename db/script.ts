/**
 * MySQL: a write transaction as one round trip on db/hot.ts's script pool (connections with `multipleStatements`),
 * for statements whose whole text the caller built (no placeholders, so the driver is told there is nothing to
 * format: with a values array, even an empty one, mysql2 scans the whole text for `?`, ~70 kB for a 1000-point
 * log-batch). Before it, a log-batch was six round trips (BEGIN, the run, metrics, latest values, rollups, COMMIT).
 */
import type { Db } from './knex.ts';
import { scriptPool, ScriptOutcomeUnknown } from './hot.ts';
import { isConnectionLost, retryTransaction } from './tx.ts';

type Callback = (err: (Error & { code?: string }) | null, result?: unknown) => void;
interface Conn {
  query(opts: { sql: string; values: unknown[] | null; timeout?: number }, values: undefined, cb: Callback): unknown;
  escape(value: string): string;
  release(): void;
  destroy(): void;
}
interface Pool {
  getConnection(cb: (err: Error | null, conn: Conn) => void): void;
}

/** A connection of the script pool for `fn`: one or more queries, then `BEGIN; …; COMMIT` with `script`. */
export interface ScriptSession {
  /** One statement with `?` placeholders (bound by the driver); its rows. */
  query<T = unknown>(sql: string, values: unknown[]): Promise<T>;
  /** The driver's string escaper, for text built by the caller. */
  escape(value: string): string;
  /**
   * `statements` in one transaction, sent as one query. A statement that fails rolls the transaction back and its
   * error is thrown; a connection that breaks while the script is out throws ScriptOutcomeUnknown (whether COMMIT took
   * effect is unknown: the caller's re-run must be idempotent).
   */
  script(statements: string[]): Promise<void>;
}

const timeoutOf = (db: Db) => {
  const t = Number(db.client.config.acquireConnectionTimeout);
  return t < 2 ** 31 - 1 ? { timeout: t } : {};
};
const announce = (db: Db, sql: string, bindings: unknown[] = []) => db.client.emit('query', { sql, bindings, method: 'raw' });

/**
 * `fn` with one connection of the database's script pool, retried whole on a deadlock or lock timeout (as every
 * transaction runner: db/tx.ts retryTransaction) and when the connection was lost before the script went out (nothing
 * was written: up to 3 times). Undefined
 * where there is no script pool (SQLite, Galera: db/hot.ts): the caller writes statement by statement.
 */
export async function withScriptSession<T>(db: Db, fn: (s: ScriptSession) => Promise<T>, attempts = 10): Promise<{ value: T } | undefined> {
  const pool = (await scriptPool(db)) as unknown as Pool | undefined;
  if (!pool) return undefined;
  const timeout = timeoutOf(db);
  // whether this attempt's script went out: before that, a lost connection left nothing behind (as in withTransaction)
  let sent = false;
  const once = () =>
    new Promise<T>((resolve, reject) => {
      sent = false;
      pool.getConnection((err, conn) => {
        if (err) return reject(err);
        // a timed-out query stays at the head of the connection's queue (db/knex.ts): the connection goes
        let broken = false;
        const send = <R>(sql: string, values: unknown[] | null) =>
          new Promise<R>((ok, fail) =>
            conn.query({ sql, values, ...timeout }, undefined, (e, result) => {
              if (e && (e.code === 'PROTOCOL_SEQUENCE_TIMEOUT' || isConnectionLost(e))) broken = true;
              return e ? fail(e) : ok(result as R);
            }),
          );
        const session: ScriptSession = {
          query: (sql, values) => {
            announce(db, sql, values);
            return send(sql, values);
          },
          escape: (v) => conn.escape(v),
          async script(statements) {
            announce(db, 'BEGIN');
            for (const s of statements) announce(db, s);
            announce(db, 'COMMIT');
            sent = true;
            try {
              await send(['BEGIN', ...statements, 'COMMIT'].join(';\n'), null);
            } catch (e) {
              if (isConnectionLost(e)) throw new ScriptOutcomeUnknown(e);
              // a statement failed: the ones after it did not run, the transaction is still open on the connection
              if (!broken) await send('ROLLBACK', null).catch(() => (broken = true));
              throw e;
            }
          },
        };
        fn(session).then(
          (v) => {
            if (broken) conn.destroy();
            else conn.release();
            resolve(v);
          },
          (e) => {
            if (broken) conn.destroy();
            else conn.release();
            reject(e);
          },
        );
      });
    });
  const value = await retryTransaction(once, (err) => !sent && isConnectionLost(err), attempts);
  return { value };
}
