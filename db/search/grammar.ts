/**
 * One MLflow filter grammar, a vocabulary per entity (as MLflow's `SearchUtils` has a subclass per entity).
 *
 * The scanner (db/search/scanner.ts) turns a filter into raw `identifier comparator value` clauses; a vocabulary
 * turns each raw clause into that entity's typed clause, or a 400 worded the way MLflow words it. The vocabularies:
 *   db/search/filter-runs.ts           runs/search            (metrics, params, tags, attributes, datasets)
 *   db/search/filter-experiments.ts    experiments/search     (name, timestamps, tags)
 *   db/search/filter-logged-models.ts  logged-models/search   (attributes, tags, params; its own error wording)
 *   db/search/filter-registry.ts       registered-models/search, model-versions/search
 *
 * Adding one (filter-experiments.ts is the smallest to copy):
 *   1. a file db/search/filter-<entity>.ts with the clause type (a union of `{ kind, key, op, value }`),
 *   2. a `Vocabulary<Clause>`: its `clause(raw)` resolves the entity prefix with `splitIdentifier`, checks the
 *      comparator with `requireComparator` and the value with `requireString` / `requireNumber` / `requireList`,
 *   3. `export const parseXFilter = (f) => parseFilter(xVocabulary, f)`, re-exported from db/search/parse.ts,
 *   4. (order_by strings) map `scanOrderBy(clause)` to the entity's sort keys; `duplicateGuard` gives the wording,
 *   5. the SQL in db/search/<entity>.ts; keyset paging with `pageCursor` / `keysetPage` (sql.ts) and a new
 *      `KeysetKind` (core/page-token.ts), so a token of one search is refused by another.
 * A `dialect` is only for a grammar whose accepted syntax or syntax-error wording differs from MLflow's default.
 */
import { invalidParam } from '../../core/errors.ts';
import {
  MLFLOW_DIALECT,
  scanClauses,
  setText,
  listText,
  type Comparator,
  type Dialect,
  type NumberLiteral,
  type RawClause,
  type ValueToken,
} from './scanner.ts';

export interface Vocabulary<Clause> {
  /** Accepted syntax and syntax-error wording; MLflow's SearchUtils by default. */
  dialect?: Dialect;
  /** One raw clause as this entity's clause; throws a 400 for an unknown key, comparator or value type. */
  clause(raw: RawClause): Clause;
}

/** Parses a filter string with a vocabulary; empty/absent/blank ⇒ no clauses. */
export function parseFilter<Clause>(vocabulary: Vocabulary<Clause>, filter: string | undefined | null): Clause[] {
  if (!filter) return [];
  return scanClauses(filter, vocabulary.dialect ?? MLFLOW_DIALECT).map((c) => vocabulary.clause(c));
}

export const NUMERIC_OPS: readonly Comparator[] = ['=', '!=', '>', '>=', '<', '<='];
export const STRING_OPS: readonly Comparator[] = ['=', '!=', 'LIKE', 'ILIKE'];
export const STRING_LIST_OPS: readonly Comparator[] = ['=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'];

/** `table[key]` when `key` is one of the table's own keys (never a prototype property), else undefined. */
export const lookup = <V>(table: Record<string, V>, key: string): V | undefined => (Object.hasOwn(table, key) ? table[key] : undefined);

export function requireComparator(op: Comparator, valid: readonly Comparator[], what: string): void {
  if (!valid.includes(op)) throw invalidParam(`Invalid comparator '${op}' for ${what}; not one of '${setText(valid)}'`);
}

export function requireNumber(v: ValueToken, what: string): NumberLiteral {
  if (v.type !== 'number') throw invalidParam(`Expected numeric value type for ${what}. Found ${v.raw}`);
  return v.literal;
}

export function requireString(v: ValueToken, what: string): string {
  if (v.type === 'string') return v.value;
  if (v.type === 'bare') {
    throw invalidParam(
      `Parameter value is either not quoted or unidentified quote types used for string value ${v.raw}. Use either single or double quotes.`,
    );
  }
  throw invalidParam(`Expected a quoted string value for ${what} (e.g. 'my-value'). Got value ${v.raw}`);
}

export function requireList(v: ValueToken, op: Comparator, what: string): string[] {
  if (v.type !== 'list') {
    throw invalidParam(`Expected a list of quoted string values for ${what} with comparator '${op}', e.g. ('a', 'b'). Got value ${v.raw}`);
  }
  return v.values;
}

/** order_by lists name each field once (after alias resolution): call the guard with each field's canonical name. */
export function duplicateGuard(list: readonly string[]): (id: string) => void {
  const seen = new Set<string>();
  return (id) => {
    if (seen.has(id)) throw invalidParam(`\`order_by\` contains duplicate fields: ${listText(list)}`);
    seen.add(id);
  };
}
