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

/** The database's bound on a statement (MLTRACK_DB_TIMEOUT_MS, db/knex.ts), or Infinity. */
const boundOf = (db: Db) => {
  const t = Number(db.client.config.acquireConnectionTimeout);
  return t > 0 && t < 2 ** 31 - 1 ? t : Infinity;
};
/** The bound passed before a connection of the pool was free: nothing was sent (a 503, as knex's acquire timeout). */
const acquireTimeout = () => new Error('Unable to acquire a connection of the script pool within the database timeout');
const announce = (db: Db, sql: string) => db.client.emit('query', { sql, bindings: [], method: 'raw' });

/**
 * The statements `build` answers, in one transaction sent as one query on a connection of the database's script pool
 * (`build` gets the driver's string escaper for the text it builds). A statement that fails rolls the transaction
 * back (the ones after it did not run) and its error is thrown; the whole is retried on a deadlock or lock timeout
 * (as by every transaction runner: db/tx.ts retryTransaction) and when no connection could be had. The whole, waiting
 * for a connection of the pool included, is bounded by the database timeout: on a frozen server, a request queued
 * behind the pool's 4 stuck connections took twice the bound (test/outage.test.ts, 4,007 ms). A connection that
 * breaks while the script is out throws ScriptOutcomeUnknown: whether COMMIT took effect is unknown, so the caller's
 * next move must be right either way. False where there is no script pool (SQLite, Galera: db/hot.ts): the caller
 * writes statement by statement.
 */
export async function scriptTransaction(db: Db, build: (escape: (s: string) => string) => string[], attempts = 10): Promise<boolean> {
  const pool = (await scriptPool(db)) as unknown as Pool | undefined;
  if (!pool) return false;
  const bound = boundOf(db);
  const deadline = performance.now() + bound;
  const once = () =>
    new Promise<void>((resolve, reject) => {
      let waiting = true;
      const timer =
        bound < Infinity
          ? setTimeout(() => {
              waiting = false;
              reject(acquireTimeout());
            }, Math.max(0, deadline - performance.now()))
          : undefined;
      pool.getConnection((err, conn) => {
        if (!waiting) return err ? undefined : conn.release(); // too late: the caller had its answer
        waiting = false;
        clearTimeout(timer);
        if (err) return reject(Object.assign(err, { notSent: true }));
        const left = deadline - performance.now();
        if (left < 1) return conn.release(), reject(acquireTimeout());
        const timeout = left < Infinity ? { timeout: Math.ceil(left) } : {};
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
          conn.query({ sql: 'ROLLBACK', values: null, ...(bound < Infinity ? { timeout: bound } : {}) }, undefined, (rbErr) => {
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
