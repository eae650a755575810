/**
 * registered-models/search and model-versions/search in SQL, keyset-paged like runs and experiments (sql.ts). A
 * model's name is unique in its project and (name, version) unique among versions, so `name` (and then
 * `version_number`) always ends the sort key and a page boundary never splits ties. Tag clauses require the tag
 * (`!=` included), as MLflow's do. Deleted versions are never returned; prompts only when the filter asks.
 */
import type { Knex } from 'knex';
import { isMysql } from '../knex.ts';
import { STAGE_DELETED } from '../../core/registry-rules.ts';
import { sortSignature } from '../../core/page-token.ts';
import {
  PROMPT_TAG,
  parseModelVersionFilter,
  parseModelVersionOrderBy,
  parseRegisteredModelFilter,
  parseRegisteredModelOrderBy,
  type ModelVersionClause,
  type RegisteredModelClause,
  type RegistryTagClause,
} from './filter-registry.ts';
import { and, intOrDouble, keysetPage, orderByKeys, pageCursor, raw, seekAfter, selectRows, selectSortKeys, sortStr, sql, strCmp, strEq, type Frag, type SortTerm } from './sql.ts';

export interface RegistrySearchQuery {
  projectId: number;
  filter?: string;
  orderBy?: string[];
  /** validated by the caller */
  maxResults: number;
  pageToken?: string;
}

export interface RegistrySearchResult {
  /** internal ids (registered_models.id or model_versions.id), in page order */
  ids: number[];
  nextPageToken?: string;
}

function tagFrag(mysql: boolean, table: string, owner: string, c: RegistryTagClause): Frag {
  return sql`EXISTS (SELECT 1 FROM ${raw(table)} f WHERE f.${raw(owner)} AND ${strEq(mysql, 'f.key', c.key)} AND ${strCmp(mysql, 'f.value', c.op, c.value)})`;
}

/** Prompts (models tagged mlflow.prompt.is_prompt = 'true') are in the results only when asked for. */
function promptFrag(mysql: boolean, modelIdExpr: string, prompts: boolean): Frag {
  const isPrompt = sql`EXISTS (SELECT 1 FROM registered_model_tags p WHERE p.model_id = ${raw(modelIdExpr)} AND ${strEq(mysql, 'p.key', PROMPT_TAG)} AND LOWER(p.value) = 'true')`;
  return prompts ? isPrompt : sql`NOT ${isPrompt}`;
}

async function page(
  db: Knex,
  kind: 'registered-models' | 'model-versions',
  from: string,
  where: Frag[],
  terms: SortTerm[],
  q: RegistrySearchQuery,
  signature: string,
): Promise<RegistrySearchResult> {
  const mysql = isMysql(db);
  const after = pageCursor(q.pageToken, kind, signature, terms);
  if (after) where.push(seekAfter(mysql, terms, after));
  const query = sql`SELECT x.id AS id, ${selectSortKeys(terms)} FROM ${raw(from)} WHERE ${and(where)} ORDER BY ${raw(orderByKeys(terms))} LIMIT ${raw(String(q.maxResults + 1))}`;
  const rows = await selectRows<Record<string, unknown>>(db, query);
  return keysetPage(rows, q.maxResults, kind, signature, terms);
}

export async function searchRegisteredModels(db: Knex, q: RegistrySearchQuery): Promise<RegistrySearchResult> {
  const mysql = isMysql(db);
  const filter = parseRegisteredModelFilter(q.filter);
  const orderBy = parseRegisteredModelOrderBy(q.orderBy);
  const terms: SortTerm[] = [];
  for (const o of orderBy) {
    const desc = !o.ascending;
    if (o.key === 'name') {
      terms.push({ expr: raw(sortStr(mysql, 'x.name')), type: 'str', desc });
      break; // unique in the project: later keys never matter
    }
    terms.push({ expr: raw('x.last_updated_time'), type: 'int', desc });
  }
  const clause = (c: RegisteredModelClause): Frag =>
    c.kind === 'tag' ? tagFrag(mysql, 'registered_model_tags', 'model_id = x.id', c) : strCmp(mysql, 'x.name', c.op, c.value);
  const where = [sql`x.project_id = ${q.projectId}`, promptFrag(mysql, 'x.id', filter.prompts), ...filter.clauses.map(clause)];
  const signature = sortSignature(['registered-models', orderBy.map((o) => [o.key, o.ascending])]);
  return page(db, 'registered-models', 'registered_models x', where, terms, q, signature);
}

const VERSION_COLUMN = { name: 'm.name', run_id: 'x.run_id', source_path: 'x.source' } as const;

export async function searchModelVersions(db: Knex, q: RegistrySearchQuery): Promise<RegistrySearchResult> {
  const mysql = isMysql(db);
  const filter = parseModelVersionFilter(q.filter);
  const orderBy = parseModelVersionOrderBy(q.orderBy);
  const terms: SortTerm[] = [];
  for (const o of orderBy) {
    const desc = !o.ascending;
    if (o.key === 'name') terms.push({ expr: raw(sortStr(mysql, 'm.name')), type: 'str', desc });
    else if (o.key === 'version_number') terms.push({ expr: raw('x.version'), type: 'int', desc });
    else terms.push({ expr: raw(o.key === 'creation_timestamp' ? 'x.creation_time' : 'x.last_updated_time'), type: 'int', desc });
  }
  const clause = (c: ModelVersionClause): Frag => {
    if (c.kind === 'tag') return tagFrag(mysql, 'model_version_tags', 'version_id = x.id', c);
    if (c.key === 'version_number') return sql`x.version ${raw(c.op === '!=' ? '<>' : c.op)} ${intOrDouble(mysql, c.value)}`;
    if (c.op === 'IN') return c.value.length ? strCmp(mysql, 'x.run_id', 'IN', c.value) : raw('1 = 0');
    return strCmp(mysql, VERSION_COLUMN[c.key], c.op, c.value);
  };
  const where = [
    sql`m.project_id = ${q.projectId}`,
    sql`x.current_stage <> ${STAGE_DELETED}`,
    promptFrag(mysql, 'm.id', filter.prompts),
    ...filter.clauses.map(clause),
  ];
  const signature = sortSignature(['model-versions', orderBy.map((o) => [o.key, o.ascending])]);
  return page(db, 'model-versions', 'model_versions x JOIN registered_models m ON m.id = x.model_id', where, terms, q, signature);
}
