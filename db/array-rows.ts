/**
 * Rows as arrays, straight from the driver's connection, for reads of many rows: the read path of runs/search's JSON
 * answer (db/run-json.ts), where a JS object per row was most of the cost, and of metric histories (db/metrics.ts),
 * where knex cost ~4 µs a row (its response walk for BigInts, a BigInt for every integer under SQLite's safe
 * integers) and the driver's own array rows about a quarter of that (measured with scripts/bench/history.ts).
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Db } from './knex.ts';
import { isMysql } from './knex.ts';

export interface ArrayRowsOptions {
  /** MySQL: set up once on each pooled connection before its first such statement (its answer kept with it) */
  session?: MysqlSession;
  /**
   * SQLite: integers as JS numbers, not BigInts (the connection's safe integers): the statement is prepared once per
   * connection in that mode. A query selecting an int64 column that may exceed 2^53 selects it through `int64Text`.
   */
  numbers?: boolean;
  /** MySQL: the text protocol instead of a prepared statement (a bench's baseline: db/metrics.ts historyBinary) */
  text?: boolean;
}

/**
 * Rows as arrays (announced as knex 'query' events like db/hot.ts's). MySQL: a prepared statement (binary protocol;
 * mysql2 keeps it per connection): doubles and BIGINTs then travel as binary, not as text that the server prints and
 * this process parses (measured: the metrics of a 1000-run page 38 ms instead of 70 ms wall, 4.8 ms instead of 7.9 ms
 * of this process's CPU); mysql2 answers numbers while exact and digit strings beyond (db/knex.ts).
 */
export async function arrayRows(db: Db, sql: string, bindings: unknown[], opts: ArrayRowsOptions = {}): Promise<unknown[][]> {
  const conn = (await db.client.acquireConnection()) as unknown;
  try {
    db.client.emit('query', { sql, bindings, method: 'raw' });
    if (isMysql(db)) {
      const c = conn as MysqlConn;
      const session = opts.session;
      if (session && !session.done.has(c)) session.done.set(c, await session.setUp((s) => mysqlExecute(db, c, s, [], false)));
      return await mysqlExecute(db, c, sql, bindings, !opts.text);
    }
    if (opts.numbers) return numberStatement(conn as BetterSqlite3.Database, sql).all(...bindings) as unknown[][];
    // integers arrive as BigInt (the connection's safe integers); callers convert
    const st = (conn as { prepare(s: string): { raw(on: boolean): { all(b: unknown[]): unknown[][] } } }).prepare(sql);
    try {
      return st.raw(true).all(bindings);
    } finally {
      st.raw(false); // the connection caches statements by SQL text (db/knex.ts)
    }
  } finally {
    await db.client.releaseConnection(conn);
  }
}

/**
 * An int64 column as arrayRows' `numbers` mode can hand it over exactly: as a number while exact, as digit strings
 * beyond 2^53 (decode with int64Col). MySQL needs nothing: mysql2 does the same itself.
 */
export function int64Text(db: Db, col: string): string {
  if (isMysql(db)) return col;
  return `CASE WHEN ${col} BETWEEN -9007199254740991 AND 9007199254740991 THEN ${col} ELSE CAST(${col} AS TEXT) END`;
}

const numberStatements = new WeakMap<BetterSqlite3.Database, Map<string, BetterSqlite3.Statement>>();

/** SQLite: `sql` prepared once per connection reading integers as numbers, rows as arrays (backtick identifiers as SQL's quotes). */
function numberStatement(c: BetterSqlite3.Database, sql: string): BetterSqlite3.Statement {
  let m = numberStatements.get(c);
  if (!m) numberStatements.set(c, (m = new Map()));
  let st = m.get(sql);
  if (!st) {
    st = c.prepare(sql.replace(/`/g, '"'));
    st.safeIntegers(false);
    st.raw(true);
    m.set(sql, st);
  }
  return st;
}

/** Session settings a statement needs on MySQL: set up once per connection, with what setUp returned kept. */
export interface MysqlSession<T = unknown> {
  setUp(query: (sql: string) => Promise<unknown[][]>): Promise<T>;
  done: WeakMap<object, T>;
}

interface MysqlConn {
  execute(o: { sql: string; rowsAsArray: boolean }, b: unknown[], cb: (e: Error | null, r?: unknown) => void): void;
  query(o: { sql: string; rowsAsArray: boolean }, b: unknown[], cb: (e: Error | null, r?: unknown) => void): void;
  destroy(): void;
}

/**
 * mysql2's execute() has no statement timeout (db/knex.ts bounds query() only), so it gets the same bound here: past
 * MLTRACK_DB_TIMEOUT_MS (knex's acquireConnectionTimeout is that setting) the connection is destroyed and the error is
 * the one query() gives, which the request answers as 503.
 */
function mysqlExecute(db: Db, c: MysqlConn, sql: string, bindings: unknown[], prepared: boolean): Promise<unknown[][]> {
  const ms = Number(db.client.config.acquireConnectionTimeout);
  return new Promise((resolve, reject) => {
    const timer =
      ms > 0 && ms < 2 ** 31 - 1
        ? setTimeout(() => {
            c.destroy();
            reject(Object.assign(new Error('Query inactivity timeout'), { code: 'PROTOCOL_SEQUENCE_TIMEOUT', fatal: true }));
          }, ms)
        : undefined;
    const done = (e: Error | null, r?: unknown) => {
      clearTimeout(timer);
      if (e) reject(e);
      else resolve(r as unknown[][]);
    };
    if (prepared) c.execute({ sql, rowsAsArray: true }, bindings, done);
    else c.query({ sql, rowsAsArray: true }, bindings, done);
  });
}

/**
 * Statements over a list of run ids, given as one JSON array binding: `{ids}` stands for a table of them (`j.id`)
 * that is read first, `{join}` joins each id's rows by their primary key in that order. One prepared statement
 * serves every page size, and the plan does not depend on table statistics. MariaDB (measured on 10.11) otherwise
 * turned an IN list of 1000 or more ids into a join with a derived table, and with the statistics of a freshly
 * loaded table it then read all of latest_metrics (250,000 rows, 57-90 ms; this form: 13-18 ms).
 */
export function idStatement(db: Db, template: string, ids: readonly number[]): [string, unknown[]] {
  const mysql = isMysql(db);
  const from = mysql ? "JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH '$')) j" : '(SELECT value AS id FROM json_each(?)) j';
  // a function, not a replacement string: "$'" in one would insert the text after the match
  const sql = template.replaceAll('{ids}', () => from).replaceAll('{join}', () => (mysql ? 'STRAIGHT_JOIN' : 'CROSS JOIN'));
  return [sql, [JSON.stringify(ids)]];
}

/** An idStatement's rows grouped by their first column (the run id). */
export async function rowsByRun(db: Db, template: string, ids: readonly number[]): Promise<Map<number, unknown[][]>> {
  const by = new Map<number, unknown[][]>();
  for (const row of await arrayRows(db, ...idStatement(db, template, ids))) {
    const id = Number(row[0]);
    const l = by.get(id);
    if (l) l.push(row);
    else by.set(id, [row]);
  }
  return by;
}
