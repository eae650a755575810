/**
 * The scanner shared by every MLflow filter and order_by grammar (runs, experiments, logged models, and next the
 * model registry): it splits a filter into `identifier comparator value` triples joined by AND and reports shape
 * errors only. What an identifier means and which comparators and values it takes is a vocabulary's business
 * (db/search/grammar.ts, db/search/filter-*.ts).
 *
 * Grammar (keywords case-insensitive, entity names and keys case-sensitive):
 *   filter     := [ clause { AND clause } ]
 *   clause     := identifier comparator value
 *   identifier := part { '.' part }          part := bare | `backticked` | "double-quoted"
 *   comparator := = | != | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN
 *   value      := 'string' | "string" | number | '(' string { ',' string } ')'
 *   order_by   := identifier [ ASC | DESC ]
 * Inside quotes a doubled quote character stands for itself ('it''s'); backslashes are literal.
 * A `Dialect` widens this where a vocabulary's history needs it (the logged-model filter: `<>`, hyphens in bare
 * keys, backslash-escaped quotes) and words its syntax errors.
 *
 * Over 300 lines: the Scanner class and the two scans driving it (filters, order_by) are one unit; splitting them
 * would export the cursor primitives to a second file for no other reader.
 */
import { invalidParam } from '../../core/errors.ts';

/** A numeric literal as written (kept so int64 comparisons stay exact) and as a double. */
export interface NumberLiteral {
  text: string;
  value: number;
}

export type NumericOp = '=' | '!=' | '>' | '>=' | '<' | '<=';
export type StringOp = '=' | '!=' | 'LIKE' | 'ILIKE';
export type ListOp = 'IN' | 'NOT IN';
export type Comparator = NumericOp | StringOp | ListOp;

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

export const listText = (xs: readonly string[]) => `[${xs.map((x) => `'${x}'`).join(', ')}]`;
export const setText = (xs: readonly string[]) => `{${xs.map((x) => `'${x}'`).join(', ')}}`;

export interface IdentPart {
  text: string;
  quote: '' | '`' | '"';
}
export interface Identifier {
  parts: IdentPart[];
  raw: string;
}

export type ValueToken =
  | { type: 'string'; value: string; raw: string }
  | { type: 'number'; literal: NumberLiteral; raw: string }
  | { type: 'list'; values: string[]; raw: string }
  /** An unquoted word, or a `backticked` one (`quoted` holds its text). */
  | { type: 'bare'; raw: string; quoted?: string };

export interface RawClause {
  ident: Identifier;
  op: Comparator;
  value: ValueToken;
  raw: string;
}

/** Where a filter stopped being `clause { AND clause }`; `at` is the text from there on. */
export interface SyntaxProblem {
  filter: string;
  at: string;
  expected: 'identifier' | 'comparator' | 'value' | 'and';
  ident?: string;
  op?: Comparator;
}

export interface Dialect {
  /** Characters of a bare word. */
  wordChar: RegExp;
  /** `\x` inside quotes keeps both characters and never ends the string. */
  backslashEscapes: boolean;
  /** `<>` reads as `!=`. */
  notEqualAlias: boolean;
  syntaxError(p: SyntaxProblem): Error;
}

/** Runs' and experiments' dialect: MLflow's SearchUtils wording. */
export const MLFLOW_DIALECT: Dialect = {
  wordChar: /[\p{L}\p{N}_]/u,
  backslashEscapes: false,
  notEqualAlias: false,
  syntaxError: (p) => invalidParam(`Invalid clause(s) in filter string: '${p.at.trim()}'`),
};

const NUMBER = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?/;
const RESERVED = new Set(['AND', 'OR', 'NOT', 'IN', 'LIKE', 'ILIKE']);

export class Scanner {
  pos = 0;
  constructor(
    readonly src: string,
    readonly dialect: Dialect = MLFLOW_DIALECT,
  ) {}

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
  isWordChar(c: string): boolean {
    return c !== '' && this.dialect.wordChar.test(c);
  }

