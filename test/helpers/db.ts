import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import mysql from 'mysql2/promise';
import { createDb, type Db } from '../../db/knex.ts';
import { migrateLatest } from '../../db/migrate.ts';

/**
 * The databases every suite runs on: SQLite always, MySQL/MariaDB when MLTRACK_TEST_MYSQL_URL is set.
 * In CI a missing MySQL URL is an error, never a silent skip.
 */
export const MYSQL_URL = process.env.MLTRACK_TEST_MYSQL_URL;
if (process.env.CI && !MYSQL_URL) {
  throw new Error('CI=true but MLTRACK_TEST_MYSQL_URL is not set: the MySQL suite must run in CI.');
}

export type DbKind = 'sqlite' | 'mysql';
export const DB_KINDS: DbKind[] = MYSQL_URL ? ['sqlite', 'mysql'] : ['sqlite'];

export interface TestDb {
  kind: DbKind;
  db: Db;
  url: string | undefined;
  dataDir: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database of the given kind; drop() removes it. */
export async function freshDb(kind: DbKind): Promise<TestDb> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mltrack-test-'));
  if (kind === 'sqlite') {
    const db = createDb(undefined, dataDir);
    await migrateLatest(db);
    return {
      kind, db, url: undefined, dataDir,
      async drop() {
        await db.destroy();
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const base = new URL(MYSQL_URL!);
  const name = `${base.pathname.replace(/^\//, '') || 'mltrack_test'}_${crypto.randomBytes(4).toString('hex')}`;
  const admin = await mysql.createConnection({
    host: base.hostname, port: Number(base.port || 3306), user: decodeURIComponent(base.username), password: decodeURIComponent(base.password),
  });
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  await admin.end();
  const url = new URL(MYSQL_URL!);
  url.pathname = `/${name}`;
  const db = createDb(url.toString(), dataDir);
  await migrateLatest(db);
  return {
    kind, db, url: url.toString(), dataDir,
    async drop() {
      await db.destroy();
      const c = await mysql.createConnection({
        host: base.hostname, port: Number(base.port || 3306), user: decodeURIComponent(base.username), password: decodeURIComponent(base.password),
      });
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await c.end();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The SQL statements a database receives while `fn` runs (design tests count them). */
export async function statements(db: Db, fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (q: { sql: string }) => seen.push(q.sql);
  db.on('query', listener);
  try {
    await fn();
  } finally {
    db.removeListener('query', listener);
  }
  return seen;
}
