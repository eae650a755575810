/**
 * The model registry's two vocabularies (MLflow's `SearchModelUtils` and `SearchModelVersionUtils`), on the one
 * scanner: registered models filter on `name` and tags; model versions on `name`, `run_id` (also `IN (...)`),
 * `source_path`, `version_number` (numeric) and tags. Both order_by grammars and their tie-breakers are here.
 * Messages: shared/reference/model-registry.md §4.
 *
 * The prompt clause: both clients append ``tag.`mlflow.prompt.is_prompt` != 'true'`` to every registered-model
 * search. A clause on that tag is taken out of the tag filter and says whether prompts are wanted (`= 'true'` or
 * `!= 'false'`: prompts only; anything else: no prompts); without one, prompts are excluded, as MLflow does.
 */
import { invalidParam } from '../../core/errors.ts';
import { listText, scanOrderBy, setText, splitIdentifier, type NumberLiteral, type NumericOp, type RawClause, type StringOp } from './scanner.ts';
import { NUMERIC_OPS, STRING_OPS, duplicateGuard, lookup, parseFilter, requireComparator, requireNumber, requireString, type Vocabulary } from './grammar.ts';

export const PROMPT_TAG = 'mlflow.prompt.is_prompt';

export type RegistryTagClause = { kind: 'tag'; key: string; op: StringOp; value: string };
export type RegisteredModelClause = { kind: 'attribute'; key: 'name'; op: StringOp; value: string } | RegistryTagClause;
export type ModelVersionClause =
  | { kind: 'attribute'; key: 'name' | 'run_id' | 'source_path'; op: StringOp; value: string }
  | { kind: 'attribute'; key: 'run_id'; op: 'IN'; value: string[] }
  | { kind: 'attribute'; key: 'version_number'; op: NumericOp; value: NumberLiteral }
  | RegistryTagClause;

/** A parsed registry filter: the clauses, and whether the search wants prompts (MLflow's prompt exclusion). */
export interface RegistryFilter<C> {
  clauses: C[];
  prompts: boolean;
}

const ENTITIES: Record<string, 'attribute' | 'tag'> = { attribute: 'attribute', tag: 'tag', tags: 'tag' };

function entityOf(name: string | null): 'attribute' | 'tag' {
  if (name === null) return 'attribute';
  const e = lookup(ENTITIES, name);
  if (!e) throw invalidParam(`Invalid entity type '${name}'. Valid entity types are ('attribute', 'tag', 'tags')`);
  return e;
}

function tagClause(c: RawClause, key: string): RegistryTagClause {
  requireComparator(c.op, STRING_OPS, 'tag');
  if (c.value.type === 'list') throw invalidParam(`Expected a quoted string value for tag '${key}'. Got value ${c.value.raw}`);
  return { kind: 'tag', key, op: c.op as StringOp, value: requireString(c.value, 'tag') };
}

/** A string attribute's value: quoted, never bare or a number. */
function quoted(c: RawClause): string {
  if (c.value.type !== 'string') {
    throw invalidParam(`Expected a quoted string value or a list of quoted string values for attributes. Got value ${c.value.raw}`);
  }
  return c.value.value;
}

const MODEL_ATTRIBUTES = ['name'] as const;

export const registeredModelVocabulary: Vocabulary<RegisteredModelClause> = {
  clause(c) {
    const { entity, key } = splitIdentifier(c.ident);
    if (entityOf(entity) === 'tag') return tagClause(c, key);
    if (key !== 'name') throw invalidParam(`Invalid attribute key '${key}' specified. Valid keys are '${setText(MODEL_ATTRIBUTES)}'`);
    if (!STRING_OPS.includes(c.op)) throw invalidParam(`Invalid comparator for attribute: ${c.op}`);
    return { kind: 'attribute', key: 'name', op: c.op as StringOp, value: quoted(c) };
  },
};

const VERSION_ATTRIBUTES = ['name', 'run_id', 'source_path', 'version_number'] as const;

export const modelVersionVocabulary: Vocabulary<ModelVersionClause> = {
  clause(c) {
    const { entity, key } = splitIdentifier(c.ident);
    if (entityOf(entity) === 'tag') return tagClause(c, key);
    if (!(VERSION_ATTRIBUTES as readonly string[]).includes(key)) {
      throw invalidParam(`Invalid attribute key '${key}' specified. Valid keys are '${setText(VERSION_ATTRIBUTES)}'`);
    }
    if (key === 'version_number') {
      requireComparator(c.op, NUMERIC_OPS, `numeric attribute '${key}'`);
      return { kind: 'attribute', key, op: c.op as NumericOp, value: requireNumber(c.value, `numeric attribute: ${key}`) };
    }
    if (c.op === 'IN' || c.value.type === 'list') {
      if (key !== 'run_id') throw invalidParam("Only the 'run_id' attribute supports comparison with a list of quoted string values.");
      if (c.op !== 'IN' || c.value.type !== 'list') throw invalidParam(`Invalid comparator for attribute: ${c.op}`);
      // MLflow keeps the values Python's str.islower() accepts: run ids are lower-case hex
      return { kind: 'attribute', key: 'run_id', op: 'IN', value: c.value.values.filter((v) => v !== v.toUpperCase() && v === v.toLowerCase()) };
    }
    if (!STRING_OPS.includes(c.op)) throw invalidParam(`Invalid comparator for attribute: ${c.op}`);
    return { kind: 'attribute', key: key as 'name' | 'run_id' | 'source_path', op: c.op as StringOp, value: quoted(c) };
  },
};

