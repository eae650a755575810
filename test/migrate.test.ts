import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS, freshDb, type TestDb } from './helpers/db.ts';
import { createDb, type Db } from '../db/knex.ts';
import { migrateLatest } from '../db/migrate.ts';
import { migrationSource } from '../db/migrations/index.ts';
import { bootstrap } from '../server/bootstrap.ts';

/**
 * Several servers starting at the same moment on one database: each waits its turn, none fails, the migrations run
 * once, one lock row is left, unlocked; bootstrap creates one admin, one project 1 and one printed token.
 */
describe.each(DB_KINDS)('migrations and bootstrap from servers started together (%s)', (kind) => {
  let t: TestDb;
  let servers: Db[] = [];
  beforeAll(async () => {
    // a migrated database only to borrow its location; the servers below start on an empty one
    t = await freshDb(kind);
    await t.db.schema.dropTableIfExists('knex_migrations_lock');
    for (const table of (await listTables(t.db)).filter((n) => n !== 'sqlite_sequence')) await t.db.schema.dropTableIfExists(table);
  });
  afterAll(async () => {
    for (const db of servers) await db.destroy();
    await t?.drop();
  });

  async function listTables(db: Db): Promise<string[]> {
    if (kind === 'mysql') {
      await db.raw('SET FOREIGN_KEY_CHECKS = 0');
      const [rows] = await db.raw('SHOW TABLES');
      return (rows as Record<string, string>[]).map((r) => Object.values(r)[0]!);
    }
    await db.raw('PRAGMA foreign_keys = OFF');
    return (await db.raw("SELECT name FROM sqlite_master WHERE type = 'table'")).map((r: { name: string }) => r.name);
  }

  const newServer = () => {
    const db = kind === 'mysql' ? createDb(t.url, t.dataDir) : createDb(undefined, t.dataDir);
    servers.push(db);
    return db;
  };

  it('3 servers on an empty database: all start, each migration ran once, one unlocked lock row, one admin', async () => {
    expect(await listTables(t.db)).toEqual(kind === 'mysql' ? [] : expect.not.arrayContaining(['users']));
    const dbs = [newServer(), newServer(), newServer()];
    const results = await Promise.all(dbs.map((db) => migrateLatest(db, { waitMs: 60_000 })));
    const all = await migrationSource.getMigrations([]);
    // the migrations ran exactly once, by one of the three
    expect(results.map((r) => r.length).sort()).toEqual([0, 0, all.length]);
    const done = await t.db('knex_migrations').select('name');
    expect(done.map((r) => r.name).sort()).toEqual([...all].sort());
    expect(await t.db('knex_migrations_lock').select('index', 'is_locked')).toEqual([{ index: 1, is_locked: 0 }]);
    // on MySQL the servers bootstrap together too; an SQLite file belongs to one server process, which bootstraps
    // before it serves (several SQLite writers queue on the file's lock for up to busy_timeout)
    const boots = kind === 'mysql' ? await Promise.all(dbs.map((db) => bootstrap(db))) : [await bootstrap(dbs[0]!), await bootstrap(dbs[1]!), await bootstrap(dbs[2]!)];
    expect(boots.filter((b) => b.created)).toHaveLength(1);
    expect(boots.find((b) => b.created)!.token).toMatch(/^mltpat-/);
    expect(await t.db('users').count({ n: '*' }).first()).toEqual({ n: 1 });
    expect(await t.db('projects').select('id', 'path')).toEqual([{ id: 1, path: 'default' }]);
    expect(await t.db('access_tokens').count({ n: '*' }).first()).toEqual({ n: 1 });
  });

  it('repairs the lock table that racing servers left with two rows, then starts', async () => {
    await t.db('knex_migrations_lock').insert({ index: 3, is_locked: 0 });
    expect(await migrateLatest(newServer(), { waitMs: 10_000 })).toEqual([]);
    expect(await t.db('knex_migrations_lock').select('index', 'is_locked')).toEqual([{ index: 1, is_locked: 0 }]);
  });

  it('waits while another server holds the lock, and goes on when it is freed', async () => {
    await t.db('knex_migrations_lock').update({ is_locked: 1 });
    const waiting = migrateLatest(newServer(), { waitMs: 30_000 });
    let settled = false;
    void waiting.finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 600));
    expect(settled).toBe(false);
    await t.db('knex_migrations_lock').update({ is_locked: 0 });
    expect(await waiting).toEqual([]);
  });

  it('gives up with a clear message when the lock never frees', async () => {
    await t.db('knex_migrations_lock').update({ is_locked: 1 });
    await expect(migrateLatest(newServer(), { waitMs: 300 })).rejects.toThrow(/Migrations are locked by another server/);
    await t.db('knex_migrations_lock').update({ is_locked: 0 });
    expect(fs.existsSync(t.dataDir)).toBe(true);
  });
});
