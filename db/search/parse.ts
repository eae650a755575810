/**
 * MLflow search grammar: run filters, experiment filters and order_by clauses
 * (reference: docs §6, mlflow/utils/search_utils.py). A small hand-written scanner and
 * recursive-descent parser; no SQL parser dependency. Everything invalid becomes a 400
 * INVALID_PARAMETER_VALUE whose message names the problem the way MLflow's does.
 *
 * Grammar (keywords case-insensitive, entity names and keys case-sensitive):
 *   filter     := [ clause { AND clause } ]
 *   clause     := identifier comparator value
 *   identifier := part { '.' part }          part := bare | `backticked` | "double-quoted"
 *   comparator := = | != | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN
 *   value      := 'string' | "string" | number | '(' string { ',' string } ')'
 *   order_by   := identifier [ ASC | DESC ]
 * Inside quotes a doubled quote character stands for itself ('it''s'); backslashes are literal.
 */
import { invalidParam } from '../../core/errors.ts';

// ---------------------------------------------------------------------------------------------
// AST

export type NumericOp = '=' | '!=' | '>' | '>=' | '<' | '<=';
export type StringOp = '=' | '!=' | 'LIKE' | 'ILIKE';
export type ListOp = 'IN' | 'NOT IN';
export type Comparator = NumericOp | StringOp | ListOp;

/** A numeric literal as written (kept so int64 comparisons stay exact) and as a double. */
export interface NumberLiteral {
  text: string;
  value: number;
}

export type RunStringAttribute = 'run_id' | 'run_name' | 'status' | 'user_id' | 'artifact_uri';
export type RunNumericAttribute = 'start_time' | 'end_time';
export type RunAttribute = RunStringAttribute | RunNumericAttribute;
export type DatasetKey = 'name' | 'digest' | 'context';

export type RunClause =
  | { kind: 'metric'; key: string; op: NumericOp; value: NumberLiteral }
  | { kind: 'param' | 'tag'; key: string; op: StringOp; value: string }
  | { kind: 'attribute'; key: RunStringAttribute; op: StringOp; value: string }
  | { kind: 'attribute'; key: 'run_id'; op: ListOp; value: string[] }
  | { kind: 'attribute'; key: RunNumericAttribute; op: NumericOp; value: NumberLiteral }
  | { kind: 'dataset'; key: DatasetKey; op: StringOp; value: string }
  | { kind: 'dataset'; key: DatasetKey; op: ListOp; value: string[] };

export type RunOrderBy =
  | { kind: 'metric' | 'param' | 'tag'; key: string; ascending: boolean }
  | { kind: 'attribute'; key: RunAttribute; ascending: boolean };

export type ExperimentNumericAttribute = 'creation_time' | 'last_update_time';
export type ExperimentClause =
  | { kind: 'attribute'; key: 'name'; op: StringOp; value: string }
  | { kind: 'attribute'; key: ExperimentNumericAttribute; op: NumericOp; value: NumberLiteral }
  | { kind: 'tag'; key: string; op: StringOp; value: string };

export type ExperimentOrderKey = 'name' | 'experiment_id' | 'creation_time' | 'last_update_time';
export interface ExperimentOrderBy {
  kind: 'attribute';
  key: ExperimentOrderKey;
  ascending: boolean;
}

// ---------------------------------------------------------------------------------------------
// Vocabulary

const NUMERIC_OPS: readonly Comparator[] = ['=', '!=', '>', '>=', '<', '<='];
const STRING_OPS: readonly Comparator[] = ['=', '!=', 'LIKE', 'ILIKE'];
const STRING_LIST_OPS: readonly Comparator[] = ['=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'];

const RUN_ENTITIES: Record<string, 'metric' | 'param' | 'tag' | 'attribute' | 'dataset'> = {
  metric: 'metric',
  metrics: 'metric',
  parameter: 'param',
  parameters: 'param',
  param: 'param',
  params: 'param',
  tag: 'tag',
  tags: 'tag',
  attribute: 'attribute',
  attributes: 'attribute',
  attr: 'attribute',
  run: 'attribute',
  dataset: 'dataset',
  datasets: 'dataset',
};
const RUN_ENTITY_NAMES = "['metric', 'parameter', 'tag', 'attribute', 'dataset']";

