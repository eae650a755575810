/**
 * One row type per table, as the drivers return it (matching db/migrations/). Queries name theirs, as Backstage's
 * catalog does: `trx<DbRunRow>('runs')`. (Not knex's global `Tables` registry: that would also type the tests' and
 * benchmarks' fixture inserts, which write plain numbers where these types want an ExperimentKey.)
 *
 * Reading a column:
 * - BIGINT (`DbInt64`) arrives as a number while exact, beyond 2^53 as a BigInt (SQLite) or a digit string (mysql2):
 *   decode it with `int64Col` (core/codecs.ts);
 * - BOOLEAN (`DbBool`) arrives as 0/1 on both;
 * - an aliased or joined query (`'runs as r'`, `.join(...)`) names its result row in the repository (e.g. RunRow's
 *   RUN_COLUMNS) and decodes it there.
 *
 * The two meanings of "experiment_id" are two types: `ExperimentKey` is the internal key experiments.id that
 * every other table refers to (runs.experiment_id, datasets.experiment_id, …); `ExperimentNumber` is MLflow's
 * experiment id, experiments.experiment_id, numbered per project ("0" is Default), a string on the wire.
 */
import type { LifecycleStage, RunStatus } from '../core/entities.ts';
import type { Int64 } from '../core/codecs.ts';

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** experiments.id: the internal key other tables refer to. Never on the wire. */
export type ExperimentKey = Brand<number, 'ExperimentKey'>;
/** experiments.experiment_id: MLflow's experiment id, the per-project number; on the wire as its decimal string. */
export type ExperimentNumber = Brand<number, 'ExperimentNumber'>;

/** A BIGINT column as read; decode with int64Col. Written as a number or a digit string (int64Bind). */
export type DbInt64 = number | bigint | string;
/** A BOOLEAN column: 0/1 as read, a boolean or 0/1 written. */
export type DbBool = number | boolean;

/** A row with the named BIGINT columns decoded by int64Col: what the repositories hand out (RunRow, …). */
export type Decoded<Row, Cols extends keyof Row> = Omit<Row, Cols> & { [K in Cols]: null extends Row[K] ? Int64 | null : Int64 };

export interface DbUserRow {
  id: number;
  username: string;
  name: string;
  email: string | null;
  is_admin: DbBool;
  created_at: DbInt64;
}

export interface DbProjectRow {
  id: number;
  path: string;
  name: string;
  visibility: string;
  /** The last ExperimentNumber handed out in this project. */
  last_experiment_iid: number;
  created_at: DbInt64;
}

export interface DbProjectMemberRow {
  project_id: number;
  user_id: number;
  access_level: number;
}

export interface DbAccessTokenRow {
  id: number;
  user_id: number;
  name: string;
  token_digest: string;
  scopes: string;
  expires_at: DbInt64 | null;
  revoked_at: DbInt64 | null;
  last_used_at: DbInt64 | null;
  created_at: DbInt64;
}

export interface DbExperimentRow {
  id: ExperimentKey;
  project_id: number;
  experiment_id: ExperimentNumber;
  name: string;
  artifact_location: string;
  lifecycle_stage: LifecycleStage;
  creation_time: DbInt64;
  last_update_time: DbInt64;
  deleted_time: DbInt64 | null;
  creator_id: number | null;
}

/** Key/value rows owned by one parent (experiment_tags, params, tags, logged_model_tags, …). */
export interface DbKeyValueRow {
  key: string;
  value: string;
}
export interface DbExperimentTagRow extends DbKeyValueRow {
  experiment_id: ExperimentKey;
}
export interface DbRunKeyValueRow extends DbKeyValueRow {
  run_id: number;
}
/** logged_model_tags, logged_model_params (logged_models.id) and registered_model_tags (registered_models.id). */
export interface DbModelKeyValueRow extends DbKeyValueRow {
  model_id: number;
}
export interface DbModelVersionTagRow extends DbKeyValueRow {
  version_id: number;
}

export interface DbRunRow {
  id: number;
  run_uuid: string;
  project_id: number;
  experiment_id: ExperimentKey;
  name: string;
  user_id: string;
  creator_id: number | null;
  status: RunStatus;
  start_time: DbInt64;
  end_time: DbInt64 | null;
  lifecycle_stage: LifecycleStage;
  deleted_time: DbInt64 | null;
  artifact_uri: string;
}

export interface DbMetricRow {
  run_id: number;
  key: string;
  timestamp: DbInt64;
  step: DbInt64;
  value: number;
  is_nan: DbBool;
}

export interface DbLatestMetricRow extends DbMetricRow {
  /** The run's experiment (migration 004); null only on rows written before it. */
  experiment_id: ExperimentKey | null;
}

export interface DbDatasetRow {
  id: number;
  experiment_id: ExperimentKey;
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema: string | null;
  profile: string | null;
}

export interface DbRunInputRow {
  run_id: number;
  dataset_id: number;
}

export interface DbInputTagRow {
  run_id: number;
  dataset_id: number;
  key: string;
  value: string;
}

export interface DbLoggedModelRow {
  id: number;
  model_id: string;
  project_id: number;
  experiment_id: ExperimentKey;
  name: string;
  artifact_location: string;
  status: 'PENDING' | 'READY' | 'FAILED';
  status_message: string | null;
  creation_time: DbInt64;
  last_updated_time: DbInt64;
  source_run_id: string | null;
  model_type: string | null;
  lifecycle_stage: LifecycleStage;
  deleted_time: DbInt64 | null;
  creator_id: number | null;
}

export interface DbRegisteredModelRow {
  id: number;
  project_id: number;
  name: string;
  description: string | null;
  creation_time: DbInt64;
  last_updated_time: DbInt64;
  next_version: number;
  creator_id: number | null;
}

export interface DbModelVersionRow {
  id: number;
  /** registered_models.id */
  model_id: number;
  version: number;
  creation_time: DbInt64;
  last_updated_time: DbInt64;
  description: string | null;
  user_id: string | null;
  current_stage: string;
  source: string;
  storage_location: string | null;
  run_id: string | null;
  run_link: string | null;
  status: string;
  status_message: string | null;
  logged_model_id: string | null;
  creator_id: number | null;
}

export interface DbRegisteredModelAliasRow {
  model_id: number;
  alias: string;
  version: number;
}
