import { isMysql, type Db, type Trx } from './knex.ts';
import type { KeyValue, LifecycleStage } from '../core/entities.ts';
import { invalidParam, MlflowError } from '../core/errors.ts';
import type { DbKeyValueRow } from './tables.ts';
import { noteTxRetry } from './observe.ts';

/** Errors worth retrying the whole transaction for: deadlocks and lock timeouts (Galera certification failures
 * arrive as deadlocks), and SQLite's busy database. */
export function isRetryable(err: unknown): boolean {
  const e = err as { errno?: number; code?: string };
  return e?.errno === 1213 || e?.errno === 1205 || e?.code === 'SQLITE_BUSY' || e?.code === 'ER_LOCK_DEADLOCK';
}

/**
 * The database cannot be reached or did not answer in time: the connection was refused, lost or timed out, the
 * pool could not hand out a connection within the bound, the server is shutting down or out of connections, or
 * SQLite's file is locked or unreadable. Such a request is answered 503 TEMPORARILY_UNAVAILABLE, which the MLflow
 * client retries with backoff; everything else unexpected stays a 500.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err as { errno?: number; code?: string; name?: string; fatal?: boolean; cause?: unknown } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    if (e.name === 'KnexTimeoutError') return true;
    if (e.fatal === true) return true; // mysql2: the connection is unusable
    const code = String(e.code ?? '');
    if (/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|PROTOCOL_CONNECTION_LOST|PROTOCOL_SEQUENCE_TIMEOUT|ER_CON_COUNT_ERROR|ER_SERVER_SHUTDOWN|ER_TOO_MANY_USER_CONNECTIONS|SQLITE_BUSY|SQLITE_LOCKED|SQLITE_IOERR.*|SQLITE_CANTOPEN|SQLITE_FULL)$/.test(code)) return true;
    if (e.errno === 1040 || e.errno === 1053 || e.errno === 2002 || e.errno === 2003 || e.errno === 2006 || e.errno === 2013) return true;
    // Galera: 1047 WSREP not ready (a node that left the primary component); 1213/1205 still failing once
    // withTransaction gave up (or on a statement outside one): the client's retry is the next attempt, not a 500
    if (e.errno === 1047 || e.errno === 1213 || e.errno === 1205) return true;
    // 1180 ER_ERROR_DURING_COMMIT: the COMMIT itself failed, e.g. Galera's "Error while appending streaming replication
    // fragment (provider status: Not connected to Primary Component)" from a node cut off mid-commit (seen in the
    // node-kill test). Nothing was committed there; the client's retry re-sends, and re-sent writes are idempotent.
    if (e.errno === 1180) return true;
    if (/Pool is destroyed|Unable to acquire a connection|Can't add new command when connection is in closed state/.test(String((e as { message?: string }).message ?? ''))) return true;
  }
  return false;
}

export const databaseUnavailable = () =>
  new MlflowError('TEMPORARILY_UNAVAILABLE', 'The database is unavailable or did not answer in time; try again later.');

/** Duplicate primary/unique key, on either database. */
export function isDuplicateKey(err: unknown): boolean {
  const e = err as { errno?: number; code?: string };
  return e?.errno === 1062 || e?.code === 'ER_DUP_ENTRY' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** Runs a write transaction when its turn comes; see setWriteGate. */
export type WriteGate = <T>(run: () => Promise<T>) => Promise<T>;
let writeGate: WriteGate | undefined;

/**
 * With several processes on one SQLite file (server/workers.ts), every SQLite write transaction first takes a turn
 * from this gate, so the processes queue in order without blocking their event loops, instead of all but one
 * sleeping inside SQLite's busy handler (which is unfair: the holder takes the lock again before a sleeper wakes).
 */
export function setWriteGate(gate: WriteGate | undefined): void {
  writeGate = gate;
}

/** `run` (one write transaction) when its turn comes: through the gate on SQLite with several workers, else at once. */
export function gatedWrite<T>(db: Db, run: () => Promise<T>): Promise<T> {
  return writeGate && !isMysql(db) ? writeGate(run) : run();
}

/**
 * The connection broke (the node died or was cut off by haproxy, which shuts the sessions of a node it marks down):
 * if that happened before COMMIT was sent, the server rolled the transaction back, so it may run again on another
 * connection. Timeouts are not in this class: a retry would stretch a 30 s bound past it.
 */
export function isConnectionLost(err: unknown): boolean {
  for (let e = err as { errno?: number; code?: string; cause?: unknown } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    if (/^(ECONNREFUSED|ECONNRESET|EPIPE|PROTOCOL_CONNECTION_LOST)$/.test(String(e.code ?? ''))) return true;
    if (e.errno === 1047 || e.errno === 1053 || e.errno === 2006 || e.errno === 2013) return true;
    if (/Connection lost|Can't add new command when connection is in closed state/.test(String((e as { message?: string }).message ?? ''))) return true;
  }
  return false;
}

/**
 * Runs `fn` in one transaction, retrying it whole when the database reports a deadlock. On a Galera cluster every
 * certification conflict is one (1213 at COMMIT): 12 experiments created at once through three nodes, all bumping
 * the project's counter, needed more than 4 attempts (measured), so up to 10, with exponential backoff and full
 * jitter (at most ~1.3 s in all), so that racing writers spread out instead of colliding again.
 * A connection lost before COMMIT is retried too (up to 3 times): a killed Galera node took 87 requests of 64 writers
 * to 503 when it was not (test/cluster/failures.cluster.ts). One lost during COMMIT is not: its outcome is unknown.
 */
export async function withTransaction<T>(db: Db, fn: (trx: Trx) => Promise<T>, attempts = 10): Promise<T> {
  let ran = false;
  // what the transaction's own statements threw: after a statement timeout the connection is destroyed, and the
  // ROLLBACK's "closed state" error must not make a timed-out transaction look like a lost one (a second bound)
  let thrown: unknown;
  const once = () => {
    ran = false;
    thrown = undefined;
    return gatedWrite(db, () =>
      db.transaction(async (trx) => {
        try {
          const r = await fn(trx);
          ran = true;
          return r;
        } catch (e) {
          thrown = e;
          throw e;
        }
      }),
    );
  };
  return retryTransaction(once, (err) => !ran && isConnectionLost(thrown ?? err), attempts);
}

/**
 * The retry loop of every transaction runner (withTransaction, db/hot.ts): `once` runs the transaction one time; it
 * runs again after a jittered backoff on a deadlock, lock timeout or busy SQLite, and (at most 3 times) when
 * `lostBeforeCommit` says the connection broke before COMMIT was sent, up to `attempts` runs in all.
 */
export async function retryTransaction<T>(once: () => Promise<T>, lostBeforeCommit: (err: unknown) => boolean, attempts: number): Promise<T> {
  let lost = 0;
  for (let i = 1; ; i++) {
    try {
      return await once();
    } catch (err) {
      const again = isRetryable(err) || (lostBeforeCommit(err) && ++lost <= 3);
      if (i >= attempts || !again) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(250, 5 * 2 ** i)));
      noteTxRetry(err);
    }
  }
}

