import type BetterSqlite3 from 'better-sqlite3';
import type { Db } from './knex.ts';
import { isMysql } from './knex.ts';

/**
 * Rows as arrays straight from the driver, for reads of many rows (a 100k-point metric history): knex costs ~4 µs a
 * row there (its response walk for BigInts, a BigInt for every integer under SQLite's safe integers), the driver's own
 * array rows about a quarter of that (measured with scripts/bench/history.ts). SQLite statements are prepared once per
 * connection and read integers as numbers: a query selecting an int64 column that may exceed 2^53 must select it
 * through `int64Text(col)`, which hands such values over as digit strings (decode with int64Col). On MySQL, mysql2
 * already answers numbers while exact and digit strings beyond (db/knex.ts).
 */
export function int64Text(db: Db, col: string): string {
  if (isMysql(db)) return col;
  return `CASE WHEN ${col} BETWEEN -9007199254740991 AND 9007199254740991 THEN ${col} ELSE CAST(${col} AS TEXT) END`;
}

const prepared = new WeakMap<BetterSqlite3.Database, Map<string, BetterSqlite3.Statement>>();

interface MysqlConn {
  query(opts: { sql: string; values?: unknown[]; rowsAsArray?: boolean }, values: undefined, cb: (err: Error | null, rows: any) => void): void;
}

/** `sql` with `?` placeholders (identifiers quoted with backticks are rewritten for SQLite) → rows as arrays. */
export async function rawArrays(db: Db, sql: string, binds: unknown[]): Promise<unknown[][]> {
  const client = db.client as { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): Promise<unknown> };
  const conn = await client.acquireConnection();
  try {
    if (isMysql(db)) {
      // the three-argument form: db/knex.ts bounds each statement by wrapping it
      return await new Promise((resolve, reject) =>
        (conn as MysqlConn).query({ sql, values: binds, rowsAsArray: true }, undefined, (err, rows) => (err ? reject(err) : resolve(rows))),
      );
    }
    const c = conn as BetterSqlite3.Database;
    let m = prepared.get(c);
    if (!m) prepared.set(c, (m = new Map()));
    let st = m.get(sql);
    if (!st) {
      st = c.prepare(sql.replace(/`/g, '"'));
      st.safeIntegers(false);
      st.raw(true);
      m.set(sql, st);
    }
    return st.all(...binds) as unknown[][];
  } finally {
    await client.releaseConnection(conn);
  }
}
