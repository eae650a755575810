/**
 * Hot statements: fixed SQL run straight on the driver's connection, taken from knex's pool. The request path of
 * every call (auth) and of runs/create used to go through knex's query builder, whose per-query set-up, compiler and
 * formatter were a third of the server's CPU (--cpu-prof under runs/create at 4 clients); here the SQL text is a
 * constant and, on SQLite, its prepared statement is reused (db/knex.ts). Each statement is still announced as a
 * knex 'query' event, so the statement counters of the tests see every one.
 */
import type { Db } from './knex.ts';
import { exactDoubles, isMysql, unbig } from './knex.ts';
import { gatedWrite, isConnectionLost, retryTransaction } from './tx.ts';

/** Off only for the bench's same-run "before" figures (scripts/bench/create.ts): callers then take the knex path. */
export const hotPath = { enabled: true };

interface SqliteConn {
  prepare(sql: string): { reader: boolean; all(b: unknown[]): unknown[]; run(b: unknown[]): { changes: number; lastInsertRowid: number | bigint } };
}
type MysqlCallback = (err: Error | null, result?: unknown) => void;
interface MysqlConn {
  query(opts: { sql: string }, values: unknown[], cb: MysqlCallback): unknown;
}

/** What a write reports: rows changed and the new AUTO_INCREMENT / rowid. */
export interface WriteResult {
  changes: number;
  insertId: number;
}

/** One statement on a connection of the pool: rows for a SELECT, WriteResult otherwise. */
export type Exec = (<T = unknown>(sql: string, bindings?: unknown[]) => Promise<T>) & {
  /** A Galera node's connection: only its plain SELECTs wait for what the cluster committed (db/knex.ts). */
  causalReads?: boolean;
};

const announce = (db: Db, sql: string, bindings: unknown[]) => db.client.emit('query', { sql, bindings, method: 'raw' });

function executor(db: Db, conn: unknown): Exec {
  if (isMysql(db)) {
    const c = conn as MysqlConn & { causalReads?: boolean };
    const exec: Exec = <T>(sql: string, bindings: unknown[] = []) => {
      announce(db, sql, bindings);
      // the object form, so that db/knex.ts's per-statement timeout applies
      return new Promise<T>((resolve, reject) =>
        c.query({ sql }, bindings, (err, result) => {
          if (err) return reject(err);
          const r = result as { affectedRows?: number; insertId?: number };
          if (Array.isArray(result)) resolve(result as T);
          else resolve({ changes: r.affectedRows ?? 0, insertId: Number(r.insertId ?? 0) } as T);
        }),
      );
    };
    exec.causalReads = c.causalReads === true;
    return exec;
  }
  const c = conn as SqliteConn;
  return <T>(sql: string, bindings: unknown[] = []) => {
    announce(db, sql, bindings);
    const st = c.prepare(sql);
    if (st.reader) return Promise.resolve(unbig(st.all(bindings)) as T);
    const r = st.run(bindings);
    return Promise.resolve({ changes: r.changes, insertId: Number(r.lastInsertRowid) } as T);
  };
}

/** Runs `fn` with one pooled connection (no transaction). */
export async function withConnection<T>(db: Db, fn: (exec: Exec) => Promise<T>): Promise<T> {
  const conn = await db.client.acquireConnection();
  try {
    return await fn(executor(db, conn));
  } finally {
    await db.client.releaseConnection(conn);
  }
}

/** One statement on a pooled connection. */
export const hotQuery = <T = unknown>(db: Db, sql: string, bindings: unknown[] = []) => withConnection(db, (exec) => exec<T>(sql, bindings));

/**
 * `fn` in one transaction on one pooled connection, retried whole on a deadlock or a busy SQLite as withTransaction
 * does (up to 10 attempts, jittered backoff). Not knex's transaction: its set-up cost ~0.1 ms of CPU per runs/create
 * on either database (measured in-process, alternating rounds: SQLite 0.21 against 0.11 ms a create, MariaDB 0.34
 * against 0.23). SQLite takes the write lock at BEGIN IMMEDIATE, so that another process's writer makes it wait
 * (busy_timeout) instead of failing at its first write.
 */
