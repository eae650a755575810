/**
 * MLflow 3 logged models: rows, tags, params, and the search behind POST /mlflow/logged-models/search.
 * Everything is per project: a model of another project is not found.
 */
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { isMysql } from './knex.ts';
import type { Db, Trx } from './knex.ts';
import { invalidParam, notFound } from '../core/errors.ts';
import { chunk, INSERT_CHUNK, lastValuePerKey, upsertKeyValues, withTransaction } from './tx.ts';
import { strCmp, strEq } from './search/sql.ts';
import { requireExperiment } from './experiments.ts';
import { generateRunName } from './run-names.ts';
import { fromBigInt, int64Bind, int64Col, type Int64 } from '../core/codecs.ts';

export type LoggedModelStatus = 'PENDING' | 'READY' | 'FAILED';
export const LOGGED_MODEL_STATUSES: LoggedModelStatus[] = ['PENDING', 'READY', 'FAILED'];

/** Status names on the wire (service.proto LoggedModelStatus). */
export const WIRE_STATUS = {
  PENDING: 'LOGGED_MODEL_PENDING',
  READY: 'LOGGED_MODEL_READY',
  FAILED: 'LOGGED_MODEL_UPLOAD_FAILED',
} as const satisfies Record<LoggedModelStatus, string>;

/** The stored status as its wire name, for LIKE filters on status. */
const WIRE_STATUS_SQL = `CASE m.status ${Object.entries(WIRE_STATUS).map(([k, v]) => `WHEN '${k}' THEN '${v}'`).join(' ')} END`;

export interface LoggedModelRow {
  id: number;
  model_id: string;
  project_id: number;
  experiment_id: number; // internal experiments.id
  experiment_iid: number; // MLflow's experiment_id
  name: string;
  artifact_location: string;
  status: LoggedModelStatus;
  status_message: string | null;
  creation_time: Int64;
  last_updated_time: Int64;
  source_run_id: string | null;
  model_type: string | null;
  lifecycle_stage: 'active' | 'deleted';
}

/** The wire shape of a LoggedModel (fields in service.proto order; unset ones omitted). */
export interface LoggedModelOut {
  info: {
    model_id: string;
    experiment_id: string;
    name: string;
    creation_timestamp_ms: Int64;
    last_updated_timestamp_ms: Int64;
    artifact_uri: string;
    status: (typeof WIRE_STATUS)[LoggedModelStatus];
    model_type?: string;
    source_run_id?: string;
    status_message?: string;
    tags?: { key: string; value: string }[];
  };
  data: { params?: { key: string; value: string }[] };
}

const COLUMNS = [
  'm.id', 'm.model_id', 'm.project_id', 'm.experiment_id', 'e.experiment_id as experiment_iid', 'm.name',
  'm.artifact_location', 'm.status', 'm.status_message', 'm.creation_time', 'm.last_updated_time', 'm.source_run_id',
  'm.model_type', 'm.lifecycle_stage',
];

function toRow(r: any): LoggedModelRow {
  return {
    ...r,
    experiment_iid: Number(r.experiment_iid),
    creation_time: int64Col(r.creation_time),
    last_updated_time: int64Col(r.last_updated_time),
  };
}

export const newModelId = () => `m-${crypto.randomUUID().replace(/-/g, '')}`;
const MODEL_ID_RE = /^m-[0-9a-f]{32}$/;

const modelNotFound = (modelId: string) => notFound(`Logged model with ID '${modelId}' not found.`);

/** The model with this id in this project (deleted ones only with allowDeleted), or undefined. */
export async function getLoggedModelRow(
  db: Db | Trx,
  projectId: number,
  modelId: string,
  allowDeleted = false,
): Promise<LoggedModelRow | undefined> {
  if (!MODEL_ID_RE.test(modelId)) return undefined;
  const q = db('logged_models as m')
    .join('experiments as e', 'e.id', 'm.experiment_id')
    .where('m.model_id', modelId)
    .andWhere('m.project_id', projectId);
  if (!allowDeleted) q.andWhere('m.lifecycle_stage', 'active');
  const r = await q.first(COLUMNS);
  return r ? toRow(r) : undefined;
}

export async function requireLoggedModel(db: Db | Trx, projectId: number, modelId: string, allowDeleted = false): Promise<LoggedModelRow> {
  const row = await getLoggedModelRow(db, projectId, modelId, allowDeleted);
  if (!row) throw modelNotFound(modelId);
  return row;
}

type KV = { key: string; value: string };

