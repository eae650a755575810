/**
 * The logged-models/search vocabulary: a subset of MLflow's `SearchLoggedModelsUtils`, with its own error wording
 * ("Invalid filter string '<filter>': …") and a slightly wider syntax than runs' (its dialect below).
 *
 *   clause  := attribute op value | tags.<key> op 'str' | params.<key> op 'str'
 *   attribute (optionally prefixed `attributes.`; entity names in any case):
 *     model_id, name, model_type, status, source_run_id    with =, !=, LIKE, ILIKE and a quoted string
 *     creation_timestamp (creation_time), last_updated_timestamp (last_updated_time)
 *                                                          with =, !=, <, <=, >, >= and an integer
 *   <key> is bare (letters, digits, _ and -, dots between), or quoted with backticks or double quotes; strings take
 *   single or double quotes (or backticks), `\x` inside them is kept as written; `<>` is `!=`.
 *   status accepts PENDING / READY / FAILED as well as the LOGGED_MODEL_* names.
 * Not supported (400): metrics.*, datasets, OR, IN, parentheses.
 */
import { invalidParam } from '../../core/errors.ts';
import { fromBigInt, type Int64 } from '../../core/codecs.ts';
import { splitIdentifier, type Dialect, type NumericOp, type RawClause, type StringOp, type SyntaxProblem } from './scanner.ts';
import { NUMERIC_OPS, STRING_OPS, lookup, parseFilter, type Vocabulary } from './grammar.ts';

export type LoggedModelStringAttribute = 'model_id' | 'name' | 'model_type' | 'status' | 'source_run_id';
export type LoggedModelTimeAttribute = 'creation_time' | 'last_updated_time';
export type LoggedModelAttribute = LoggedModelStringAttribute | LoggedModelTimeAttribute;

export type LoggedModelClause =
  | { kind: 'attr'; column: LoggedModelStringAttribute; op: StringOp; value: string }
  | { kind: 'time'; column: LoggedModelTimeAttribute; op: NumericOp; value: Int64 }
  | { kind: 'tag' | 'param'; key: string; op: StringOp; value: string };

const STRING_ATTRS: Record<string, LoggedModelStringAttribute> = {
  model_id: 'model_id', name: 'name', model_type: 'model_type', status: 'status', source_run_id: 'source_run_id',
};
const NUMBER_ATTRS: Record<string, LoggedModelTimeAttribute> = {
  creation_timestamp: 'creation_time', creation_time: 'creation_time',
  last_updated_timestamp: 'last_updated_time', last_updated_time: 'last_updated_time',
};
const ENTITIES: Record<string, 'attributes' | 'tags' | 'params' | 'metrics'> = {
  attribute: 'attributes', attributes: 'attributes', attr: 'attributes',
  tag: 'tags', tags: 'tags',
  param: 'params', params: 'params', parameter: 'params', parameters: 'params',
  metric: 'metrics', metrics: 'metrics',
};

const bad = (filter: string, msg: string) => invalidParam(`Invalid filter string '${filter}': ${msg}`);
const EXPECTED_IDENTIFIER = 'expected an attribute, tags.<key> or params.<key>.';

function syntaxError(p: SyntaxProblem): Error {
  switch (p.expected) {
    case 'identifier':
      return bad(p.filter, EXPECTED_IDENTIFIER);
    case 'comparator':
      return bad(p.filter, `expected a comparison operator after '${p.ident}'.`);
    case 'value':
      return bad(p.filter, `expected a value after '${p.ident} ${p.op}'.`);
    case 'and':
      return bad(p.filter, "clauses must be joined with 'AND'.");
  }
}

const dialect: Dialect = { wordChar: /[\p{L}\p{N}_-]/u, backslashEscapes: true, notEqualAlias: true, syntaxError };

/** `status = 'READY'`, `'LOGGED_MODEL_READY'` and `'ready'` all mean the stored READY. */
function storedStatus(value: string): string {
  const s = value.toUpperCase().replace(/^LOGGED_MODEL_/, '');
  return s === 'UPLOAD_FAILED' ? 'FAILED' : s;
}