export async function hotTransaction<T>(db: Db, fn: (exec: Exec) => Promise<T>, attempts = 10): Promise<T> {
  const begin = isMysql(db) ? 'BEGIN' : 'BEGIN IMMEDIATE';
  // as in withTransaction: a connection lost before COMMIT was sent rolled the transaction back, so it may run again
  let committing = false;
  const once = () => {
    committing = false;
    return gatedWrite(db, () =>
      withConnection(db, async (exec) => {
        await exec(begin);
        try {
          const out = await fn(exec);
          committing = true;
          await exec('COMMIT');
          return out;
        } catch (err) {
          await exec('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }),
    );
  };
  return retryTransaction(once, (err) => !committing && isConnectionLost(err), attempts);
}

/**
 * MySQL: a whole transaction in one round trip. Each statement used to be a round trip of its own (BEGIN, INSERT,
 * INSERT, COMMIT: four, plus auth), and on one connection a round trip costs the database and this process more than
 * the statement's work (MariaDB, runs/create at 1 client: measured in scripts/bench/create.ts). The script runs on a
 * small pool of its own whose connections allow several statements per query (`multipleStatements`), so that knex's
 * pool, where every other statement goes, keeps that option off. Values are bound by mysql2's `?` placeholders
 * (escaped by the driver, as knex's bindings are); the SQL text is the caller's constant.
 */
type ScriptPool = {
  getConnection(cb: (err: Error | null, conn: ScriptConn) => void): void;
  end(cb?: (err?: Error | null) => void): void;
};
type ScriptConn = MysqlConn & {
  release(): void;
  destroy(): void;
  escape(value: string): string;
  query(opts: { sql: string; values: unknown[] | null; timeout?: number; typeCast?: typeof exactDoubles }, values: undefined, cb: MysqlCallback): unknown;
};

const scriptPools = new WeakMap<Db, Promise<ScriptPool | undefined>>();
/** Databases whose script pool is open (the promise above resolved to a pool), for hasScriptPool. */
const openPools = new WeakSet<Db>();

/** Whether runs/create on this database already runs as one script (false until its first script, on SQLite, on Galera). */
export const hasScriptPool = (db: Db) => openPools.has(db);
/** Connections of the script pool: runs/create at 20 clients on MariaDB was as fast with 4 as with 10 (create-ab.ts, 6 rounds:
 * medians 974 and 947 req/s, 0.64 and 0.67 ms of server CPU a request). */
export const SCRIPT_POOL_SIZE = 4;

/**
 * The database's script pool, or undefined when there is none: SQLite (one in-process connection, no round trips)
 * and Galera, whose causal reads cover plain SELECTs only (db/knex.ts): there runs/create keeps its SELECT before
 * the INSERT … SELECT, statement by statement. The pool is closed with the database (db.destroy).
 */
export function scriptPool(db: Db): Promise<ScriptPool | undefined> {
  if (!isMysql(db)) return Promise.resolve(undefined);
  let p = scriptPools.get(db);
  if (!p) {
    p = (async () => {
      const galera = await withConnection(db, async (exec) => exec.causalReads === true);
      if (galera) return undefined;
      const { default: mysql } = await import('mysql2');
      // knex keeps the password as a hidden (non-enumerable) property of its connection settings
      const settings = (db.client as { connectionSettings: { password?: string } }).connectionSettings;
      const pool = mysql.createPool({
        ...settings,
        password: settings.password,
        multipleStatements: true,
        connectionLimit: SCRIPT_POOL_SIZE,
        maxIdle: SCRIPT_POOL_SIZE,
        idleTimeout: 30_000,
      }) as unknown as ScriptPool;
      // knex's db.destroy() ends in its client's destroy (db.destroy itself is read-only)
      const client = db.client as { destroy(cb?: unknown): Promise<void> };
      const destroy = client.destroy.bind(client);
      client.destroy = (cb?: unknown) => {
        scriptPools.delete(db);
        openPools.delete(db);
        return new Promise<void>((r) => pool.end(() => r())).then(() => destroy(cb));
      };
      openPools.add(db);
      return pool;
    })();
    scriptPools.set(db, p);
    p.catch(() => scriptPools.delete(db)); // unreachable now: try again with the next request
  }
  return p;
}

/** One statement of a script: constant SQL and its values. */
export interface ScriptStatement {
  sql: string;
  bindings: unknown[];
}

/** Thrown when the connection broke while a script was out: whether its COMMIT took effect is unknown. */
export class ScriptOutcomeUnknown extends Error {
  constructor(override readonly cause: unknown) {
    super('The database connection broke while a transaction was being committed.');
  }
}

const toResult = (r: unknown): unknown => {
  if (Array.isArray(r)) return r;
  const w = r as { affectedRows?: number; insertId?: number };
  return { changes: w.affectedRows ?? 0, insertId: Number(w.insertId ?? 0) } satisfies WriteResult;
};

/** The database's bound on a statement (MLTRACK_DB_TIMEOUT_MS, db/knex.ts), or Infinity. */
const boundOf = (db: Db) => {
  const t = Number(db.client.config.acquireConnectionTimeout);
  return t > 0 && t < 2 ** 31 - 1 ? t : Infinity;
};
/** The bound passed before a connection of the pool was free: nothing was sent (a 503, as knex's acquire timeout). */
const acquireTimeout = () => new Error('Unable to acquire a connection of the script pool within the database timeout');
/** A connection that could not be had sent nothing: the script may run again (retryTransaction's lostBeforeCommit). */
const notSent = (err: unknown) => (err as { notSent?: boolean }).notSent === true && isConnectionLost(err);

/**
 * One script on a connection of the pool: BEGIN, the statements `make` answers (given the connection's escaper, for
 * callers that build their text), COMMIT, as one query; each statement's result in order. All of it, the wait for a
 * connection included, ends by `deadline` (performance.now()): on a frozen server a request queued behind the pool's
 * 4 stuck connections took twice the bound (test/outage.test.ts, 4,007 ms). Without values, the driver is told there
 * is nothing to format (with a values array, even an empty one, mysql2 scans the whole text for `?`: ~70 kB for a
 * 1000-point log-batch).
 */
function sendScript(db: Db, pool: ScriptPool, deadline: number, make: (escape: (s: string) => string) => ScriptStatement[]): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    let waiting = true;
    const timer =
      deadline < Infinity
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
      let statements: ScriptStatement[];
      try {
        statements = make((v) => conn.escape(v));
      } catch (e) {
        conn.release();
        return reject(e);
      }
      const values = statements.flatMap((st) => st.bindings);
      announce(db, 'BEGIN', []);
      for (const st of statements) announce(db, st.sql, st.bindings);
      announce(db, 'COMMIT', []);
      const sql = ['BEGIN', ...statements.map((st) => st.sql), 'COMMIT'].join(';\n');
      // typeCast: a script that reads (runs/get) reads its doubles exactly, as every knex connection does (db/knex.ts)
      conn.query({ sql, values: values.length ? values : null, typeCast: exactDoubles, ...timeout }, undefined, (e, results) => {
        if (!e) {
          conn.release();
          return resolve((results as unknown[]).slice(1, -1).map(toResult));
        }
        // a timed-out query stays at the head of the connection's queue (db/knex.ts): the connection goes. A timeout
        // is not retried (as in withTransaction: a retry would stretch the bound past it); a lost connection may be.
        if ((e as { code?: string }).code === 'PROTOCOL_SEQUENCE_TIMEOUT') return conn.destroy(), reject(e);
        if (isConnectionLost(e)) return conn.destroy(), reject(new ScriptOutcomeUnknown(e));
        // a statement failed: the ones after it did not run, the transaction is still open on the connection
        conn.query({ sql: 'ROLLBACK', values: null, ...(deadline < Infinity ? { timeout: boundOf(db) } : {}) }, undefined, (rbErr) => {
          if (rbErr) conn.destroy();
          else conn.release();
          reject(e);
        });
      });
    });
  });
}