/** Searchable run attribute keys (with MLflow's aliases) → canonical key. */
const RUN_FILTER_ATTRIBUTES: Record<string, RunAttribute> = {
  run_id: 'run_id',
  run_name: 'run_name',
  'run name': 'run_name',
  'Run name': 'run_name',
  'Run Name': 'run_name',
  status: 'status',
  user_id: 'user_id',
  artifact_uri: 'artifact_uri',
  start_time: 'start_time',
  created: 'start_time',
  Created: 'start_time',
  end_time: 'end_time',
};
/** Orderable run attribute keys: MLflow accepts `created`/`Created` here but not the run-name aliases ("run name"). */
const RUN_ORDER_ATTRIBUTES: Record<string, RunAttribute> = Object.fromEntries(
  Object.entries(RUN_FILTER_ATTRIBUTES).filter(([alias]) => !alias.includes(' ')),
);
const RUN_NUMERIC_ATTRIBUTES = new Set<RunAttribute>(['start_time', 'end_time']);
const DATASET_KEYS = new Set<string>(['name', 'digest', 'context']);

const EXPERIMENT_FILTER_ATTRIBUTES = ['name', 'creation_time', 'last_update_time'] as const;
const EXPERIMENT_ORDER_ATTRIBUTES = ['name', 'experiment_id', 'creation_time', 'last_update_time'] as const;
const EXPERIMENT_ENTITIES: Record<string, 'attribute' | 'tag'> = { attribute: 'attribute', tag: 'tag', tags: 'tag' };

const RESERVED = new Set(['AND', 'OR', 'NOT', 'IN', 'LIKE', 'ILIKE']);

/**
 * Size limits (MLflow has none), so that a big request is a 400 and never a 500 or a minutes-long query.
 * Measured over HTTP: SQLite fails at ~1000 clauses (expression depth), at 32766 bound values and at 64 joined
 * tables; MariaDB at 61 tables and 65535 placeholders, and 10 000 clauses took 70 s there. Each metric/param/tag
 * order_by field is one LEFT JOIN, and the keyset predicate grows with the square of the fields (50 fields: 1.6 s
 * on MariaDB). Within these limits a search takes ~0.1 s on both databases.
 */
export const MAX_FILTER_CLAUSES = 250;
export const MAX_FILTER_LIST_VALUES = 10000;
export const MAX_ORDER_BY_FIELDS = 20;

const listText = (xs: readonly string[]) => `[${xs.map((x) => `'${x}'`).join(', ')}]`;
const setText = (xs: readonly string[]) => `{${xs.map((x) => `'${x}'`).join(', ')}}`;

// ---------------------------------------------------------------------------------------------
// Scanner

interface IdentPart {
  text: string;
  quote: '' | '`' | '"';
}

type ValueToken =
  | { type: 'string'; value: string; raw: string }
  | { type: 'number'; literal: NumberLiteral; raw: string }
  | { type: 'list'; values: string[]; raw: string }
  | { type: 'bare'; raw: string };

const WORD = /[\p{L}\p{N}_]/u;
const NUMBER = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?/;

class Scanner {
  pos = 0;
  constructor(readonly src: string) {}

  get done(): boolean {
    return this.pos >= this.src.length;
  }
  peek(offset = 0): string {
    return this.src[this.pos + offset] ?? '';
  }
  rest(): string {
    return this.src.slice(this.pos);
  }
  skipWs(): void {
    while (!this.done && /\s/.test(this.peek())) this.pos++;
  }

  /** A bare word at the cursor (letters, digits, underscore), without consuming it. */
  peekWord(): string {
    let end = this.pos;
    while (end < this.src.length && WORD.test(this.src[end]!)) end++;
    return this.src.slice(this.pos, end);
  }
  readWord(): string {
    const w = this.peekWord();
    this.pos += w.length;
    return w;
  }

  /** Reads a quoted run starting at the cursor; a doubled quote stands for itself. Null if unterminated. */
  readQuoted(): string | null {
    const q = this.peek();
    let out = '';
    let i = this.pos + 1;
    for (;;) {
      if (i >= this.src.length) return null;
      const c = this.src[i]!;
      if (c === q) {
        if (this.src[i + 1] === q) {
          out += q;
          i += 2;
          continue;
        }
        this.pos = i + 1;
        return out;
      }
      out += c;
      i++;
    }
  }