function loggedModelClause(filter: string, c: RawClause): LoggedModelClause {
  const { ident, op, value } = c;
  const fail = (msg: string) => bad(filter, msg);
  if (ident.parts.length === 1 && ident.parts[0]!.quote !== '') throw fail(EXPECTED_IDENTIFIER);
  if (op === 'IN' || op === 'NOT IN') throw fail(`expected a comparison operator after '${ident.raw}'.`);
  const text = value.type === 'string' ? value.value : value.type === 'bare' ? value.quoted : undefined;
  if (value.type === 'list' || (value.type === 'bare' && text === undefined)) throw fail(`expected a value after '${ident.raw} ${op}'.`);
  const split = splitIdentifier(ident);
  const key = split.key;
  const entity = split.entity === null ? 'attributes' : lookup(ENTITIES, split.entity.toLowerCase());

  if (entity === 'metrics') throw fail('filtering on metrics is not supported by this server.');
  if (entity === 'tags' || entity === 'params') {
    if (text === undefined) throw fail(`the value for ${entity}.${key} must be a quoted string.`);
    if (!STRING_OPS.includes(op)) throw fail(`operator '${op}' is not supported for ${entity}.`);
    return { kind: entity === 'tags' ? 'tag' : 'param', key, op: op as StringOp, value: text };
  }
  const stringAttr = entity === 'attributes' ? lookup(STRING_ATTRS, key) : undefined;
  if (stringAttr) {
    if (text === undefined) throw fail(`the value for '${key}' must be a quoted string.`);
    if (!STRING_OPS.includes(op)) throw fail(`operator '${op}' is not supported for '${key}'.`);
    const normalized = stringAttr === 'status' && (op === '=' || op === '!=') ? storedStatus(text) : text;
    return { kind: 'attr', column: stringAttr, op: op as StringOp, value: normalized };
  }
  const timeAttr = entity === 'attributes' ? lookup(NUMBER_ATTRS, key) : undefined;
  if (timeAttr) {
    if (value.type !== 'number' || !/^-?\d+$/.test(value.literal.text)) throw fail(`the value for '${key}' must be an integer.`);
    if (!NUMERIC_OPS.includes(op)) throw fail(`operator '${op}' is not supported for '${key}'.`);
    return { kind: 'time', column: timeAttr, op: op as NumericOp, value: fromBigInt(BigInt(value.literal.text)) };
  }
  throw invalidParam(
    `Invalid attribute key '${key}' specified. Valid keys are ` +
      `'${[...Object.keys(STRING_ATTRS), ...Object.keys(NUMBER_ATTRS)].join("', '")}', tags.<key> and params.<key>.`,
  );
}

/** Parses a logged-model filter (see the grammar above) into clauses; 400 for anything outside the subset. */
export function parseLoggedModelFilter(filter: string | undefined): LoggedModelClause[] {
  if (!filter) return [];
  const vocabulary: Vocabulary<LoggedModelClause> = { dialect, clause: (c) => loggedModelClause(filter, c) };
  return parseFilter(vocabulary, filter);
}

export interface LoggedModelOrder {
  field_name?: string;
  ascending?: boolean;
}

const ORDER_FIELDS: Record<string, LoggedModelAttribute> = { ...STRING_ATTRS, ...NUMBER_ATTRS };

/** Validates order_by entries (structured, not strings) into [attribute, direction] pairs; not by metrics. */
export function parseLoggedModelOrder(orderBy: LoggedModelOrder[] | undefined): [LoggedModelAttribute, 'asc' | 'desc'][] {
  const out: [LoggedModelAttribute, 'asc' | 'desc'][] = [];
  for (const o of orderBy ?? []) {
    if (!o.field_name) throw invalidParam('`field_name` in the `order_by` clause must be specified.');
    const attr = lookup(ORDER_FIELDS, o.field_name.replace(/^attributes\./, ''));
    if (!attr) {
      if (o.field_name.startsWith('metrics.')) throw invalidParam(`Ordering by metrics is not supported by this server: ${o.field_name}`);
      throw invalidParam(`Invalid order by field name: ${o.field_name.split('.')[0]}`);
    }
    out.push([attr, o.ascending === false ? 'desc' : 'asc']);
  }
  return out;
}