/**
 * Runs a write transaction; when it loses a race to insert the same new row (a param, a dataset, a link) as a
 * concurrent request, runs it once more, now seeing the other's row. The second run meets the row and skips it.
 */
export async function retryOnDuplicateKey<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    return run();
  }
}

/** Rows grouped by their parent's id (a run's metrics, an experiment's tags), each group in the rows' order. */
export function groupBy<T, K>(rows: readonly T[], parent: (row: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const r of rows) {
    const k = parent(r);
    const l = m.get(k);
    if (l) l.push(r);
    else m.set(k, [r]);
  }
  return m;
}

/**
 * Rows per multi-row INSERT. knex writes SQLite's multi-row insert as a compound SELECT, which SQLite caps at 500
 * terms (SQLITE_MAX_COMPOUND_SELECT); 500 also stays far below both databases' bind-parameter limits.
 */
export const INSERT_CHUNK = 500;

/** Splits rows for multi-row inserts. */
export function chunk<T>(rows: T[], size: number): T[][] {
  if (rows.length === 0) return [];
  if (rows.length <= size) return [rows];
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}


/** Tags as MLflow applies a list of them: a repeated key keeps its last value. */
export function lastValuePerKey(tags: readonly KeyValue[]): KeyValue[] {
  const m = new Map<string, string>();
  for (const t of tags) m.set(t.key, t.value);
  return [...m].map(([key, value]) => ({ key, value }));
}

/**
 * Multi-row upsert of key/value rows owned by one parent (tags of a run, an experiment, a logged model): chunked, so
 * no statement exceeds SQLite's 500-row insert; an existing key takes the new value.
 */
export async function upsertKeyValues<Row extends DbKeyValueRow>(
  trx: Trx,
  table: string,
  owner: Omit<Row, 'key' | 'value'>,
  rows: readonly KeyValue[],
): Promise<void> {
  const [column] = Object.keys(owner);
  for (const part of chunk([...rows], INSERT_CHUNK)) {
    await trx<DbKeyValueRow>(table)
      .insert(part.map((r) => ({ ...owner, key: r.key, value: r.value })))
      .onConflict([column!, 'key'])
      .merge(['value']);
  }
}

/** MLflow's `_check_run_is_active` / `_check_experiment_is_active`: the row if active, else its 400. */
export function requireActiveStage<T extends { lifecycle_stage: LifecycleStage }>(row: T, what: 'run' | 'experiment', id: string): T {
  if (row.lifecycle_stage !== 'active') {
    throw invalidParam(`The ${what} ${id} must be in the 'active' state. Current state is ${row.lifecycle_stage}.`);
  }
  return row;
}