/** Takes the prompt clause out of the tag clauses and reads what it asks for. */
function withPromptRule<C extends { kind: string; key?: string }>(clauses: C[]): RegistryFilter<C> {
  let prompts = false;
  const rest: C[] = [];
  for (const c of clauses) {
    if (c.kind === 'tag' && c.key === PROMPT_TAG) {
      const t = c as unknown as RegistryTagClause;
      prompts = (t.op === '=' && t.value.toLowerCase() === 'true') || (t.op === '!=' && t.value.toLowerCase() === 'false');
    } else rest.push(c);
  }
  return { clauses: rest, prompts };
}

export const parseRegisteredModelFilter = (filter: string | undefined | null): RegistryFilter<RegisteredModelClause> =>
  withPromptRule(parseFilter(registeredModelVocabulary, filter));

export const parseModelVersionFilter = (filter: string | undefined | null): RegistryFilter<ModelVersionClause> =>
  withPromptRule(parseFilter(modelVersionVocabulary, filter));

// ---------------------------------------------------------------------------------------------
// order_by

export type RegisteredModelOrderKey = 'name' | 'last_updated_timestamp';
export type ModelVersionOrderKey = 'name' | 'version_number' | 'creation_timestamp' | 'last_updated_timestamp';
export interface RegistryOrderBy<K> {
  key: K;
  ascending: boolean;
}

/**
 * Registered models: `name`, `timestamp` and `last_updated_timestamp` (both the last update); `name ASC` ends the
 * list unless named. A key named twice is refused (MLflow answers 500 there).
 */
export function parseRegisteredModelOrderBy(list: readonly string[] | undefined | null): RegistryOrderBy<RegisteredModelOrderKey>[] {
  const out: RegistryOrderBy<RegisteredModelOrderKey>[] = [];
  const once = duplicateGuard(list ?? []);
  for (const clause of list ?? []) {
    const o = scanOrderBy(clause);
    const key = o.entity === null ? lookup<RegisteredModelOrderKey>({ name: 'name', timestamp: 'last_updated_timestamp', last_updated_timestamp: 'last_updated_timestamp' }, o.key) : undefined;
    if (!key) throw invalidParam(`Invalid order by key '${o.entity ? `${o.entity}.` : ''}${o.key}' specified. Valid keys are '${setText(['timestamp', 'name'])}'`);
    once(key);
    out.push({ key, ascending: o.ascending });
  }
  if (!out.some((o) => o.key === 'name')) out.push({ key: 'name', ascending: true });
  return out;
}

const VERSION_ORDER_KEYS: Record<string, ModelVersionOrderKey> = {
  name: 'name', version_number: 'version_number', creation_timestamp: 'creation_timestamp', last_updated_timestamp: 'last_updated_timestamp',
};

/**
 * Model versions: `name`, `version_number`, `creation_timestamp`, `last_updated_timestamp` (`attribute.` prefix
 * allowed). Default `last_updated_timestamp DESC`; `name ASC` then `version_number DESC` end the list unless named.
 */
export function parseModelVersionOrderBy(list: readonly string[] | undefined | null): RegistryOrderBy<ModelVersionOrderKey>[] {
  const given = list && list.length ? list : ['last_updated_timestamp DESC'];
  const once = duplicateGuard(given);
  const out: RegistryOrderBy<ModelVersionOrderKey>[] = [];
  for (const clause of given) {
    const o = scanOrderBy(clause);
    const key = o.entity === null || o.entity === 'attribute' ? lookup(VERSION_ORDER_KEYS, o.key) : undefined;
    if (!key) throw invalidParam(`Invalid order by key '${o.key}' specified. Valid keys are '${listText(Object.keys(VERSION_ORDER_KEYS))}'`);
    once(key);
    out.push({ key, ascending: o.ascending });
  }
  if (!out.some((o) => o.key === 'name')) out.push({ key: 'name', ascending: true });
  if (!out.some((o) => o.key === 'version_number')) out.push({ key: 'version_number', ascending: false });
  return out;
}