const paramChanged = (modelId: string, key: string, old: string, value: string) =>
  invalidParam(
    `Changing param values is not allowed. Param with key='${key}' was already logged with value='${old}' ` +
      `for logged model ID='${modelId}'. Attempted logging new value '${value}'.`,
  );

/** Params are immutable: re-logging the same value is a no-op, another value is refused (nothing written). */
async function insertParams(trx: Trx, row: { id: number; model_id: string }, params: KV[]): Promise<void> {
  if (!params.length) return;
  const wanted = new Map<string, string>();
  for (const p of params) {
    const prev = wanted.get(p.key);
    if (prev !== undefined && prev !== p.value) throw paramChanged(row.model_id, p.key, prev, p.value);
    wanted.set(p.key, p.value);
  }
  const existing = await trx('logged_model_params').where('model_id', row.id).whereIn('key', [...wanted.keys()]).select('key', 'value');
  for (const e of existing) {
    const v = wanted.get(e.key)!;
    if (e.value !== v) throw paramChanged(row.model_id, e.key, e.value, v);
    wanted.delete(e.key);
  }
  for (const part of chunk([...wanted], INSERT_CHUNK)) {
    await trx('logged_model_params').insert(part.map(([key, value]) => ({ model_id: row.id, key, value })));
  }
}

export async function createLoggedModel(
  db: Db,
  m: {
    projectId: number;
    experimentId: string;
    name?: string;
    modelType?: string;
    sourceRunId?: string;
    params: KV[];
    tags: KV[];
    creatorId: number;
  },
): Promise<LoggedModelRow> {
  return withTransaction(db, async (trx) => {
    const exp = await requireExperiment(trx, m.projectId, m.experimentId);
    if (exp.lifecycle_stage !== 'active') {
      throw invalidParam(`Could not create model under non-active experiment with ID ${m.experimentId}.`);
    }
    const modelId = newModelId();
    const now = Date.now();
    const [id] = await trx('logged_models').insert({
      model_id: modelId,
      project_id: m.projectId,
      experiment_id: exp.id,
      name: m.name || generateRunName(),
      artifact_location: `${exp.artifact_location.replace(/\/+$/, '')}/models/${modelId}/artifacts`,
      status: 'PENDING',
      creation_time: now,
      last_updated_time: now,
      source_run_id: m.sourceRunId || null,
      model_type: m.modelType || null,
      lifecycle_stage: 'active',
      creator_id: m.creatorId,
    });
    const row = { id: Number(id), model_id: modelId };
    await upsertKeyValues(trx, 'logged_model_tags', { model_id: row.id }, lastValuePerKey(m.tags));
    await insertParams(trx, row, m.params);
    return (await getLoggedModelRow(trx, m.projectId, modelId))!;
  });
}

export async function finalizeLoggedModel(db: Db, projectId: number, modelId: string, status: LoggedModelStatus): Promise<LoggedModelRow> {
  return withTransaction(db, async (trx) => {
    const row = await requireLoggedModel(trx, projectId, modelId);
    await trx('logged_models').where('id', row.id).update({ status, last_updated_time: nextUpdateTime(row) });
    return (await getLoggedModelRow(trx, projectId, modelId))!;
  });
}

/** Now, but strictly after the previous update, so last_updated_timestamp moves on every change. */
function nextUpdateTime(row: LoggedModelRow): number {
  const prev = Number(row.last_updated_time);
  return Math.max(Date.now(), prev + 1);
}

/** Soft delete, as MLflow does: the model is no longer found or searched; its artifacts stay. */
export async function deleteLoggedModel(db: Db, projectId: number, modelId: string): Promise<void> {
  await withTransaction(db, async (trx) => {
    const row = await requireLoggedModel(trx, projectId, modelId);
    const now = nextUpdateTime(row);
    await trx('logged_models').where('id', row.id).update({ lifecycle_stage: 'deleted', deleted_time: now, last_updated_time: now });
  });
}

export async function setLoggedModelTags(db: Db, projectId: number, modelId: string, tags: KV[]): Promise<void> {
  await withTransaction(db, async (trx) => {
    const row = await requireLoggedModel(trx, projectId, modelId);
    await upsertKeyValues(trx, 'logged_model_tags', { model_id: row.id }, lastValuePerKey(tags));
    await trx('logged_models').where('id', row.id).update({ last_updated_time: nextUpdateTime(row) });
  });
}

export async function deleteLoggedModelTag(db: Db, projectId: number, modelId: string, key: string): Promise<void> {
  await withTransaction(db, async (trx) => {
    const row = await requireLoggedModel(trx, projectId, modelId);
    const n = await trx('logged_model_tags').where({ model_id: row.id, key }).del();
    if (!n) throw notFound(`No tag with key '${key}' found for logged model with ID '${modelId}'.`);
    await trx('logged_models').where('id', row.id).update({ last_updated_time: nextUpdateTime(row) });
  });
}

