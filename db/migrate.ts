/**
 * Migrations that are safe when several servers start at the same moment, on one MySQL, on a Galera cluster and on
 * SQLite: each waits its turn, none exits, none leaves a lock behind.
 *
 * knex alone is not: its lock table is created and filled by whoever sees it empty, so servers starting together
 * each insert a lock row (measured on Galera: rows 1 and 3, and every later start then fails for good), and a server
 * that loses the lock exits with "Migration table is already locked" instead of waiting. So:
 * - the bookkeeping tables are created with IF NOT EXISTS, and the single lock row has a fixed primary key (1),
 *   inserted with a duplicate-key no-op: however many servers race, there is one row;
 * - rows other than 1 (left by the race above on older versions) are removed while nobody holds the lock;
 * - a server that finds the lock taken waits and tries again, up to `waitMs`; the holder frees it when done (knex
 *   also frees it when a migration fails). A lock older than the wait that never moves is reported, not broken.
 * - on MySQL the pending list is read after the lock is taken (runLocked): knex without a transaction (see
 *   db/knex.ts) reads it before, so a server that listed while another migrated, then got the lock once it was free,
 *   ran every migration again (measured: 3 servers through a round-robin haproxy on Galera, "Duplicate column name").
 */
import type { Db } from './knex.ts';
import { isMysql } from './knex.ts';
import { migrationSource } from './migrations/index.ts';

const TABLE = 'knex_migrations';
const LOCK_TABLE = 'knex_migrations_lock';

async function ensureBookkeeping(db: Db): Promise<void> {
  if (isMysql(db)) {
    await db.raw(
      `CREATE TABLE IF NOT EXISTS \`${TABLE}\` (\`id\` int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, ` +
        '`name` varchar(255), `batch` int, `migration_time` timestamp NULL DEFAULT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
    await db.raw(
      `CREATE TABLE IF NOT EXISTS \`${LOCK_TABLE}\` (\`index\` int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, ` +
        '`is_locked` int) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
  } else {
    await db.raw(
      `CREATE TABLE IF NOT EXISTS \`${TABLE}\` (\`id\` integer NOT NULL PRIMARY KEY AUTOINCREMENT, ` +
        '`name` varchar(255), `batch` integer, `migration_time` datetime)',
    );
    await db.raw(`CREATE TABLE IF NOT EXISTS \`${LOCK_TABLE}\` (\`index\` integer NOT NULL PRIMARY KEY AUTOINCREMENT, \`is_locked\` integer)`);
  }
  await db(LOCK_TABLE).insert({ index: 1, is_locked: 0 }).onConflict('index').ignore();
  // stray lock rows from servers that raced on an older version; only while nobody holds a lock
  await db(LOCK_TABLE).whereNot('index', 1).andWhere('is_locked', 0).del();
}

class MigrationLocked extends Error {
  override name = 'MigrationLocked';
}

/**
 * MySQL: take the lock row (its own committed UPDATE: on Galera a race through two nodes is a certification conflict,
 * 1213, for the loser), then list what is pending and run it in order, each recorded as knex does, then free the lock.
 */
async function runLocked(db: Db): Promise<string[]> {
  const took = await db(LOCK_TABLE).where({ index: 1, is_locked: 0 }).update({ is_locked: 1 });
  if (took !== 1) throw new MigrationLocked('Migration table is already locked');
  try {
    const done = new Set<string>(await db(TABLE).pluck('name'));
    const pending = (await migrationSource.getMigrations([])).filter((m) => !done.has(migrationSource.getMigrationName(m)));
    if (pending.length === 0) return [];
    const batch = Number((await db(TABLE).max({ b: 'batch' }).first())?.b ?? 0) + 1;
    const names: string[] = [];
    for (const m of pending) {
      const name = migrationSource.getMigrationName(m);
      await (await migrationSource.getMigration(m)).up(db);
      await db(TABLE).insert({ name, batch, migration_time: new Date() });
      names.push(name);
    }
    return names;
  } finally {
    await db(LOCK_TABLE).where({ index: 1 }).update({ is_locked: 0 });
  }
}

/** knex's LockError: the lock row is taken, or (SQLite) the database was busy while another server migrated. */
const isLockError = (err: unknown) => (err as Error)?.name === 'MigrationLocked' || /already locked/i.test((err as Error)?.message ?? '');
/** Deadlocks and Galera certification conflicts while several servers create the same tables or row. */
const isRaceError = (err: unknown) => {
  const e = err as { errno?: number; code?: string };
  return e?.errno === 1213 || e?.errno === 1205 || e?.code === 'SQLITE_BUSY' || e?.errno === 1050;
};

/** Brings the database to the latest schema, waiting for another server that is migrating it. */
export async function migrateLatest(db: Db, opts: { waitMs?: number; log?: (line: string) => void } = {}): Promise<string[]> {
  const waitMs = opts.waitMs ?? 10 * 60_000;
  const started = Date.now();
  let told = false;
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureBookkeeping(db);
      if (isMysql(db)) return await runLocked(db);
      const [, names] = (await db.migrate.latest()) as [number, string[]];
      return names;
    } catch (err) {
      if (!isLockError(err) && !isRaceError(err)) throw err;
      if (Date.now() - started > waitMs) {
        throw new Error(
          `Migrations are locked by another server for more than ${Math.round(waitMs / 1000)} s. If no server is ` +
            `migrating, free the lock: UPDATE ${LOCK_TABLE} SET is_locked = 0.`,
        );
      }
      if (isLockError(err) && !told) {
        opts.log?.('another server is migrating the database; waiting for it');
        told = true;
      }
      await new Promise((r) => setTimeout(r, Math.min(1000, 50 * attempt) + Math.random() * 50));
    }
  }
}
