/**
 * runs/search's answer as JSON text, without an object per row: the read path of db/run-view.ts's loadRuns, written
 * as the wire's JSON directly (routers/search.ts streams it).
 *
 * The one place where db/ shapes the wire rather than returning entities, on purpose: on SQLite the database itself
 * writes each run's metrics/params/tags arrays (json_group_array), and building Run objects, passing them through zod's
 * output schema and JSON.stringify made a 1000-run page of 25k runs 158 ms against 83 ms this way (same run, bench
 * search). test/search-json.test.ts holds this text to the object path's JSON for every kind of value.
 */
import type { Db } from './knex.ts';
import { isMysql } from './knex.ts';
import { int64Col, wireValue } from '../core/codecs.ts';

/*
 * Measured on a 1000-run page of the search bench (10 params, 10 tags, 10 metrics a run, i.e. 30,000 rows): loadRuns
 * plus zod's output check plus JSON.stringify cost ~80 ms on SQLite, most of it creating (and collecting) a JS value
 * per column of 30,000 rows. On SQLite the database now writes each run's metrics, params and tags as JSON arrays
 * itself (json_group_array: one row per run, ~30 ms with the run columns); on MySQL (MariaDB's JSON_ARRAYAGG was
 * 3× slower than reading the rows) the rows come as arrays, one statement per table, in parallel, and are written
 * as JSON here.
 */

/**
 * Rows as arrays, straight from the driver's connection (announced as knex 'query' events like db/hot.ts's). MySQL:
 * a prepared statement (binary protocol; mysql2 keeps it per connection): doubles and BIGINTs then travel as binary,
 * not as text that the server prints and this process parses (measured: the metrics of a 1000-run page 38 ms instead
 * of 70 ms wall, 4.8 ms instead of 7.9 ms of this process's CPU).
 */
