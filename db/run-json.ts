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
import { arrayRows, idStatement, rowsByRun, type MysqlSession } from './array-rows.ts';

/*
 * Measured on a 1000-run page of the search bench (10 params, 10 tags, 10 metrics a run, i.e. 30,000 rows): loadRuns
 * plus zod's output check plus JSON.stringify cost ~80 ms on SQLite, most of it creating (and collecting) a JS value
 * per column of 30,000 rows. So the database writes each run's metrics, params and tags as JSON text itself, one row
 * per run: SQLite with json_group_array, MySQL with GROUP_CONCAT of JSON_QUOTE'd pieces (MariaDB's JSON_ARRAYAGG was
 * 3× slower than reading the rows). The rows path (one statement per table, rows as arrays, written here) remains for
 * the runs whose text the database cannot write exactly as JSON.stringify does (see needsRows).
 */

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
 * A run's columns, then its metrics (SQLite only), params and tags as JSON array items (no brackets; NULL when none)
 * in key order, written by the database.
 *
 * SQLite (3.53, better-sqlite3 12): json_group_array, the metric values as wireValue writes them (±DOUBLE_MAX is how
 * ±Infinity is stored); its doubles read back as the same double (17 significant digits where JSON.stringify may use
 * fewer: the same number).
 *
 * MySQL: GROUP_CONCAT of JSON_QUOTE'd keys and values, in the binary collation's order (test/search-json-bytes.test.ts
 * holds JSON_QUOTE to JSON.stringify on the server it runs on). The metrics come as rows (binary protocol) and are
 * written here: MariaDB 10.11 printed a double inside GROUP_CONCAT … ORDER BY through the 22-character width of its
 * item (-1.7976931348623155e308 as -1.7976931348623155e30), and printing 10,000 doubles cost its thread ~8 ms.
 * GROUP_CONCAT cuts its text at the session's group_concat_max_len (set on each connection, GROUP_CONCAT_SESSION) and
 * at max_allowed_packet: a text that long is read again as rows.
 *
 * Measured (MariaDB, 1000-run pages of the search bench, paging through 25,000 runs 6 times, same process, alternating
 * with all four tables read as rows): this process's CPU a page 66-76 → 40-44 ms (most of it was creating and
 * collecting 30,000 row arrays), MariaDB's ~35 → ~41 ms (quiet); machine loaded (load 6-8, 2 cores): later pages
 * median 145 → 99 ms, slowest page 274 → 163 ms, paging 3.74 → 2.57 s; moderately loaded: 90 → 85, 165 → 125 ms,
 * 2.41 → 2.15 s. Rows streamed one by one instead (no row kept past its run) gave 56 ms of CPU: no better.
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
const mysqlKv = (table: string) =>
  `(SELECT GROUP_CONCAT('{"key":', JSON_QUOTE(x.\`key\`), ',"value":', JSON_QUOTE(x.value), '}' ORDER BY x.\`key\` SEPARATOR ',') FROM ${table} x WHERE x.run_id = r.id)`;
const MYSQL_WIRE_RUNS = `SELECT ${RUN_COLS}, NULL, ${mysqlKv('params')}, ${mysqlKv('tags')} ${FROM_RUNS}`;

/** group_concat_max_len: 1 MiB, or max_allowed_packet if less (GROUP_CONCAT's text is cut at either). */
let groupConcatCap = 1 << 20;
const GROUP_CONCAT_SESSION: MysqlSession<number> = {
  done: new WeakMap(),
  async setUp(query) {
    await query('SET SESSION group_concat_max_len = LEAST(@@max_allowed_packet, 1048576)');
    const cap = Number((await query('SELECT @@session.group_concat_max_len'))[0]![0]);
    groupConcatCap = Math.min(groupConcatCap, cap);
    return cap;
  },
};

/**
 * SQLite sorts keys by UTF-8 bytes (code points), as MySQL's binary collation does, JS (and loadRuns) by UTF-16 code
 * units: they differ only between characters above U+FFFF and U+E000..U+FFFF, so a run whose arrays hold such
 * characters is read again as rows and written here (not re-sorted from the JSON: JSON.parse would round int64 values
 * beyond 2^53). MySQL's JSON_QUOTE writes control characters as \u001F where JSON.stringify writes \u001f: those runs
 * too (a text with `\u00` in it, which can also be an escaped backslash before "u00"), and texts GROUP_CONCAT may
 * have cut (a character is at most 3 UTF-8 bytes per UTF-16 code unit).
 */
const CODE_ORDER_MAY_DIFFER = /[\ud800-\uffff]/;
const needsRows = (items: string, mysql: boolean) =>
  CODE_ORDER_MAY_DIFFER.test(items) || (mysql && (items.includes('\\u00') || items.length * 3 >= groupConcatCap - 4));

interface WireData {
  run: unknown[];
  metrics?: string;
  params?: string;
  tags?: string;
}

/**
 * The runs' columns and data array items (JSON text, absent when empty), by run id. MySQL: the metrics' rows on a
 * second connection at the same time (the server works on both while this process writes).
 */
async function wireData(db: Db, ids: readonly number[]): Promise<Map<number, WireData>> {
  const mysql = isMysql(db);
  const out = new Map<number, WireData>();
  const again: number[] = [];
  const [rows, metricRows] = await Promise.all([
    arrayRows(db, ...idStatement(db, mysql ? MYSQL_WIRE_RUNS : SQLITE_WIRE_RUNS, ids), { session: GROUP_CONCAT_SESSION }),
    mysql ? rowsByRun(db, WIRE_METRICS, ids) : undefined,
  ]);
  for (const row of rows) {
    const id = Number(row[0]);
    let [m, p, t] = row.slice(10) as (string | null)[];
    if (metricRows) {
      const ms = metricRows.get(id);
      m = ms ? metricsJson(ms) : null;
    } else [m, p, t] = [m, p, t].map((a) => (a === '[]' ? null : a!.slice(1, -1)));
    if ((m && !metricRows && needsRows(m, mysql)) || (p && needsRows(p, mysql)) || (t && needsRows(t, mysql))) again.push(id);
    else out.set(id, { run: row, metrics: m ?? undefined, params: p ?? undefined, tags: t ?? undefined });
  }
  if (again.length) for (const [id, d] of await rowWireData(db, again)) out.set(id, d);
  return out;
}

const str = JSON.stringify as (s: unknown) => string;
const int64Json = (v: unknown) => String(int64Col(v as number | string | bigint));
const byKeyRow = (a: unknown[], b: unknown[]) => ((a[1] as string) < (b[1] as string) ? -1 : (a[1] as string) > (b[1] as string) ? 1 : 0);

// Small objects and one JSON.stringify per list: V8 writes those straight into one string; concatenating each
// entry's text was ~1.5× the CPU (mostly garbage collection of the intermediate strings).
function keyValuesJson(rows: unknown[][]): string {
  rows.sort(byKeyRow);
  return JSON.stringify(rows.map((r) => ({ key: r[1], value: r[2] }))).slice(1, -1);
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
  if (!big) return JSON.stringify(list).slice(1, -1);
  // int64 beyond 2^53: JSON.stringify cannot write a BigInt, so those lists are written entry by entry
  return list.map((m) => `{"key":${str(m.key)},"value":${str(m.value)},"timestamp":${String(m.timestamp)},"step":${String(m.step)}}`).join(',');
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
    if (d.metrics) parts.push(`"metrics":[${d.metrics}]`);
    if (d.params) parts.push(`"params":[${d.params}]`);
    if (d.tags) parts.push(`"tags":[${d.tags}]`);
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