export async function logLoggedModelParams(db: Db, projectId: number, modelId: string, params: KV[]): Promise<void> {
  await withTransaction(db, async (trx) => {
    const row = await requireLoggedModel(trx, projectId, modelId);
    await insertParams(trx, row, params);
  });
}

/** Shapes models for the wire with their tags and params, in three queries however many there are. */
export async function toLoggedModelsOut(db: Db, rows: LoggedModelRow[]): Promise<LoggedModelOut[]> {
  if (!rows.length) return [];
  const ids = rows.map((r) => r.id);
  const [tags, params] = await Promise.all([
    db('logged_model_tags').whereIn('model_id', ids).orderBy(['model_id', 'key']).select('model_id', 'key', 'value'),
    db('logged_model_params').whereIn('model_id', ids).orderBy(['model_id', 'key']).select('model_id', 'key', 'value'),
  ]);
  const group = (list: any[]) => {
    const m = new Map<number, KV[]>();
    for (const t of list) {
      const id = Number(t.model_id);
      let l = m.get(id);
      if (!l) m.set(id, (l = []));
      l.push({ key: t.key, value: t.value });
    }
    return m;
  };
  const tagsBy = group(tags);
  const paramsBy = group(params);
  return rows.map((r) => {
    const info: LoggedModelOut['info'] = {
      model_id: r.model_id,
      experiment_id: String(r.experiment_iid),
      name: r.name,
      creation_timestamp_ms: r.creation_time,
      last_updated_timestamp_ms: r.last_updated_time,
      artifact_uri: r.artifact_location,
      status: WIRE_STATUS[r.status],
    };
    if (r.model_type != null) info.model_type = r.model_type;
    if (r.source_run_id != null) info.source_run_id = r.source_run_id;
    if (r.status_message != null) info.status_message = r.status_message;
    const t = tagsBy.get(r.id);
    if (t?.length) info.tags = t;
    const p = paramsBy.get(r.id);
    return { info, data: p?.length ? { params: p } : {} };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Search: a subset of MLflow's logged-model filter grammar.
//
//   filter  := clause (AND clause)*                      (AND in any case)
//   clause  := attribute op value | tags.<key> op 'str' | params.<key> op 'str'
//   attribute (optionally prefixed `attributes.`):
//     model_id, name, model_type, status, source_run_id    with =, !=, LIKE, ILIKE and a quoted string
//     creation_timestamp (creation_time), last_updated_timestamp (last_updated_time)
//                                                          with =, !=, <, <=, >, >= and an integer
//   <key> is bare ([\w.-]+), or quoted with backticks or double quotes; strings take single or double quotes.
//   status accepts PENDING / READY / FAILED as well as the LOGGED_MODEL_* names.
// Not supported (400): metrics.*, datasets, OR, IN, parentheses.

type StringAttr = 'model_id' | 'name' | 'model_type' | 'status' | 'source_run_id';
type NumberAttr = 'creation_time' | 'last_updated_time';

export type LoggedModelClause =
  | { kind: 'attr'; column: StringAttr; op: '=' | '!=' | 'LIKE' | 'ILIKE'; value: string }
  | { kind: 'time'; column: NumberAttr; op: '=' | '!=' | '<' | '<=' | '>' | '>='; value: Int64 }
  | { kind: 'tag' | 'param'; key: string; op: '=' | '!=' | 'LIKE' | 'ILIKE'; value: string };

const STRING_ATTRS: Record<string, StringAttr> = {
  model_id: 'model_id', name: 'name', model_type: 'model_type', status: 'status', source_run_id: 'source_run_id',
};
const NUMBER_ATTRS: Record<string, NumberAttr> = {
  creation_timestamp: 'creation_time', creation_time: 'creation_time',
  last_updated_timestamp: 'last_updated_time', last_updated_time: 'last_updated_time',
};

const TOKEN_RE =
  /\s*(?:(`(?:[^`])*`|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|''|\\.)*')|(!=|<>|<=|>=|=|<|>)|([A-Za-z_]\w*\.(?:`[^`]*`|"(?:[^"\\]|\\.)*")|[A-Za-z_][\w.\-]*)|(-?\d+))/y;

interface Tok {
  type: 'str' | 'op' | 'word' | 'num';
  text: string;
}

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  TOKEN_RE.lastIndex = 0;
  let pos = 0;
  while (pos < s.length) {
    if (/^\s*$/.test(s.slice(pos))) break;
    TOKEN_RE.lastIndex = pos;
    const m = TOKEN_RE.exec(s);
    if (!m) throw invalidParam(`Invalid filter string '${s}': unexpected text at '${s.slice(pos).trim()}'.`);
    pos = TOKEN_RE.lastIndex;
    if (m[1] !== undefined) out.push({ type: 'str', text: m[1] });
    else if (m[2] !== undefined) out.push({ type: 'op', text: m[2] === '<>' ? '!=' : m[2] });
    else if (m[3] !== undefined) out.push({ type: 'word', text: m[3] });
    else out.push({ type: 'num', text: m[4]! });
  }
  return out;
}

/** As in run and experiment filters: a doubled quote stands for itself; backslashes stay (they escape LIKE). */
function unquote(q: string): string {
  const body = q.slice(1, -1);
  if (q[0] === '`') return body;
  return q[0] === "'" ? body.replace(/''/g, "'") : body.replace(/""/g, '"');
}

/** Parses a logged-model filter (see the grammar above) into clauses; 400 for anything outside the subset. */
export function parseLoggedModelFilter(filter: string | undefined): LoggedModelClause[] {
  if (!filter || !filter.trim()) return [];
  const toks = tokenize(filter);
  const clauses: LoggedModelClause[] = [];
  let i = 0;
  const bad = (msg: string) => invalidParam(`Invalid filter string '${filter}': ${msg}`);
  for (;;) {
    const ident = toks[i++];
    if (!ident || ident.type !== 'word') throw bad('expected an attribute, tags.<key> or params.<key>.');
    let opTok = toks[i++];
    let op: string | undefined;
    if (opTok?.type === 'op') op = opTok.text;
    else if (opTok?.type === 'word' && /^i?like$/i.test(opTok.text)) op = opTok.text.toUpperCase();
    if (!op) throw bad(`expected a comparison operator after '${ident.text}'.`);
    const valTok = toks[i++];
    if (!valTok || (valTok.type !== 'str' && valTok.type !== 'num')) throw bad(`expected a value after '${ident.text} ${op}'.`);

    const dot = ident.text.indexOf('.');
    let entity = dot >= 0 ? ident.text.slice(0, dot).toLowerCase() : 'attributes';
    let key = dot >= 0 ? ident.text.slice(dot + 1) : ident.text;
    if (/^[`"]/.test(key)) key = unquote(key);
    if (['attribute', 'attributes', 'attr'].includes(entity)) entity = 'attributes';
    if (['tag', 'tags'].includes(entity)) entity = 'tags';
    if (['param', 'params', 'parameter', 'parameters'].includes(entity)) entity = 'params';

    if (entity === 'metrics' || entity === 'metric') throw bad('filtering on metrics is not supported by this server.');
    if (entity === 'tags' || entity === 'params') {
      if (valTok.type !== 'str') throw bad(`the value for ${entity}.${key} must be a quoted string.`);
      if (!['=', '!=', 'LIKE', 'ILIKE'].includes(op)) throw bad(`operator '${op}' is not supported for ${entity}.`);
      clauses.push({ kind: entity === 'tags' ? 'tag' : 'param', key, op: op as '=', value: unquote(valTok.text) });
    } else if (entity === 'attributes' && STRING_ATTRS[key]) {
      if (valTok.type !== 'str') throw bad(`the value for '${key}' must be a quoted string.`);
      if (!['=', '!=', 'LIKE', 'ILIKE'].includes(op)) throw bad(`operator '${op}' is not supported for '${key}'.`);
      let value = unquote(valTok.text);
      if (key === 'status' && (op === '=' || op === '!=')) {
        const s = value.toUpperCase().replace(/^LOGGED_MODEL_/, '');
        value = s === 'UPLOAD_FAILED' ? 'FAILED' : s;
      }
      clauses.push({ kind: 'attr', column: STRING_ATTRS[key]!, op: op as '=', value });
    } else if (entity === 'attributes' && NUMBER_ATTRS[key]) {
      if (valTok.type !== 'num') throw bad(`the value for '${key}' must be an integer.`);
      if (!['=', '!=', '<', '<=', '>', '>='].includes(op)) throw bad(`operator '${op}' is not supported for '${key}'.`);
      const big = BigInt(valTok.text);
      const value = fromBigInt(big);
      clauses.push({ kind: 'time', column: NUMBER_ATTRS[key]!, op: op as '=', value });
    } else {
      throw invalidParam(
        `Invalid attribute key '${key}' specified. Valid keys are ` +
          `'${[...Object.keys(STRING_ATTRS), ...Object.keys(NUMBER_ATTRS)].join("', '")}', tags.<key> and params.<key>.`,
      );
    }
    if (i >= toks.length) break;
    const and = toks[i++];
    if (and?.type !== 'word' || and.text.toUpperCase() !== 'AND') throw bad("clauses must be joined with 'AND'.");
  }
  return clauses;
}

export interface LoggedModelOrder {
  field_name?: string;
  ascending?: boolean;
}

const ORDER_FIELDS: Record<string, string> = {
  model_id: 'm.model_id', name: 'm.name', model_type: 'm.model_type', status: 'm.status', source_run_id: 'm.source_run_id',
  creation_timestamp: 'm.creation_time', creation_time: 'm.creation_time',
  last_updated_timestamp: 'm.last_updated_time', last_updated_time: 'm.last_updated_time',
};

/** Validates order_by entries into [column, direction] pairs (metrics ordering is not supported). */
export function parseLoggedModelOrder(orderBy: LoggedModelOrder[] | undefined): [string, 'asc' | 'desc'][] {
  const out: [string, 'asc' | 'desc'][] = [];
  for (const o of orderBy ?? []) {
    if (!o.field_name) throw invalidParam('`field_name` in the `order_by` clause must be specified.');
    const col = ORDER_FIELDS[o.field_name.replace(/^attributes\./, '')];
    if (!col) {
      if (o.field_name.startsWith('metrics.')) throw invalidParam(`Ordering by metrics is not supported by this server: ${o.field_name}`);
      throw invalidParam(`Invalid order by field name: ${o.field_name.split('.')[0]}`);
    }
    out.push([col, o.ascending === false ? 'desc' : 'asc']);
  }
  return out;
}

/**
 * Active models of the given MLflow experiment ids (unknown ids are ignored) in this project, filtered and ordered
 * (ties: newest first, then model id), one page of `limit` starting at `offset`.
 */
export async function searchLoggedModels(
  db: Db,
  projectId: number,
  q: { experimentIds: string[]; clauses: LoggedModelClause[]; order: [string, 'asc' | 'desc'][]; limit: number; offset: number },
): Promise<{ rows: LoggedModelRow[]; more: boolean }> {
  const iids = [...new Set(q.experimentIds.filter((id) => /^\d{1,9}$/.test(id)).map(Number))];
  if (!iids.length) return { rows: [], more: false };
  const query = db('logged_models as m')
    .join('experiments as e', 'e.id', 'm.experiment_id')
    .where('m.project_id', projectId)
    .andWhere('e.project_id', projectId)
    .whereIn('e.experiment_id', iids)
    .andWhere('m.lifecycle_stage', 'active');
  // String comparisons are the run search's (db/search/sql.ts): exact (case, trailing spaces), LIKE with `\` escapes.
  const mysql = isMysql(db);
  for (const c of q.clauses) {
    if (c.kind === 'attr') {
      // LIKE on status sees the wire names (LOGGED_MODEL_READY …); = and != were normalised by the parser
      const col = c.column === 'status' && (c.op === 'LIKE' || c.op === 'ILIKE') ? WIRE_STATUS_SQL : `m.${c.column}`;
      const f = strCmp(mysql, col, c.op, c.value);
      query.whereRaw(f.sql, f.bindings as Knex.RawBinding[]);
    } else if (c.kind === 'time') {
      query.where(`m.${c.column}`, c.op === '!=' ? '<>' : c.op, int64Bind(c.value));
    } else {
      const table = c.kind === 'tag' ? 'logged_model_tags' : 'logged_model_params';
      const key = strEq(mysql, 'x.key', c.key);
      const value = strCmp(mysql, 'x.value', c.op, c.value);
      query.whereExists(function (this: Knex.QueryBuilder) {
        this.select(db.raw('1'))
          .from(`${table} as x`)
          .whereRaw('?? = ??', ['x.model_id', 'm.id'])
          .whereRaw(key.sql, key.bindings as Knex.RawBinding[])
          .whereRaw(value.sql, value.bindings as Knex.RawBinding[]);
      });
    }
  }
  for (const [col, dir] of q.order) query.orderBy(col, dir);
  query.orderBy('m.creation_time', 'desc').orderBy('m.model_id', 'asc');
  const rows = (await query.limit(q.limit + 1).offset(q.offset).select(COLUMNS)).map(toRow);
  const more = rows.length > q.limit;
  return { rows: more ? rows.slice(0, q.limit) : rows, more };
}