async function arrayRows(db: Db, sql: string, bindings: unknown[]): Promise<unknown[][]> {
  const conn = (await db.client.acquireConnection()) as unknown;
  try {
    db.client.emit('query', { sql, bindings, method: 'raw' });
    if (isMysql(db)) return await mysqlExecute(db, conn as MysqlConn, sql, bindings);
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

interface MysqlConn {
  execute(o: { sql: string; rowsAsArray: boolean }, b: unknown[], cb: (e: Error | null, r?: unknown) => void): void;
  destroy(): void;
}

/**
 * mysql2's execute() has no statement timeout (db/knex.ts bounds query() only), so it gets the same bound here: past
 * MLTRACK_DB_TIMEOUT_MS (knex's acquireConnectionTimeout is that setting) the connection is destroyed and the error is
 * the one query() gives, which the request answers as 503.
 */
function mysqlExecute(db: Db, c: MysqlConn, sql: string, bindings: unknown[]): Promise<unknown[][]> {
  const ms = Number(db.client.config.acquireConnectionTimeout);
  return new Promise((resolve, reject) => {
    const timer =
      ms > 0 && ms < 2 ** 31 - 1
        ? setTimeout(() => {
            c.destroy();
            reject(Object.assign(new Error('Query inactivity timeout'), { code: 'PROTOCOL_SEQUENCE_TIMEOUT', fatal: true }));
          }, ms)
        : undefined;
    c.execute({ sql, rowsAsArray: true }, bindings, (e, r) => {
      clearTimeout(timer);
      if (e) reject(e);
      else resolve(r as unknown[][]);
    });
  });
}

/**
 * Statements over a list of run ids, given as one JSON array binding: `{ids}` stands for a table of them (`j.id`)
 * that is read first, `{join}` joins each id's rows by their primary key in that order. One prepared statement
 * serves every page size, and the plan does not depend on table statistics. MariaDB (measured on 10.11) otherwise
 * turned an IN list of 1000 or more ids into a join with a derived table, and with the statistics of a freshly
 * loaded table it then read all of latest_metrics (250,000 rows, 57-90 ms; this form: 13-18 ms).
 */
function idStatement(db: Db, template: string, ids: readonly number[]): [string, unknown[]] {
  const mysql = isMysql(db);
  const from = mysql ? "JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH '$')) j" : '(SELECT value AS id FROM json_each(?)) j';
  // a function, not a replacement string: "$'" in one would insert the text after the match
  const sql = template.replaceAll('{ids}', () => from).replaceAll('{join}', () => (mysql ? 'STRAIGHT_JOIN' : 'CROSS JOIN'));
  return [sql, [JSON.stringify(ids)]];
}

async function rowsByRun(db: Db, template: string, ids: readonly number[]): Promise<Map<number, unknown[][]>> {
  const by = new Map<number, unknown[][]>();
  for (const row of await arrayRows(db, ...idStatement(db, template, ids))) {
    const id = Number(row[0]);
    const l = by.get(id);
    if (l) l.push(row);
    else by.set(id, [row]);
  }
  return by;
}

const RUN_COLS = 'r.id, r.run_uuid, r.name, e.experiment_id, r.user_id, r.status, r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage';
const FROM_RUNS = 'FROM {ids} {join} runs r ON r.id = j.id {join} experiments e ON e.id = r.experiment_id';
const WIRE_RUNS = `SELECT ${RUN_COLS} ${FROM_RUNS}`;
const WIRE_METRICS = 'SELECT x.run_id, x.`key`, x.value, x.`timestamp`, x.step, x.is_nan FROM {ids} {join} latest_metrics x ON x.run_id = j.id';
const WIRE_PARAMS = 'SELECT x.run_id, x.`key`, x.value FROM {ids} {join} params x ON x.run_id = j.id';
const WIRE_TAGS = 'SELECT x.run_id, x.`key`, x.value FROM {ids} {join} tags x ON x.run_id = j.id';
const WIRE_INPUTS =
  'SELECT i.run_id, d.id, d.name, d.digest, d.source_type, d.source, d.`schema`, d.profile ' +
  'FROM {ids} {join} run_inputs i ON i.run_id = j.id {join} datasets d ON d.id = i.dataset_id';
const WIRE_INPUT_TAGS =
  'SELECT x.run_id, x.dataset_id, x.`key`, x.value FROM {ids} {join} input_tags x ON x.run_id = j.id ORDER BY x.run_id, x.dataset_id, x.`key`';

/**
 * SQLite: a run's columns and its metrics, params and tags as JSON arrays in key order, the metric values as wireValue
 * writes them (±DOUBLE_MAX is how ±Infinity is stored). SQLite (3.53, better-sqlite3 12) writes doubles with enough
 * digits to read back the same double (17 significant digits where JSON.stringify may use fewer: the same number).
 */
const DMAX = '1.7976931348623157e308';
const kvArray = (table: string) =>
  `(SELECT json_group_array(json_object('key', x.key, 'value', x.value) ORDER BY x.key) FROM ${table} x WHERE x.run_id = r.id)`;
const SQLITE_WIRE_RUNS =
  `SELECT ${RUN_COLS}, ` +
  "(SELECT json_group_array(json_object('key', x.key, 'value', " +
  `CASE WHEN x.is_nan <> 0 THEN 'NaN' WHEN x.value >= ${DMAX} THEN 'Infinity' WHEN x.value <= -${DMAX} THEN '-Infinity' ELSE x.value END, ` +
  "'timestamp', x.timestamp, 'step', x.step) ORDER BY x.key) FROM latest_metrics x WHERE x.run_id = r.id), " +
  `${kvArray('params')}, ${kvArray('tags')} ${FROM_RUNS}`;

const str = JSON.stringify as (s: unknown) => string;
const int64Json = (v: unknown) => String(int64Col(v as number | string | bigint));
const byKeyRow = (a: unknown[], b: unknown[]) => ((a[1] as string) < (b[1] as string) ? -1 : (a[1] as string) > (b[1] as string) ? 1 : 0);

// Small objects and one JSON.stringify per list: V8 writes those straight into one string; concatenating each
// entry's text was ~1.5× the CPU (mostly garbage collection of the intermediate strings).
function keyValuesJson(rows: unknown[][]): string {
  rows.sort(byKeyRow);
  return JSON.stringify(rows.map((r) => ({ key: r[1], value: r[2] })));
}

function metricsJson(rows: unknown[][]): string {
  rows.sort(byKeyRow);
  let big = false;
  const list = rows.map((r) => {
    const timestamp = int64Col(r[3] as number);
    const step = int64Col(r[4] as number);
    if (typeof timestamp === 'bigint' || typeof step === 'bigint') big = true;
    return { key: r[1], value: wireValue(Number(r[2]), Number(r[5])), timestamp, step };
  });
  if (!big) return JSON.stringify(list);
  // int64 beyond 2^53: JSON.stringify cannot write a BigInt, so those lists are written entry by entry
  return `[${list.map((m) => `{"key":${str(m.key)},"value":${str(m.value)},"timestamp":${String(m.timestamp)},"step":${String(m.step)}}`).join(',')}]`;
}

/**
 * SQLite sorts keys by UTF-8 bytes (code points), JS (and loadRuns) by UTF-16 code units: they differ only between
 * characters above U+FFFF and U+E000..U+FFFF, so a run whose arrays hold such characters is read again as rows and
 * written here (not re-sorted from the JSON: JSON.parse would round int64 values beyond 2^53).
 */
const CODE_ORDER_MAY_DIFFER = /[\ud800-\uffff]/;

interface WireData {
  run: unknown[];
  metrics?: string;
  params?: string;
  tags?: string;
}

/** The runs' columns and data arrays (JSON text, absent when empty), by run id. */
async function wireData(db: Db, ids: readonly number[]): Promise<Map<number, WireData>> {
  if (isMysql(db)) return rowWireData(db, ids);
  const out = new Map<number, WireData>();
  const again: number[] = [];
  for (const row of await arrayRows(db, ...idStatement(db, SQLITE_WIRE_RUNS, ids))) {
    const [m, p, t] = row.slice(10) as string[];
    const id = Number(row[0]);
    if (CODE_ORDER_MAY_DIFFER.test(m!) || CODE_ORDER_MAY_DIFFER.test(p!) || CODE_ORDER_MAY_DIFFER.test(t!)) again.push(id);
    out.set(id, { run: row, metrics: m === '[]' ? undefined : m, params: p === '[]' ? undefined : p, tags: t === '[]' ? undefined : t });
  }
  if (again.length) for (const [id, d] of await rowWireData(db, again)) out.set(id, d);
  return out;
}

/** wireData from rows: one statement per table, in parallel. */
async function rowWireData(db: Db, ids: readonly number[]): Promise<Map<number, WireData>> {
  const out = new Map<number, WireData>();
  // each on its own pooled connection: the server reads while this process parses (measured: 15-20% less wall time
  // than one after the other on MariaDB)
  const [runs, metrics, params, tags] = await Promise.all(
    [WIRE_RUNS, WIRE_METRICS, WIRE_PARAMS, WIRE_TAGS].map((select) => rowsByRun(db, select, ids)),
  );
  for (const [id, [run]] of runs!) {
    const ms = metrics!.get(id);
    const ps = params!.get(id);
    const ts = tags!.get(id);
    out.set(id, { run: run!, metrics: ms && metricsJson(ms), params: ps && keyValuesJson(ps), tags: ts && keyValuesJson(ts) });
  }
  return out;
}

/**
 * The runs with these ids as the JSON text of a list of MLflow Runs without its brackets (each the same JSON value
 * as stringifyJson(loadRuns(ids)[i])), in the order of `ids`; ids of no run are skipped. Two statements on SQLite,
 * five on MySQL (run in parallel), one more when a run has dataset inputs.
 */
export async function runsJsonText(db: Db, ids: readonly number[]): Promise<string> {
  if (!ids.length) return '';
  const [data, inputs] = await Promise.all([wireData(db, ids), rowsByRun(db, WIRE_INPUTS, ids)]);
  const inputTags = inputs.size ? await rowsByRun(db, WIRE_INPUT_TAGS, [...inputs.keys()]) : undefined;
  const out: string[] = [];
  for (const id of ids) {
    const d = data.get(id);
    if (!d) continue;
    const [, uuid, name, expNumber, user, status, start, end, artifactUri, stage] = d.run;
    let info = `{"run_id":${str(uuid)},"run_uuid":${str(uuid)},"run_name":${str(name)},"experiment_id":${str(String(expNumber))},"user_id":${str(user)},"status":${str(status)},"start_time":${int64Json(start)}`;
    if (end != null) info += `,"end_time":${int64Json(end)}`;
    info += `,"artifact_uri":${str(artifactUri)},"lifecycle_stage":${str(stage)}}`;
    const parts: string[] = [];
    if (d.metrics) parts.push(`"metrics":${d.metrics}`);
    if (d.params) parts.push(`"params":${d.params}`);
    if (d.tags) parts.push(`"tags":${d.tags}`);
    out.push(`{"info":${info},"data":{${parts.join(',')}},"inputs":${inputsJson(inputs.get(id), inputTags?.get(id))},"outputs":{}}`);
  }
  return out.join(',');
}

/** dataset_inputs in dataset id order, each with its tags in the database's key order (as loadRuns). */
function inputsJson(ins: unknown[][] | undefined, itags: unknown[][] | undefined): string {
  if (!ins) return '{}';
  ins.sort((a, b) => Number(a[1]) - Number(b[1]));
  const list = ins.map(([, id, name, digest, sourceType, source, schema, profile]) => {
    let dataset = `{"name":${str(name)},"digest":${str(digest)},"source_type":${str(sourceType)},"source":${str(source)}`;
    if (schema != null) dataset += `,"schema":${str(schema)}`;
    if (profile != null) dataset += `,"profile":${str(profile)}`;
    dataset += '}';
    const tags = (itags ?? []).filter((t) => Number(t[1]) === Number(id)).map((t) => `{"key":${str(t[2])},"value":${str(t[3])}}`);
    return tags.length ? `{"tags":[${tags.join(',')}],"dataset":${dataset}}` : `{"dataset":${dataset}}`;
  });
  return `{"dataset_inputs":[${list.join(',')}]}`;
}