  /** A bare word at the cursor, without consuming it. */
  peekWord(): string {
    let end = this.pos;
    while (end < this.src.length && this.isWordChar(this.src[end]!)) end++;
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
    const escapes = this.dialect.backslashEscapes && q !== '`';
    let out = '';
    let i = this.pos + 1;
    for (;;) {
      if (i >= this.src.length) return null;
      const c = this.src[i]!;
      if (escapes && c === '\\' && i + 1 < this.src.length) {
        out += c + this.src[i + 1]!;
        i += 2;
        continue;
      }
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
  readIdentifier(): Identifier | null {
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
      if (this.peek() === '.' && (this.peek(1) === '`' || this.peek(1) === '"' || this.isWordChar(this.peek(1)))) {
        this.pos++;
        continue;
      }
      return { parts, raw: this.src.slice(start, this.pos) };
    }
  }

  readComparator(): Comparator | null {
    const ops = /^[<>=!~]+/.exec(this.rest());
    if (ops) {
      const op = ops[0];
      if (op === '=' || op === '!=' || op === '<' || op === '<=' || op === '>' || op === '>=') {
        this.pos += op.length;
        return op;
      }
      if (op === '<>' && this.dialect.notEqualAlias) {
        this.pos += 2;
        return '!=';
      }
      throw invalidParam(`Invalid comparator '${op}' in filter string; valid comparators are =, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN`);
    }
    const w = this.peekWord().toUpperCase();
    if (w === 'LIKE' || w === 'ILIKE' || w === 'IN') {
      this.readWord();
      return w;
    }
    if (w === 'NOT') {
      const save = this.pos;
      this.readWord();
      this.skipWs();
      if (this.peekWord().toUpperCase() === 'IN') {
        this.readWord();
        return 'NOT IN';
      }
      this.pos = save;
    }
    return null;
  }

  readValue(): ValueToken | null {
    const start = this.pos;
    const c = this.peek();
    const unterminated = (q: string) => invalidParam(`Invalid filter string: unterminated ${q} quote in '${this.src.slice(start)}'`);
    if (c === "'" || c === '"') {
      const v = this.readQuoted();
      if (v === null) throw unterminated(c);
      return { type: 'string', value: v, raw: this.src.slice(start, this.pos) };
    }
    if (c === '(') return this.readList();
    const num = NUMBER.exec(this.rest());
    const after = this.src[this.pos + (num?.[0].length ?? 0)] ?? '';
    if (num && !this.isWordChar(after) && after !== '.') {
      this.pos += num[0].length;
      return { type: 'number', literal: { text: num[0], value: Number(num[0]) }, raw: num[0] };
    }
    if (c === '`') {
      const v = this.readQuoted();
      if (v === null) throw unterminated(c);
      return { type: 'bare', raw: this.src.slice(start, this.pos), quoted: v };
    }
    const ident = this.readIdentifier();
    if (ident) return { type: 'bare', raw: ident.raw };
    return null;
  }

  private readList(): ValueToken {
    const start = this.pos;
    this.pos++;
    const values: string[] = [];
    this.skipWs();
    if (this.peek() === ')') {
      throw invalidParam('While parsing a list in the query, expected a non-empty list of string values, but got empty list');
    }
    for (;;) {
      this.skipWs();
      const q = this.peek();
      if (q !== "'" && q !== '"') {
        throw invalidParam(
          `While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: ${this.src.slice(start)}`,
        );
      }
      const v = this.readQuoted();
      if (v === null) throw invalidParam(`Invalid filter string: unterminated ${q} quote in '${this.src.slice(start)}'`);
      values.push(v);
      this.skipWs();
      if (this.peek() === ',') {
        this.pos++;
        continue;
      }
      if (this.peek() === ')') {
        this.pos++;
        return { type: 'list', values, raw: this.src.slice(start, this.pos) };
      }
      throw invalidParam(
        `While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list: ${this.src.slice(start)}`,
      );
    }
  }
}

function multipleStatements(filter: string): Error {
  return invalidParam(`Search filter contained multiple expression '${filter}'. Provide AND-ed expression list.`);
}

/** Splits a filter into `identifier comparator value` triples joined by AND; shape errors only. */
export function scanClauses(filter: string, dialect: Dialect = MLFLOW_DIALECT): RawClause[] {
  const s = new Scanner(filter, dialect);
  const out: RawClause[] = [];
  const fail = (p: Omit<SyntaxProblem, 'filter'>) => dialect.syntaxError({ filter, ...p });
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
      throw fail({ at: s.src.slice(start), expected: 'identifier' });
    }
    s.skipWs();
    const op = s.readComparator();
    if (!op) throw fail({ at: s.src.slice(start), expected: 'comparator', ident: ident.raw });
    s.skipWs();
    const value = s.readValue();
    if (!value) throw fail({ at: s.src.slice(start), expected: 'value', ident: ident.raw, op });
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
      if (s.done) throw fail({ at: ';', expected: 'and' });
      throw multipleStatements(filter);
    }
    if (s.peekWord().toUpperCase() === 'AND') {
      s.readWord();
      s.skipWs();
      if (s.done) throw fail({ at: s.src.slice(afterClause), expected: 'identifier' });
      continue;
    }
    throw fail({ at: s.src.slice(afterClause), expected: 'and' });
  }
}

/** Splits an identifier into (entity, key): first part is the entity, the rest is the key. */
export function splitIdentifier(ident: Identifier): { entity: string | null; key: string } {
  const [first, ...rest] = ident.parts;
  if (!first) throw invalidParam(`Invalid identifier '${ident.raw}'`);
  if (rest.length === 0) return { entity: null, key: first.text };
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
  return { entity: first.text, key };
}

export interface RawOrder {
  entity: string | null;
  key: string;
  ascending: boolean;
  raw: string;
}

/** order_by := identifier [ ASC | DESC ] */
export function scanOrderBy(clause: string): RawOrder {
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