  /** identifier := part { '.' part }; null if there is no identifier at the cursor. */
  readIdentifier(): { parts: IdentPart[]; raw: string } | null {
    const start = this.pos;
    const parts: IdentPart[] = [];
    for (;;) {
      const c = this.peek();
      if (c === '`' || c === '"') {
        const text = this.readQuoted();
        if (text === null) throw invalidParam(`Invalid filter string: unterminated ${c} quote in '${this.src.slice(start)}'`);
        parts.push({ text, quote: c });
      } else {
        const w = this.readWord();
        if (!w) {
          this.pos = start;
          return null;
        }
        parts.push({ text: w, quote: '' });
      }
      if (this.peek() === '.' && (this.peek(1) === '`' || this.peek(1) === '"' || WORD.test(this.peek(1)))) {
        this.pos++;
        continue;
      }
      return { parts, raw: this.src.slice(start, this.pos) };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

function invalidClauses(text: string): Error {
  return invalidParam(`Invalid clause(s) in filter string: '${text.trim()}'`);
}

/** Splits an identifier into (entity, key): first part is the entity, the rest is the key. */
function splitIdentifier(ident: { parts: IdentPart[]; raw: string }): { entity: string | null; entityQuote: string; key: string } {
  const [first, ...rest] = ident.parts;
  if (!first) throw invalidParam(`Invalid identifier '${ident.raw}'`);
  if (rest.length === 0) return { entity: null, entityQuote: '', key: first.text };
  if (first.quote === '"') {
    throw invalidParam(`Invalid entity type '${first.text}' in '${ident.raw}'. Entity types may be quoted with backticks only`);
  }
  let key: string;
  if (rest.length === 1) key = rest[0]!.text;
  else if (rest.every((p) => p.quote === '')) key = rest.map((p) => p.text).join('.');
  else {
    throw invalidParam(
      `Invalid identifier '${ident.raw}'. A key containing dots or special characters must be quoted as a whole, e.g. tags.\`a.b-c\``,
    );
  }
  if (key === '') throw invalidParam(`Invalid identifier '${ident.raw}': empty key`);
  return { entity: first.text, entityQuote: first.quote, key };
}

function readComparator(s: Scanner): Comparator | null {
  const ops = /^[<>=!~]+/.exec(s.rest());
  if (ops) {
    const op = ops[0];
    if (op === '=' || op === '!=' || op === '<' || op === '<=' || op === '>' || op === '>=') {
      s.pos += op.length;
      return op;
    }
    throw invalidParam(`Invalid comparator '${op}' in filter string; valid comparators are =, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN`);
  }
  const w = s.peekWord().toUpperCase();
  if (w === 'LIKE' || w === 'ILIKE' || w === 'IN') {
    s.readWord();
    return w;
  }
  if (w === 'NOT') {
    const save = s.pos;
    s.readWord();
    s.skipWs();
    if (s.peekWord().toUpperCase() === 'IN') {
      s.readWord();
      return 'NOT IN';
    }
    s.pos = save;
  }
  return null;
}

function readValue(s: Scanner): ValueToken | null {
  const start = s.pos;
  const c = s.peek();
  if (c === "'" || c === '"') {
    const v = s.readQuoted();
    if (v === null) throw invalidParam(`Invalid filter string: unterminated ${c} quote in '${s.src.slice(start)}'`);
    return { type: 'string', value: v, raw: s.src.slice(start, s.pos) };
  }
  if (c === '(') {
    s.pos++;
    const values: string[] = [];
    s.skipWs();
    if (s.peek() === ')') {
      throw invalidParam('While parsing a list in the query, expected a non-empty list of string values, but got empty list');
    }
    for (;;) {
      s.skipWs();
      const q = s.peek();
      if (q !== "'" && q !== '"') {
        throw invalidParam(
          `While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: ${s.src.slice(start)}`,
        );
      }
      const v = s.readQuoted();
      if (v === null) throw invalidParam(`Invalid filter string: unterminated ${q} quote in '${s.src.slice(start)}'`);
      values.push(v);
      s.skipWs();
      if (s.peek() === ',') {
        s.pos++;
        continue;
      }
      if (s.peek() === ')') {
        s.pos++;
        return { type: 'list', values, raw: s.src.slice(start, s.pos) };
      }
      throw invalidParam(`While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list: ${s.src.slice(start)}`);
    }
  }
  const num = NUMBER.exec(s.rest());
  if (num && !WORD.test(s.src[s.pos + num[0].length] ?? '') && s.src[s.pos + num[0].length] !== '.') {
    s.pos += num[0].length;
    return { type: 'number', literal: { text: num[0], value: Number(num[0]) }, raw: num[0] };
  }
  if (c === '`') {
    const v = s.readQuoted();
    if (v === null) throw invalidParam(`Invalid filter string: unterminated \` quote in '${s.src.slice(start)}'`);
    return { type: 'bare', raw: s.src.slice(start, s.pos) };
  }
  const ident = s.readIdentifier();
  if (ident) return { type: 'bare', raw: ident.raw };
  return null;
}

interface RawClause {
  ident: { parts: IdentPart[]; raw: string };
  op: Comparator;
  value: ValueToken;
  raw: string;
}

/** Splits a filter into `identifier comparator value` triples joined by AND; shape errors only. */
function scanClauses(filter: string): RawClause[] {
  const s = new Scanner(filter);
  const out: RawClause[] = [];
  let listValues = 0;
  s.skipWs();
  if (s.done) return out;
  for (;;) {
    if (out.length >= MAX_FILTER_CLAUSES) {
      throw invalidParam(`Invalid filter string: more than ${MAX_FILTER_CLAUSES} clauses; split the search or use IN lists`);
    }
    s.skipWs();
    const start = s.pos;
    if (s.peek() === ';') throw multipleStatements(filter);
    const ident = s.readIdentifier();
    if (!ident || (ident.parts.length === 1 && ident.parts[0]!.quote === '' && RESERVED.has(ident.parts[0]!.text.toUpperCase()))) {
      throw invalidClauses(s.src.slice(start));
    }
    s.skipWs();
    const op = readComparator(s);
    if (!op) throw invalidClauses(s.src.slice(start));
    s.skipWs();
    const value = readValue(s);
    if (!value) throw invalidClauses(s.src.slice(start));
    out.push({ ident, op, value, raw: s.src.slice(start, s.pos) });
    if (value.type === 'list' && (listValues += value.values.length) > MAX_FILTER_LIST_VALUES) {
      throw invalidParam(`Invalid filter string: more than ${MAX_FILTER_LIST_VALUES} values in IN lists`);
    }
    s.skipWs();
    if (s.done) return out;
    const afterClause = s.pos;
    if (s.peek() === ';') {
      s.pos++;
      s.skipWs();
      if (s.done) throw invalidClauses(';');
      throw multipleStatements(filter);
    }
    if (s.peekWord().toUpperCase() === 'AND') {
      s.readWord();
      s.skipWs();
      if (s.done) throw invalidClauses(s.src.slice(afterClause));
      continue;
    }
    throw invalidClauses(s.src.slice(afterClause));
  }
}

function multipleStatements(filter: string): Error {
  return invalidParam(`Search filter contained multiple expression '${filter}'. Provide AND-ed expression list.`);
}

function requireComparator(op: Comparator, valid: readonly Comparator[], what: string): void {
  if (!valid.includes(op)) throw invalidParam(`Invalid comparator '${op}' for ${what}; not one of '${setText(valid)}'`);
}

function requireNumber(v: ValueToken, what: string): NumberLiteral {
  if (v.type !== 'number') throw invalidParam(`Expected numeric value type for ${what}. Found ${v.raw}`);
  return v.literal;
}

function requireString(v: ValueToken, what: string): string {
  if (v.type === 'string') return v.value;
  if (v.type === 'bare') {
    throw invalidParam(
      `Parameter value is either not quoted or unidentified quote types used for string value ${v.raw}. Use either single or double quotes.`,
    );
  }
  throw invalidParam(`Expected a quoted string value for ${what} (e.g. 'my-value'). Got value ${v.raw}`);
}

function requireList(v: ValueToken, op: Comparator, what: string): string[] {
  if (v.type !== 'list') throw invalidParam(`Expected a list of quoted string values for ${what} with comparator '${op}', e.g. ('a', 'b'). Got value ${v.raw}`);
  return v.values;
}

// ---------------------------------------------------------------------------------------------
// Runs

function runEntity(name: string, raw: string): 'metric' | 'param' | 'tag' | 'attribute' | 'dataset' {
  const e = Object.hasOwn(RUN_ENTITIES, name) ? RUN_ENTITIES[name] : undefined;
  if (!e) throw invalidParam(`Invalid entity type '${name}' in '${raw}'. Valid values are ${RUN_ENTITY_NAMES}`);
  return e;
}

function runAttribute(key: string, table: Record<string, RunAttribute>): RunAttribute {
  const a = Object.hasOwn(table, key) ? table[key] : undefined;
  if (!a) throw invalidParam(`Invalid attribute key '${key}' specified. Valid keys are '${listText(Object.keys(table))}'`);
  return a;
}

function runClause(c: RawClause): RunClause {
  const { entity, key } = splitIdentifier(c.ident);
  const kind = entity === null ? 'attribute' : runEntity(entity, c.ident.raw);
  const { op, value } = c;
  switch (kind) {
    case 'metric': {
      requireComparator(op, NUMERIC_OPS, 'metric');
      return { kind, key, op: op as NumericOp, value: requireNumber(value, 'metric') };
    }
    case 'param':
    case 'tag': {
      requireComparator(op, STRING_OPS, kind);
      return { kind, key, op: op as StringOp, value: requireString(value, kind) };
    }
    case 'attribute': {
      const attr = runAttribute(key, RUN_FILTER_ATTRIBUTES);
      if (RUN_NUMERIC_ATTRIBUTES.has(attr)) {
        requireComparator(op, NUMERIC_OPS, `numeric attribute '${attr}'`);
        return { kind, key: attr as RunNumericAttribute, op: op as NumericOp, value: requireNumber(value, `numeric attribute: ${attr}`) };
      }
      requireComparator(op, STRING_LIST_OPS, `string attribute '${attr}'`);
      if (op === 'IN' || op === 'NOT IN' || value.type === 'list') {
        if (attr !== 'run_id') throw invalidParam("Only the 'run_id' attribute supports comparison with a list of quoted string values.");
        if (op !== 'IN' && op !== 'NOT IN') throw invalidParam(`A list value needs the IN or NOT IN comparator, got '${op}' in '${c.raw}'`);
        return { kind, key: 'run_id', op, value: requireList(value, op, 'run_id') };
      }
      return { kind, key: attr as RunStringAttribute, op: op as StringOp, value: requireString(value, 'attributes') };
    }
    case 'dataset': {
      if (!DATASET_KEYS.has(key)) throw invalidParam(`Invalid dataset key '${key}' specified. Valid keys are '${listText([...DATASET_KEYS])}'`);
      requireComparator(op, STRING_LIST_OPS, 'dataset');
      const dkey = key as DatasetKey;
      if (op === 'IN' || op === 'NOT IN') return { kind, key: dkey, op, value: requireList(value, op, `dataset ${key}`) };
      if (value.type === 'list') throw invalidParam(`A list value needs the IN or NOT IN comparator, got '${op}' in '${c.raw}'`);
      return { kind, key: dkey, op: op as StringOp, value: requireString(value, 'dataset attributes') };
    }
  }
}

/** Parses a runs filter string; empty/absent ⇒ no clauses. */
export function parseRunFilter(filter: string | undefined | null): RunClause[] {
  if (!filter) return [];
  return scanClauses(filter).map(runClause);
}

interface RawOrder {
  entity: string | null;
  key: string;
  ascending: boolean;
  raw: string;
}

function scanOrderBy(clause: string): RawOrder {
  if (typeof clause !== 'string') throw invalidParam(`Invalid order_by clause '${String(clause)}'. Could not be parsed.`);
  const s = new Scanner(clause);
  s.skipWs();
  const ident = s.readIdentifier();
  if (!ident) throw invalidParam(`Invalid order_by clause '${clause}'. Could not be parsed.`);
  let ascending = true;
  s.skipWs();
  if (!s.done) {
    const w = s.readWord();
    if (!w) throw invalidParam(`Invalid order_by clause '${clause}'. Could not be parsed.`);
    const dir = w.toLowerCase();
    if (dir !== 'asc' && dir !== 'desc') throw invalidParam(`Invalid ordering key in order_by clause '${clause}'.`);
    ascending = dir === 'asc';
    s.skipWs();
    if (!s.done) throw invalidParam(`Invalid order_by clause '${clause}'. Could not be parsed.`);
  }
  const { entity, key } = splitIdentifier(ident);
  return { entity, key, ascending, raw: clause };
}

function duplicateFields(list: readonly string[]): Error {
  return invalidParam(`\`order_by\` contains duplicate fields: ${listText(list)}`);
}

/** Parses runs order_by clauses; duplicates (after alias resolution) are rejected. */
export function parseRunOrderBy(list: readonly string[] | undefined | null): RunOrderBy[] {
  if (!list || list.length === 0) return [];
  if (list.length > MAX_ORDER_BY_FIELDS) throw invalidParam(`\`order_by\` may contain at most ${MAX_ORDER_BY_FIELDS} fields, got ${list.length}`);
  const seen = new Set<string>();
  return list.map((clause) => {
    const o = scanOrderBy(clause);
    const kind = o.entity === null ? 'attribute' : runEntity(o.entity, clause);
    let parsed: RunOrderBy;
    if (kind === 'dataset') throw invalidParam(`Invalid order_by entity type 'dataset' in '${clause}'. Valid types are metric, param, tag and attribute`);
    if (kind === 'attribute') parsed = { kind, key: runAttribute(o.key, RUN_ORDER_ATTRIBUTES), ascending: o.ascending };
    else parsed = { kind, key: o.key, ascending: o.ascending };
    const id = `${parsed.kind}\u0000${parsed.key}`;
    if (seen.has(id)) throw duplicateFields(list);
    seen.add(id);
    return parsed;
  });
}

// ---------------------------------------------------------------------------------------------
// Experiments

function experimentEntity(name: string): 'attribute' | 'tag' {
  const e = Object.hasOwn(EXPERIMENT_ENTITIES, name) ? EXPERIMENT_ENTITIES[name] : undefined;
  if (!e) throw invalidParam(`Invalid entity type '${name}'. Valid entity types are ('attribute', 'tag', 'tags')`);
  return e;
}

function experimentClause(c: RawClause): ExperimentClause {
  const { entity, key } = splitIdentifier(c.ident);
  const kind = entity === null ? 'attribute' : experimentEntity(entity);
  const { op, value } = c;
  if (kind === 'tag') {
    requireComparator(op, STRING_OPS, 'tag');
    return { kind, key, op: op as StringOp, value: requireString(value, 'tag') };
  }
  if (!(EXPERIMENT_FILTER_ATTRIBUTES as readonly string[]).includes(key)) {
    throw invalidParam(`Invalid attribute key '${key}' specified. Valid keys are '${listText(EXPERIMENT_FILTER_ATTRIBUTES)}'`);
  }
  if (key === 'name') {
    requireComparator(op, STRING_OPS, 'string attribute \'name\'');
    return { kind, key, op: op as StringOp, value: requireString(value, 'attributes') };
  }
  requireComparator(op, NUMERIC_OPS, `numeric attribute '${key}'`);
  return { kind, key: key as ExperimentNumericAttribute, op: op as NumericOp, value: requireNumber(value, `numeric attribute: ${key}`) };
}

/** Parses an experiments filter string; empty/absent ⇒ no clauses. */
export function parseExperimentFilter(filter: string | undefined | null): ExperimentClause[] {
  if (!filter) return [];
  return scanClauses(filter).map(experimentClause);
}

/** Parses experiments order_by clauses; duplicates are rejected. */
export function parseExperimentOrderBy(list: readonly string[] | undefined | null): ExperimentOrderBy[] {
  if (!list || list.length === 0) return [];
  const seen = new Set<string>();
  return list.map((clause) => {
    const o = scanOrderBy(clause);
    const kind = o.entity === null ? 'attribute' : experimentEntity(o.entity);
    if (kind !== 'attribute') throw invalidParam(`Invalid order_by entity: ${kind}`);
    if (!(EXPERIMENT_ORDER_ATTRIBUTES as readonly string[]).includes(o.key)) {
      throw invalidParam(`Invalid attribute key '${o.key}' specified. Valid keys are '${listText(EXPERIMENT_ORDER_ATTRIBUTES)}'`);
    }
    if (seen.has(o.key)) throw duplicateFields(list);
    seen.add(o.key);
    return { kind, key: o.key as ExperimentOrderKey, ascending: o.ascending };
  });
}
