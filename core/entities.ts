/**
 * MLflow's entities as mltrack's repositories return them (service.proto's shapes, which the wire shares),
 * and the enumerations every layer names. The bottom layer: imports nothing of mltrack but the codecs.
 * `routers/schemas.ts` holds the zod schemas of the same shapes and checks at compile time that they agree.
 */
import type { Int64, MetricWireValue } from './codecs.ts';

export const RUN_STATUSES = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const LIFECYCLE_STAGES = ['active', 'deleted'] as const;
export type LifecycleStage = (typeof LIFECYCLE_STAGES)[number];

/** MLflow's ViewType: which lifecycle stages a search or list returns. */
export const VIEW_TYPES = ['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL'] as const;
export type ViewType = (typeof VIEW_TYPES)[number];

export function lifecycleStages(viewType: ViewType): LifecycleStage[] {
  switch (viewType) {
    case 'ACTIVE_ONLY':
      return ['active'];
    case 'DELETED_ONLY':
      return ['deleted'];
    case 'ALL':
      return ['active', 'deleted'];
    default:
      throw new Error(`unknown view type ${String(viewType)}`);
  }
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface Experiment {
  /** MLflow's experiment_id: the per-project number, as a string */
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: LifecycleStage;
  last_update_time: Int64;
  creation_time: Int64;
  tags?: KeyValue[];
}

export interface Metric {
  key: string;
  value: MetricWireValue;
  timestamp: Int64;
  step: Int64;
}

export interface RunInfo {
  run_id: string;
  run_uuid: string;
  run_name: string;
  /** MLflow's experiment_id: the per-project number, as a string */
  experiment_id: string;
  user_id: string;
  status: RunStatus;
  start_time: Int64;
  end_time?: Int64;
  artifact_uri: string;
  lifecycle_stage: LifecycleStage;
}

export interface Dataset {
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema?: string;
  profile?: string;
}

export interface DatasetInput {
  tags?: KeyValue[];
  dataset: Dataset;
}

export interface Run {
  info: RunInfo;
  data: { metrics?: Metric[]; params?: KeyValue[]; tags?: KeyValue[] };
  inputs: { dataset_inputs?: DatasetInput[] };
  outputs: Record<string, never>;
}

/** model_registry.proto's ModelVersion, as MLflow's server emits it (shared/reference/model-registry.md §2). */
export interface ModelVersion {
  name: string;
  /** the per-model number, as a string */
  version: string;
  creation_timestamp: Int64;
  last_updated_timestamp: Int64;
  current_stage: string;
  description?: string;
  source: string;
  run_id: string;
  status: 'READY' | 'PENDING_REGISTRATION' | 'FAILED_REGISTRATION';
  status_message?: string;
  run_link: string;
  tags?: KeyValue[];
  aliases?: string[];
  /** MLflow 3: the logged model the version was registered from */
  model_id?: string;
}

export interface RegisteredModelAlias {
  alias: string;
  version: string;
}

export interface RegisteredModel {
  name: string;
  creation_timestamp: Int64;
  last_updated_timestamp: Int64;
  description?: string;
  latest_versions?: ModelVersion[];
  tags?: KeyValue[];
  aliases?: RegisteredModelAlias[];
}
