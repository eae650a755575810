import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import type BetterSqlite3 from 'better-sqlite3';
import { migrationSource } from './migrations/index.ts';
import { fromBigInt } from '../core/codecs.ts';

export type Db = Knex;
export type Trx = Knex.Transaction;

/** Converts SQLite's BigInt results back to numbers where that loses nothing; big values stay BigInt. */
export function unbig(value: unknown): unknown {
  if (typeof value === 'bigint') return fromBigInt(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = unbig(value[i]);
    return value;
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Buffer)) {
    const obj = value as Record<string, unknown>;
    for (const k in obj) {
      const v = obj[k];
      if (typeof v === 'bigint' || (v !== null && typeof v === 'object')) obj[k] = unbig(v);
    }
  }
  return value;
}

/**
 * knex's warnings, less the two lines it prints each time a server finds the migration lock taken: db/migrate.ts
 * waits for the lock and says so once.
 */
const knexLog = {
  warn(message: string) {
    if (/^Can't take lock to run migrations|^If you are sure migrations are not running/.test(message)) return;
    console.warn(message);
  },
};

interface MysqlConnection {
  query: (opts: unknown, values?: unknown, cb?: (err: { code?: string } | null, ...rest: unknown[]) => void) => unknown;
  destroy: () => void;
}

export interface DbOptions {
  /**
   * Bound on every statement and every connection acquisition, in ms (0: none, for migrations, which may rebuild big
   * tables). A frozen MySQL otherwise holds a request forever: the socket stays open and no answer comes.
   */
  timeoutMs?: number;
}

/** The default of MLTRACK_DB_TIMEOUT_MS. */
/**
 * mysql2 (3.24) reads a DOUBLE sent as text with its own digit loop (value × 10 + digit, then one division), which
 * lands on a neighbouring double when the digits pass 2^53: 35 of 20,000 random metric values came back one ulp off
 * (97.05207546642247 → 97.05207546642248), so a metric read back was not the value logged. The text's own Number() is
 * exact. Only the text protocol: the binary one (`execute`) sends the double's 8 bytes, and a global typeCast would
 * apply there too, where field.string() would misread them; so this goes on each text `query` (createDb's wrapper).
 * It costs a call per field: a 200,000-row read of 4 columns went 190 → 230 ms; the big reads (search metrics,
 * histories, latest values) use the binary protocol anyway (db/array-rows.ts).
 */
export function exactDoubles(field: { type: string; string(): string | null }, next: () => unknown): unknown {
  if (field.type !== 'DOUBLE') return next();
  const text = field.string();
  return text === null ? null : Number(text);
}

export const DEFAULT_DB_TIMEOUT_MS = 30_000;

export function knexConfig(databaseUrl: string | undefined, dataDir: string, opts: DbOptions = {}): Knex.Config {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_DB_TIMEOUT_MS;
  // knex's own default is 60 s; 0 means "no bound" to us, so a very large value for knex
  const acquireConnectionTimeout = timeoutMs > 0 ? timeoutMs : 2 ** 31 - 1;
  if (databaseUrl && /^mysql2?:\/\//.test(databaseUrl)) {
    const u = new URL(databaseUrl);
    return {
      client: 'mysql2',
      connection: {
        host: u.hostname,
        port: u.port ? Number(u.port) : 3306,
        user: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password),
        database: u.pathname.replace(/^\//, ''),
        charset: 'utf8mb4',
        // BIGINT arrives as a number when it is exact, as a string when it is not (int64 steps).
        supportBigNumbers: true,
        bigNumberStrings: false,
        multipleStatements: false,
        // a frozen server accepts the TCP connection (the kernel does) and never sends its handshake
        connectTimeout: timeoutMs > 0 ? timeoutMs : 10_000,
      },
      acquireConnectionTimeout,
      pool: {
        min: 0,
        max: 10,
        // Every statement gets mysql2's client-side timeout: the query fails with PROTOCOL_SEQUENCE_TIMEOUT and the
        // connection is closed (and discarded by the pool), whatever the statement and whether or not it runs in a
        // transaction (knex's transaction client is a copy of the client, so the bound is set on the connection).
        // A timed-out query stays at the head of mysql2's command queue (measured: the next query on that
        // connection waited until the server woke up), so the connection is destroyed and the pool drops it.
        afterCreate(conn: MysqlConnection, done: (err: Error | null, conn: unknown) => void) {
          // Every text-protocol statement reads its DOUBLEs exactly (exactDoubles); with a timeout, it is bounded.
          const query = conn.query.bind(conn);
          conn.query = (opts: unknown, values: unknown, cb?: (err: { code?: string } | null, ...rest: unknown[]) => void) => {
            if (opts === null || typeof opts !== 'object') return query(opts, values, cb);
            if (typeof cb !== 'function' || !(timeoutMs > 0)) return query({ typeCast: exactDoubles, ...opts }, values, cb);
            return query({ typeCast: exactDoubles, timeout: timeoutMs, ...opts }, values, (err, ...rest) => {
              if (err?.code === 'PROTOCOL_SEQUENCE_TIMEOUT') conn.destroy();
              cb(err, ...rest);
            });
          };
          // On a Galera cluster a read on one node may not yet see a write another node acknowledged: causal reads
          // (wsrep_sync_wait=1) make every SELECT wait for what the cluster has committed, so a write answered by one
          // server is seen at once by a read on another. Nothing to do on a single MySQL.
          conn.query("SHOW VARIABLES LIKE 'wsrep_on'", (err: Error | null, rows?: unknown) => {
            if (err) return done(err, conn);
            const on = (rows as { Value?: string }[] | undefined)?.[0]?.Value === 'ON';
            if (!on) return done(null, conn);
            (conn as MysqlConnection & { causalReads?: boolean }).causalReads = true; // db/hot.ts: INSERT … SELECT is no SELECT
            conn.query('SET SESSION wsrep_sync_wait = 1', (e: Error | null) => done(e, conn));
          });
        },
      },
      // No transaction around migrations on MySQL: DDL commits implicitly there anyway, and knex would take its lock
      // inside that transaction, so the implicit commit of the first DDL would release nothing yet replicate late.
      // Without it the lock is its own committed UPDATE, which a Galera cluster certifies: of servers racing through
      // different nodes one wins and the others get a 1213 and wait (measured: with the transaction, two servers
      // migrated the same database at once through two nodes).
      migrations: { migrationSource, tableName: 'knex_migrations', disableTransactions: true },
    log: knexLog,
    };
  }
  if (databaseUrl && !/^sqlite:/.test(databaseUrl)) {
    throw new Error(`DATABASE_URL must be mysql://user:pass@host:port/db (or unset for SQLite); got ${databaseUrl.split(':')[0]}:…`);
  }
  const filename = databaseUrl ? databaseUrl.replace(/^sqlite:(\/\/)?/, '') : path.join(dataDir, 'mltrack.sqlite');
  if (filename !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(filename)), { recursive: true });
  return {
    client: 'better-sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    acquireConnectionTimeout,
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: BetterSqlite3.Database, done: (err: Error | null, conn: unknown) => void) {
        try {
          conn.pragma('journal_mode = WAL');
          conn.pragma('synchronous = NORMAL');
          // SQLite runs in this process, so it cannot freeze apart from it: the only wait is for another process's
          // write lock, 5 s (below any MLTRACK_DB_TIMEOUT_MS worth setting; db/migrate.ts's lock wait counts on it)
          conn.pragma(`busy_timeout = ${timeoutMs > 0 ? Math.min(timeoutMs, 5000) : 5000}`);
          // MLflow's LIKE is case-sensitive; ILIKE is compiled as LOWER() LIKE LOWER().
          conn.pragma('case_sensitive_like = ON');
          // int64 steps and timestamps above 2^53 must not be rounded: read integers as BigInt, see unbig().
          conn.defaultSafeIntegers(true);
          // knex opens a transaction with a deferred BEGIN, which takes the write lock only at the first write. With
          // several processes on one file (MLTRACK_WORKERS) a transaction that read first and then writes while
          // another process writes gets SQLITE_BUSY at once, without waiting on busy_timeout (SQLite cannot let it
          // wait: its snapshot is stale). BEGIN IMMEDIATE takes the write lock up front, so writers queue on
          // busy_timeout instead (measured, test/workers.test.ts: 400 parallel batches into one run through 2 workers
          // got 39 answers 500 SQLITE_BUSY_SNAPSHOT with BEGIN, none with BEGIN IMMEDIATE; measured before the write gate of
          // server/workers.ts, which now queues the workers' transactions: this stays for writes outside it).
          const prepare = conn.prepare.bind(conn);
          conn.prepare = ((sql: string) => prepare(sql === 'BEGIN;' ? 'BEGIN IMMEDIATE;' : sql)) as typeof conn.prepare;
          // the statement cache wraps the above, so the rewrite runs only when a statement is first prepared
          if (sqliteStatementCache.enabled) cachePreparedStatements(conn);
          done(null, conn);
        } catch (err) {
          done(err as Error, conn);
        }
      },
    },
    postProcessResponse: (result) => unbig(result),
    migrations: { migrationSource, tableName: 'knex_migrations' },
    log: knexLog,
  };
}

