/** The experiments/search vocabulary: name, creation_time, last_update_time and tags. */
import { invalidParam } from '../../core/errors.ts';
import { listText, scanOrderBy, splitIdentifier, type NumberLiteral, type NumericOp, type RawClause, type StringOp } from './scanner.ts';
import { NUMERIC_OPS, STRING_OPS, duplicateGuard, lookup, parseFilter, requireComparator, requireNumber, requireString, type Vocabulary } from './grammar.ts';

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

const EXPERIMENT_FILTER_ATTRIBUTES = ['name', 'creation_time', 'last_update_time'] as const;
const EXPERIMENT_ORDER_ATTRIBUTES = ['name', 'experiment_id', 'creation_time', 'last_update_time'] as const;
const EXPERIMENT_ENTITIES: Record<string, 'attribute' | 'tag'> = { attribute: 'attribute', tag: 'tag', tags: 'tag' };

function experimentEntity(name: string): 'attribute' | 'tag' {
  const e = lookup(EXPERIMENT_ENTITIES, name);
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
    requireComparator(op, STRING_OPS, "string attribute 'name'");
    return { kind, key, op: op as StringOp, value: requireString(value, 'attributes') };
  }
  requireComparator(op, NUMERIC_OPS, `numeric attribute '${key}'`);
  return { kind, key: key as ExperimentNumericAttribute, op: op as NumericOp, value: requireNumber(value, `numeric attribute: ${key}`) };
}

export const experimentVocabulary: Vocabulary<ExperimentClause> = { clause: experimentClause };

/** Parses an experiments filter string; empty/absent ⇒ no clauses. */
export const parseExperimentFilter = (filter: string | undefined | null): ExperimentClause[] => parseFilter(experimentVocabulary, filter);

/** Parses experiments order_by clauses; duplicates are rejected. */
export function parseExperimentOrderBy(list: readonly string[] | undefined | null): ExperimentOrderBy[] {
  if (!list || list.length === 0) return [];
  const once = duplicateGuard(list);
  return list.map((clause) => {
    const o = scanOrderBy(clause);
    const kind = o.entity === null ? 'attribute' : experimentEntity(o.entity);
    if (kind !== 'attribute') throw invalidParam(`Invalid order_by entity: ${kind}`);
    if (!(EXPERIMENT_ORDER_ATTRIBUTES as readonly string[]).includes(o.key)) {
      throw invalidParam(`Invalid attribute key '${o.key}' specified. Valid keys are '${listText(EXPERIMENT_ORDER_ATTRIBUTES)}'`);
    }
    once(o.key);
    return { kind, key: o.key as ExperimentOrderKey, ascending: o.ascending };
  });
}
