/**
 * MLflow's search grammar (reference: docs §6, mlflow/utils/search_utils.py), the public entry: one scanner
 * (scanner.ts) and a vocabulary per entity (filter-*.ts) plugged into it (grammar.ts says how to add one).
 * Everything invalid becomes a 400 INVALID_PARAMETER_VALUE whose message names the problem the way MLflow's does.
 */
export { MAX_FILTER_CLAUSES, MAX_FILTER_LIST_VALUES, MAX_ORDER_BY_FIELDS } from './scanner.ts';
export type { Comparator, ListOp, NumberLiteral, NumericOp, StringOp } from './scanner.ts';
export { parseRunFilter, parseRunOrderBy } from './filter-runs.ts';
export type { DatasetKey, RunAttribute, RunClause, RunNumericAttribute, RunOrderBy, RunStringAttribute } from './filter-runs.ts';
export { parseExperimentFilter, parseExperimentOrderBy } from './filter-experiments.ts';
export type { ExperimentClause, ExperimentNumericAttribute, ExperimentOrderBy, ExperimentOrderKey } from './filter-experiments.ts';
export { parseLoggedModelFilter, parseLoggedModelOrder } from './filter-logged-models.ts';
export type { LoggedModelAttribute, LoggedModelClause, LoggedModelOrder } from './filter-logged-models.ts';
export {
  parseModelVersionFilter,
  parseModelVersionOrderBy,
  parseRegisteredModelFilter,
  parseRegisteredModelOrderBy,
} from './filter-registry.ts';
export type { ModelVersionClause, RegisteredModelClause, RegistryFilter, RegistryOrderBy } from './filter-registry.ts';
