/**
 * Shared SQL building for the search queries: parameterised fragments, string comparisons that
 * behave the same on SQLite and MySQL/MariaDB, keyset ("seek") pagination (its page token: core/page-token.ts).
 *
 * Portability notes (measured on MariaDB 10.11 and SQLite 3 / better-sqlite3 12):
 * - utf8mb4_bin is a PAD SPACE collation on MariaDB: 'a' = 'a ' is true, even on TEXT columns.
 *   MLflow's equality is exact, so on MySQL `=`/`IN` also compare CAST(... AS BINARY) (the plain
 *   comparison stays first so indexes still apply). LIKE does not pad, so it needs nothing.
 * - MySQL sorts string values on their first max_sort_length (1024) bytes only, while `=`/`<`
 *   compare whole values; a keyset predicate would then disagree with ORDER BY. String sort keys
 *   are therefore LEFT(value, 256) on MySQL (≤ 1024 bytes in utf8mb4), in ORDER BY and in the
 *   seek predicate alike; values sharing a 256-character prefix fall through to the tie-breakers.
 * - LIKE: backslash is the escape character on both (MySQL's default; `ESCAPE '\'` on SQLite),
 *   `%` and `_` are wildcards. LIKE is case-sensitive on both (PRAGMA case_sensitive_like / _bin),
 *   ILIKE is LOWER(col) LIKE LOWER(pattern) (SQLite's LOWER folds ASCII only). A lone trailing
 *   backslash is a literal backslash on both (MySQL's reading; SQLite alone would match nothing).
 * - Doubles in the seek predicate must round-trip exactly: bound as REAL on SQLite; on MySQL
 *   written as an approximate-value literal (1.5e+0), which MariaDB parses as a DOUBLE.
 */
import type { Knex } from 'knex';
import { isMysql } from '../knex.ts';
import { DOUBLE_MAX, int64Text } from '../../core/codecs.ts';
import type { NumberLiteral } from './scanner.ts';
import { decodeKeysetToken, encodeKeysetToken, type KeysetKind, type SortKeyType, type SortValue } from '../../core/page-token.ts';

export type { SortValue };

export interface Frag {
  sql: string;
  bindings: unknown[];
}

export const raw = (sql: string): Frag => ({ sql, bindings: [] });
export const bind = (value: unknown): Frag => ({ sql: '?', bindings: [value] });

/** Template tag: interpolated Frags are inlined, anything else becomes a `?` binding. */
export function sql(strings: TemplateStringsArray, ...values: unknown[]): Frag {
  let text = strings[0]!;
  const bindings: unknown[] = [];
  values.forEach((v, i) => {
    if (isFrag(v)) {
      text += v.sql;
      bindings.push(...v.bindings);
    } else {
      text += '?';
      bindings.push(v);
    }
    text += strings[i + 1]!;
  });
  return { sql: text, bindings };
}

function isFrag(v: unknown): v is Frag {
  return typeof v === 'object' && v !== null && 'sql' in v && 'bindings' in v && Array.isArray((v as Frag).bindings);
}

export function joinFrags(frags: readonly Frag[], sep: string): Frag {
  return { sql: frags.map((f) => f.sql).join(sep), bindings: frags.flatMap((f) => f.bindings) };
}

export const and = (frags: readonly Frag[]): Frag => (frags.length === 0 ? raw('1 = 1') : joinFrags(frags.map(paren), ' AND '));
export const or = (frags: readonly Frag[]): Frag => (frags.length === 0 ? raw('1 = 0') : joinFrags(frags.map(paren), ' OR '));
const paren = (f: Frag): Frag => ({ sql: `(${f.sql})`, bindings: f.bindings });

/** Runs a SELECT built from fragments and returns its rows on either driver. */
export async function selectRows<T>(db: Knex, q: Frag): Promise<T[]> {
  const res: unknown = await db.raw(q.sql, q.bindings as Knex.RawBinding[]);
  if (isMysql(db)) return (res as [T[], unknown])[0];
  return res as T[];
}


// ---------------------------------------------------------------------------------------------
// Literals and comparisons

/** A double value, exact on both databases; ±Infinity is clamped the way metrics are stored. */
export function dbl(mysql: boolean, value: number): Frag {
  if (Number.isNaN(value)) throw new Error('NaN cannot be compared');
  const v = value === Infinity ? DOUBLE_MAX : value === -Infinity ? -DOUBLE_MAX : value;
  if (!mysql) return bind(v);
  return raw(v.toExponential()); // e.g. 3.0000000000000004e-1: an approximate-value (DOUBLE) literal
}

/** A numeric literal from a filter compared with an int64 column: exact when it is an integer. */
export function intOrDouble(mysql: boolean, lit: NumberLiteral): Frag {
  const exact = int64Text(lit.text);
  return exact !== null ? raw(exact) : dbl(mysql, lit.value);
}

export type StrOp = '=' | '!=' | 'LIKE' | 'ILIKE' | 'IN' | 'NOT IN';

/** Exact (case- and trailing-space-sensitive) string comparison of a column expression. */
export function strCmp(mysql: boolean, col: string, op: StrOp, value: string | readonly string[]): Frag {
  const escape = mysql ? '' : " ESCAPE '\\'";
  switch (op) {
    case '=':
      return strEq(mysql, col, value as string);
    case '!=':
      return sql`NOT (${strEq(mysql, col, value as string)})`;
    case 'LIKE':
      return sql`${raw(col)} LIKE ${likePattern(value as string)}${raw(escape)}`;
    case 'ILIKE':
      return sql`LOWER(${raw(col)}) LIKE LOWER(${likePattern(value as string)})${raw(escape)}`;
    case 'IN':
      return strIn(mysql, col, value as readonly string[]);
    case 'NOT IN':
      return sql`NOT (${strIn(mysql, col, value as readonly string[])})`;
  }
}

