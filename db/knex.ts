import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import type BetterSqlite3 from 'better-sqlite3';
import { migrationSource } from './migrations/index.ts';
import { fromBigInt } from '../core/codecs.ts';

export type Db = Knex;
export type Trx = Knex.Transaction;

/** Converts SQLite's BigInt results back to numbers where that loses nothing; big values stay BigInt. */
function unbig(value: unknown): unknown {
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

export function knexConfig(databaseUrl: string | undefined, dataDir: string): Knex.Config {
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
      },
      pool: {
        min: 0,
        max: 10,
        // On a Galera cluster a read on one node may not yet see a write another node acknowledged: causal reads
        // (wsrep_sync_wait=1) make every SELECT wait for what the cluster has committed, so a write answered by one
        // server is seen at once by a read on another. Nothing to do on a single MySQL.
        afterCreate(conn: { query(sql: string, cb: (err: Error | null, rows?: unknown) => void): void }, done: (err: Error | null, conn: unknown) => void) {
          conn.query("SHOW VARIABLES LIKE 'wsrep_on'", (err, rows) => {
            if (err) return done(err, conn);
            const on = (rows as { Value?: string }[] | undefined)?.[0]?.Value === 'ON';
            if (!on) return done(null, conn);
            conn.query('SET SESSION wsrep_sync_wait = 1', (e) => done(e, conn));
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
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: BetterSqlite3.Database, done: (err: Error | null, conn: unknown) => void) {
        try {
          conn.pragma('journal_mode = WAL');
          conn.pragma('synchronous = NORMAL');
          conn.pragma('busy_timeout = 5000');
          // MLflow's LIKE is case-sensitive; ILIKE is compiled as LOWER() LIKE LOWER().
          conn.pragma('case_sensitive_like = ON');
          // int64 steps and timestamps above 2^53 must not be rounded: read integers as BigInt, see unbig().
          conn.defaultSafeIntegers(true);
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

export function createDb(databaseUrl: string | undefined, dataDir: string): Db {
  return knexFactory(knexConfig(databaseUrl, dataDir));
}

export const isMysql = (db: Knex) => db.client.config.client === 'mysql2';