/** Off only for the bench's same-run "before" figures (scripts/bench/create.ts); read when a connection opens. */
export const sqliteStatementCache = { enabled: true };

/**
 * knex prepares every statement anew for each query (better-sqlite3's `prepare` was 16% of the server's CPU under
 * runs/create, measured with --cpu-prof): the connection keeps its prepared statements by SQL text instead. Reusing
 * one is safe because knex runs each with all()/run(), which finish (and reset it) before returning; SQLite
 * re-prepares a statement itself when the schema changes. Bounded: SQL that differs per call (IN lists of varying
 * length, multi-row inserts) would otherwise grow it without end; on overflow the oldest entry goes.
 */
function cachePreparedStatements(conn: BetterSqlite3.Database, max = 500) {
  const prepare = conn.prepare.bind(conn);
  const cache = new Map<string, BetterSqlite3.Statement>();
  conn.prepare = ((sql: string) => {
    let st = cache.get(sql);
    if (st) return st;
    st = prepare(sql);
    if (cache.size >= max) cache.delete(cache.keys().next().value!);
    cache.set(sql, st);
    return st;
  }) as typeof conn.prepare;
}

export function createDb(databaseUrl: string | undefined, dataDir: string, opts: DbOptions = {}): Db {
  return knexFactory(knexConfig(databaseUrl, dataDir, opts));
}

export const isMysql = (db: Knex) => db.client.config.client === 'mysql2';
