/**
 * MySQL: a write transaction as one round trip on db/hot.ts's script pool (connections with `multipleStatements`),
 * for statements whose whole text the caller built (no placeholders, so the driver is told there is nothing to
 * format: with a values array, even an empty one, mysql2 scans the whole text for `?`, ~70 kB for a 1000-point
 * log-batch). Before it, a log-batch was six round trips (BEGIN, the run, metrics, latest values, rollups, COMMIT).
 * The runner is db/hot.ts's runScript for built text: no values, and the statements' text built on the connection.
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

const timeoutOf = (db: Db) => {
  const t = Number(db.client.config.acquireConnectionTimeout);
  return t < 2 ** 31 - 1 ? { timeout: t } : {};
};
const announce = (db: Db, sql: string) => db.client.emit('query', { sql, bindings: [], method: 'raw' });

/**
 * The statements `build` answers, in one transaction sent as one query on a connection of the database's script pool
 * (`build` gets the driver's string escaper for the text it builds). A statement that fails rolls the transaction
 * back (the ones after it did not run) and its error is thrown; the whole is retried on a deadlock or lock timeout
 * (as by every transaction runner: db/tx.ts retryTransaction) and when no connection could be had. A connection that
 * breaks while the script is out throws ScriptOutcomeUnknown: whether COMMIT took effect is unknown, so the caller's
 * next move must be right either way. False where there is no script pool (SQLite, Galera: db/hot.ts): the caller
 * writes statement by statement.
 */
export async function scriptTransaction(db: Db, build: (escape: (s: string) => string) => string[], attempts = 10): Promise<boolean> {
  const pool = (await scriptPool(db)) as unknown as Pool | undefined;
  if (!pool) return false;
  const timeout = timeoutOf(db);
  const once = () =>
    new Promise<void>((resolve, reject) => {
      pool.getConnection((err, conn) => {
        if (err) return reject(Object.assign(err, { notSent: true }));
        let statements: string[];
        try {
          statements = build((v) => conn.escape(v));
        } catch (e) {
          conn.release();
          return reject(e);
        }
        announce(db, 'BEGIN');
        for (const s of statements) announce(db, s);
        announce(db, 'COMMIT');
        conn.query({ sql: ['BEGIN', ...statements, 'COMMIT'].join(';\n'), values: null, ...timeout }, undefined, (e) => {
          if (!e) {
            conn.release();
            return resolve();
          }
          // a timed-out query stays at the head of the connection's queue (db/knex.ts): the connection goes. A timeout
          // is not retried (a retry would stretch the bound past it).
          if (e.code === 'PROTOCOL_SEQUENCE_TIMEOUT') return conn.destroy(), reject(e);
          if (isConnectionLost(e)) return conn.destroy(), reject(new ScriptOutcomeUnknown(e));
          conn.query({ sql: 'ROLLBACK', values: null }, undefined, (rbErr) => {
            if (rbErr) conn.destroy();
            else conn.release();
            reject(e);
          });
        });
      });
    });
  await retryTransaction(once, (err) => (err as { notSent?: boolean }).notSent === true && isConnectionLost(err), attempts);
  return true;
}