/**
 * The statements `make` answers in one transaction, sent as one query on the database's script pool, retried whole
 * on a deadlock (as every transaction runner: db/tx.ts retryTransaction) and when no connection could be had, all
 * within the database timeout; undefined where there is no script pool (SQLite, Galera). A connection that breaks
 * while the script is out throws ScriptOutcomeUnknown: the caller finds out whether it committed.
 */
export async function scriptRun(db: Db, make: (escape: (s: string) => string) => ScriptStatement[], attempts = 10): Promise<unknown[] | undefined> {
  const pool = await scriptPool(db);
  if (!pool) return undefined;
  const deadline = performance.now() + boundOf(db);
  return retryTransaction(() => sendScript(db, pool, deadline, make), notSent, attempts);
}

/**
 * `statements` in one transaction, sent as one query on MySQL (see ScriptPool), retried whole on a deadlock as
 * hotTransaction does; the result of each statement in order (WriteResult or rows). Undefined where the database has
 * no script pool (SQLite, Galera): the caller runs its statements with hotTransaction. A connection that breaks
 * while the script is out throws ScriptOutcomeUnknown: the caller finds out whether it committed.
 */
export function hotScriptTransaction(db: Db, statements: ScriptStatement[], attempts = 10): Promise<unknown[] | undefined> {
  return scriptRun(db, () => statements, attempts);
}
