import { z } from 'zod';
import { agree, int64Out, keyValue, requiredString, type Same } from './schemas.ts';
import type { ModelVersion, RegisteredModel } from '../core/entities.ts';

/** Wire shapes of the model registry (model_registry.proto), as MLflow's server emits them. */

/** A version number: a string on the wire, read with Python's int() by the rules (parseVersion). */
export const versionString = requiredString;

export const modelVersionOut = z.object({
  name: z.string(),
  version: z.string(),
  creation_timestamp: int64Out,
  last_updated_timestamp: int64Out,
  current_stage: z.string(),
  description: z.string().optional(),
  source: z.string(),
  run_id: z.string(),
  // always emitted: the proto default is PENDING_REGISTRATION, which makes clients poll for 5 minutes
  status: z.enum(['READY', 'PENDING_REGISTRATION', 'FAILED_REGISTRATION']),
  status_message: z.string().optional(),
  run_link: z.string(),
  tags: z.array(keyValue).optional(),
  aliases: z.array(z.string()).optional(),
  model_id: z.string().optional(),
});

export const registeredModelOut = z.object({
  name: z.string(),
  creation_timestamp: int64Out,
  last_updated_timestamp: int64Out,
  description: z.string().optional(),
  latest_versions: z.array(modelVersionOut).optional(),
  tags: z.array(keyValue).optional(),
  aliases: z.array(z.object({ alias: z.string(), version: z.string() })).optional(),
});

// checked against the entities the repositories return, both ways (see schemas.ts)
agree<Same<z.output<typeof modelVersionOut>, ModelVersion>>();
agree<Same<z.output<typeof registeredModelOut>, RegisteredModel>>();
