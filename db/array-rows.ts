/**
 * Statements over a page of run ids whose rows come as arrays, straight from the driver's connection: the read path
 * of runs/search's JSON answer (db/run-json.ts), where a JS object per row was most of the cost.
 */
import type { Db } from './knex.ts';
import { isMysql } from './knex.ts';

/**
 * Rows as arrays, straight from the driver's connection (announced as knex 'query' events like db/hot.ts's). MySQL:
 * a prepared statement (binary protocol; mysql2 keeps it per connection): doubles and BIGINTs then travel as binary,
 * not as text that the server prints and this process parses (measured: the metrics of a 1000-run page 38 ms instead
 * of 70 ms wall, 4.8 ms instead of 7.9 ms of this process's CPU). `session` runs once on each pooled MySQL
 * connection before its first such statement, and its answer is kept with the connection.
 */
export async function arrayRows(db: Db, sql: string, bindings: unknown[], session?: MysqlSession): Promise<unknown[][]> {
  const conn = (await db.client.acquireConnection()) as unknown;
  try {
    db.client.emit('query', { sql, bindings, method: 'raw' });
    if (isMysql(db)) {
      const c = conn as MysqlConn;
      if (session && !session.done.has(c)) session.done.set(c, await session.setUp((s) => mysqlExecute(db, c, s, [], false)));
      return await mysqlExecute(db, c, sql, bindings, true);
    }
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