/** A lone trailing escape character stands for itself (MySQL's reading; SQLite would match nothing). */
function likePattern(pattern: string): string {
  const trailing = /\\*$/.exec(pattern)![0].length;
  return trailing % 2 === 1 ? pattern + '\\' : pattern;
}

export function strEq(mysql: boolean, col: string, value: string): Frag {
  const c = raw(col);
  if (!mysql) return sql`${c} = ${value}`;
  return sql`${c} = ${value} AND CAST(${c} AS BINARY) = CAST(${value} AS BINARY)`;
}

function strIn(mysql: boolean, col: string, values: readonly string[]): Frag {
  const c = raw(col);
  const list = joinFrags(values.map(bind), ', ');
  if (!mysql) return sql`${c} IN (${list})`;
  const binList = joinFrags(values.map((v) => sql`CAST(${v} AS BINARY)`), ', ');
  return sql`${c} IN (${list}) AND CAST(${c} AS BINARY) IN (${binList})`;
}

/** A string sort key expression (see the max_sort_length note above). */
export const sortStr = (mysql: boolean, expr: string): string => (mysql ? `LEFT(${expr}, 256)` : expr);

// ---------------------------------------------------------------------------------------------
// Keyset pagination

/**
 * One ORDER BY term. Every term is a non-null expression, so the seek predicate needs no NULL
 * handling. `flag` terms are small integers (has-value / NaN / missing), `int` are int64 columns
 * (kept as decimal text in the token), `num` doubles, `str` strings.
 */
export interface SortTerm {
  expr: Frag;
  type: SortKeyType;
  desc: boolean;
}

function valueFrag(mysql: boolean, term: SortTerm, v: SortValue): Frag {
  switch (term.type) {
    case 'flag':
    case 'int':
      return raw(String(v)); // validated integer text
    case 'num':
      return dbl(mysql, v as number);
    case 'str':
      return bind(v);
  }
}

/**
 * Rows strictly after `values` in the order of `terms`, expanded portably (no row-value syntax):
 *   t1 >> v1 OR (t1 = v1 AND t2 >> v2) OR ...      (>> is > for ASC, < for DESC)
 * plus a redundant `t1 >=/<= v1` in front that lets an index on the first term bound the scan.
 */
export function seekAfter(mysql: boolean, terms: readonly SortTerm[], values: readonly SortValue[]): Frag {
  const disjuncts: Frag[] = [];
  for (let k = 0; k < terms.length; k++) {
    const parts: Frag[] = [];
    for (let i = 0; i < k; i++) parts.push(sql`${terms[i]!.expr} = ${valueFrag(mysql, terms[i]!, values[i]!)}`);
    const t = terms[k]!;
    parts.push(sql`${t.expr} ${raw(t.desc ? '<' : '>')} ${valueFrag(mysql, t, values[k]!)}`);
    disjuncts.push(and(parts));
  }
  const first = terms[0]!;
  const bound = sql`${first.expr} ${raw(first.desc ? '<=' : '>=')} ${valueFrag(mysql, first, values[0]!)}`;
  return and([bound, or(disjuncts)]);
}

/** The sort-key values of a result row (selected as k0, k1, ...), normalised for the token. */
export function rowSortValues(terms: readonly SortTerm[], row: Record<string, unknown>): SortValue[] {
  return terms.map((t, i) => {
    const v = row[`k${i}`];
    switch (t.type) {
      case 'flag':
        return Number(v);
      case 'int':
        return typeof v === 'bigint' ? v.toString() : String(v);
      case 'num':
        return Number(v);
      case 'str':
        return String(v);
    }
  });
}

export const selectSortKeys = (terms: readonly SortTerm[]): Frag =>
  joinFrags(terms.map((t, i) => sql`${t.expr} AS ${raw(`k${i}`)}`), ', ');

export const orderByKeys = (terms: readonly SortTerm[]): string =>
  terms.map((t, i) => `k${i} ${t.desc ? 'DESC' : 'ASC'}`).join(', ');

/** The cursor a page token carries, checked against this query's kind, ordering and sort terms; null without one. */
export function pageCursor(token: string | undefined, kind: KeysetKind, signature: string, terms: readonly SortTerm[]): SortValue[] | null {
  return token ? decodeKeysetToken(token, kind, signature, terms.map((t) => t.type)) : null;
}

/**
 * The page of a query that fetched up to `max + 1` rows (`id` and the sort keys k0, k1, …): the first `max` ids,
 * and a token after the last of them when the extra row exists (no token for a page that ends the results).
 */
export function keysetPage(
  rows: readonly Record<string, unknown>[],
  max: number,
  kind: KeysetKind,
  signature: string,
  terms: readonly SortTerm[],
): { ids: number[]; nextPageToken?: string } {
  const page = rows.slice(0, max);
  const ids = page.map((row) => Number(row.id));
  if (rows.length <= max) return { ids };
  return { ids, nextPageToken: encodeKeysetToken(kind, signature, rowSortValues(terms, page[page.length - 1]!)) };
}
