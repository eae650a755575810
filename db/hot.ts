/**
 * Hot statements: fixed SQL run straight on the driver's connection, taken from knex's pool. The request path of
 * every call (auth) and of runs/create used to go through knex's query builder, whose per-query set-up, compiler and
 * formatter were a third of the server's CPU (--cpu-prof under runs/create at 4 clients); here the SQL text is a
 * constant and, on SQLite, its prepared statement is reused (db/knex.ts). Each statement is still announced as a
 * knex 'query' event, so the statement counters of the tests see every one.
 */
import type { Db } from './knex.ts';
import { isMysql, unbig } from './knex.ts';
import { gatedWrite, isConnectionLost, isRetryable } from './tx.ts';
import { noteTxRetry } from './observe.ts';

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
  let lost = 0;
  for (let i = 1; ; i++) {
    // as in withTransaction: a connection lost before COMMIT was sent rolled the transaction back, so it may run again
    let committing = false;
    try {
      return await gatedWrite(db, () =>
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
    } catch (err) {
      const again = isRetryable(err) || (!committing && isConnectionLost(err) && ++lost <= 3);
      if (i >= attempts || !again) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(250, 5 * 2 ** i)));
      noteTxRetry(err);
    }
  }
}
