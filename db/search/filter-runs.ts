/** The runs/search vocabulary: metrics, params, tags, attributes (with MLflow's aliases) and datasets. */
import { invalidParam } from '../../core/errors.ts';
import { MAX_ORDER_BY_FIELDS, listText, scanOrderBy, splitIdentifier, type ListOp, type NumberLiteral, type NumericOp, type RawClause, type StringOp } from './scanner.ts';
import {
  NUMERIC_OPS,
  STRING_LIST_OPS,
  STRING_OPS,
  duplicateGuard,
  lookup,
  parseFilter,
  requireComparator,
  requireList,
  requireNumber,
  requireString,
  type Vocabulary,
} from './grammar.ts';

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

type RunEntity = 'metric' | 'param' | 'tag' | 'attribute' | 'dataset';
const RUN_ENTITIES: Record<string, RunEntity> = {
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

function runEntity(name: string, raw: string): RunEntity {
  const e = lookup(RUN_ENTITIES, name);
  if (!e) throw invalidParam(`Invalid entity type '${name}' in '${raw}'. Valid values are ${RUN_ENTITY_NAMES}`);
  return e;
}

function runAttribute(key: string, table: Record<string, RunAttribute>): RunAttribute {
  const a = lookup(table, key);
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

export const runVocabulary: Vocabulary<RunClause> = { clause: runClause };

/** Parses a runs filter string; empty/absent ⇒ no clauses. */
export const parseRunFilter = (filter: string | undefined | null): RunClause[] => parseFilter(runVocabulary, filter);

/** Parses runs order_by clauses; duplicates (after alias resolution) are rejected. */
export function parseRunOrderBy(list: readonly string[] | undefined | null): RunOrderBy[] {
  if (!list || list.length === 0) return [];
  if (list.length > MAX_ORDER_BY_FIELDS) throw invalidParam(`\`order_by\` may contain at most ${MAX_ORDER_BY_FIELDS} fields, got ${list.length}`);
  const once = duplicateGuard(list);
  return list.map((clause) => {
    const o = scanOrderBy(clause);
    const kind = o.entity === null ? 'attribute' : runEntity(o.entity, clause);
    let parsed: RunOrderBy;
    if (kind === 'dataset') throw invalidParam(`Invalid order_by entity type 'dataset' in '${clause}'. Valid types are metric, param, tag and attribute`);
    if (kind === 'attribute') parsed = { kind, key: runAttribute(o.key, RUN_ORDER_ATTRIBUTES), ascending: o.ascending };
    else parsed = { kind, key: o.key, ascending: o.ascending };
    once(`${parsed.kind}\u0000${parsed.key}`);
    return parsed;
  });
}
