import { z } from 'zod';
import { INT64_MAX, INT64_MIN, NON_FINITE, toInt64, type Int64 } from '../core/codecs.ts';
import { LIFECYCLE_STAGES, RUN_STATUSES, VIEW_TYPES } from '../core/entities.ts';
import type { Experiment, Metric, Run, RunInfo } from '../core/entities.ts';

/**
 * Field types of the MLflow wire, shared by every procedure.
 * - ids are strings (numbers are accepted and stringified, as MLflow's parser does for experiment ids);
 * - int64 accepts a JSON number or a digit string and becomes a number, or a BigInt beyond 2^53;
 * - doubles accept numbers, numeric strings and "NaN"/"Infinity"/"-Infinity";
 * - unknown fields are dropped (zod objects strip by default).
 */


export const int64 = z
  .union([z.number().int(), z.string().regex(/^\s*-?\d+(\.0*)?\s*$/), z.bigint()])
  .transform((v, ctx) => {
    const s = typeof v === 'string' ? v.trim().replace(/\.0*$/, '') : v;
    if (typeof s === 'number' && !Number.isSafeInteger(s)) {
      // 1e20 and similar: beyond int64 or already rounded by the JSON layer
      if (Math.abs(s) > 9.2e18) {
        ctx.addIssue({ code: 'custom', message: 'value out of int64 range' });
        return z.NEVER;
      }
      return BigInt(s) as Int64;
    }
    const big = typeof s === 'number' ? BigInt(s) : BigInt(s);
    if (big < INT64_MIN || big > INT64_MAX) {
      ctx.addIssue({ code: 'custom', message: 'value out of int64 range' });
      return z.NEVER;
    }
    return toInt64(big);
  });

export const int64Out = z.union([z.number().int(), z.bigint()]);

export const int32 = z
  .union([z.number().int(), z.string().regex(/^\s*-?\d+\s*$/)])
  .transform((v) => (typeof v === 'number' ? v : Number(v.trim())))
  .pipe(z.number().int().min(-2147483648).max(2147483647));

export const double = z.union([z.number(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const t = v.trim();
  if (t === 'NaN') return NaN;
  if (t === 'Infinity' || t === 'inf' || t === '+Infinity') return Infinity;
  if (t === '-Infinity' || t === '-inf') return -Infinity;
  const n = t === '' ? NaN : Number(t);
  if (Number.isNaN(n)) {
    ctx.addIssue({ code: 'custom', message: 'not a number' });
    return z.NEVER;
  }
  return n;
});

export const doubleOut = z.union([z.number(), z.enum(NON_FINITE)]);

/** A string id; a JSON integer is accepted and stringified (only the canonical decimal then names an object). */
export const idString = z.union([z.string(), z.number().int()]).transform((v) => String(v));

/**
 * Required fields, as MLflow's `_assert_required` has them: absent, null and "" are all refused with
 * "Missing value for required parameter '<field>'" (core/error-map.ts words the zod failure). Required in the
 * OpenAPI document too. Fields are checked in the order the object lists them, which is MLflow's schema order.
 */
export const requiredString = z.string().min(1);
export const requiredId = idString.pipe(z.string().min(1));

/**
 * The input of a request that names a run: `run_id`, required and checked first as in MLflow's schemas, or
 * `run_uuid` from older clients, which MLflow reads when run_id is absent (or empty).
 */
export function runRequest<S extends z.ZodRawShape>(shape: S) {
  const schema = z.object({ run_id: requiredString, run_uuid: z.string().optional(), ...shape });
  const aliased = z.preprocess((v: unknown) => {
    const r = v as { run_id?: unknown; run_uuid?: unknown } | null;
    if (r === null || typeof r !== 'object' || r.run_id || typeof r.run_uuid !== 'string') return v;
    return { ...r, run_id: r.run_uuid };
  }, schema);
  // the typed client sees run_id as optional, since run_uuid may stand in for it
  return aliased as unknown as z.ZodType<z.output<typeof schema>, Omit<z.input<typeof schema>, 'run_id'> & { run_id?: string }>;
}

/** Booleans: JSON true/false, or 'true'/'false' in any case in query strings. */
export const bool = z.union([
  z.boolean(),
  z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(['true', 'false']))
    .transform((s) => s === 'true'),
]);

/** RunStatus by name or by its proto number. */
export const runStatus = z.union([
  z.enum(RUN_STATUSES),
  z.union([z.number().int(), z.string().regex(/^\d+$/)]).transform((v, ctx) => {
    const s = RUN_STATUSES[Number(v) - 1];
    if (!s) {
      ctx.addIssue({ code: 'custom', message: 'invalid run status' });
      return z.NEVER;
    }
    return s;
  }),
]);

export const viewType = z.union([
  z.enum(VIEW_TYPES),
  z.union([z.number().int(), z.string().regex(/^\d+$/)]).transform((v, ctx) => {
    const s = VIEW_TYPES[Number(v) - 1];
    if (!s) {
      ctx.addIssue({ code: 'custom', message: 'invalid view type' });
      return z.NEVER;
    }
    return s;
  }),
]);

export const keyValue = z.object({ key: z.string(), value: z.string() });
export const keyValueIn = z.object({ key: z.string(), value: z.string().optional().default('') });

export const empty = z.object({});

/** Output shapes of MLflow entities (service.proto). */
export const experimentOut = z.object({
  experiment_id: z.string(),
  name: z.string(),
  artifact_location: z.string(),
  lifecycle_stage: z.enum(LIFECYCLE_STAGES),
  last_update_time: int64Out,
  creation_time: int64Out,
  tags: z.array(keyValue).optional(),
});

export const metricOut = z.object({
  key: z.string(),
  value: doubleOut,
  timestamp: int64Out,
  step: int64Out,
});

export const runInfoOut = z.object({
  run_id: z.string(),
  run_uuid: z.string(),
  run_name: z.string(),
  experiment_id: z.string(),
  user_id: z.string(),
  status: z.enum(RUN_STATUSES),
  start_time: int64Out,
  end_time: int64Out.optional(),
  artifact_uri: z.string(),
  lifecycle_stage: z.enum(LIFECYCLE_STAGES),
});

export const datasetOut = z.object({
  name: z.string(),
  digest: z.string(),
  source_type: z.string(),
  source: z.string(),
  schema: z.string().optional(),
  profile: z.string().optional(),
});

export const runOut = z.object({
  info: runInfoOut,
  data: z.object({
    metrics: z.array(metricOut).optional(),
    params: z.array(keyValue).optional(),
    tags: z.array(keyValue).optional(),
  }),
  inputs: z.object({
    dataset_inputs: z.array(z.object({ tags: z.array(keyValue).optional(), dataset: datasetOut })).optional(),
  }),
  outputs: z.object({}),
});

/**
 * A boolean GET query parameter: 'true'/'false' (any case) on REST, and also a JSON boolean from the typed client.
 * A plain string schema underneath, so the OpenAPI generator (which refuses unions in query parameters) accepts it.
 */
export const queryBool = z.preprocess(
  (v) => (typeof v === 'boolean' ? String(v) : typeof v === 'string' ? v.toLowerCase() : v),
  z.enum(['true', 'false']).transform((s) => s === 'true'),
);

// The wire schemas above and the entities the repositories return (core/entities.ts) must agree: each pair is
// checked both ways at compile time, so a field added to one and not the other fails `npm run typecheck`.
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const agree = <T extends true>(..._: T[]) => undefined;
agree<Same<z.output<typeof experimentOut>, Experiment>>();
agree<Same<z.output<typeof metricOut>, Metric>>();
agree<Same<z.output<typeof runInfoOut>, RunInfo>>();
agree<Same<z.output<typeof runOut>, Run>>();

/**
 * `schema` (an array schema without checks: zod parses, words the errors and describes it in OpenAPI) with a fast
 * path at run time: `fast` answers the parsed array when every item is in the plain shape it knows, or undefined, and
 * zod then parses the whole input as before (so any input that is not plain gets zod's result and zod's errors).
 * Measured: zod's per-item object parse was ~0.5 ms of a 1000-point log-batch.
 */
export function withFastPath<T extends z.ZodArray<z.ZodType>>(schema: T, fast: (input: unknown[]) => z.output<T> | undefined): T {
  const inner = schema._zod;
  if (inner.run !== inner.parse) throw new Error('withFastPath: an array schema without checks');
  const slow = inner.parse;
  inner.run = inner.parse = (payload, ctx) => {
    if (ctx.direction !== 'backward' && Array.isArray(payload.value)) {
      const out = fast(payload.value);
      if (out !== undefined) {
        payload.value = out;
        return payload;
      }
    }
    return slow(payload, ctx);
  };
  return schema;
}

/**
 * The Metric items of a log-batch that `{key, value, timestamp, step?}` parses without a transform to speak of: a
 * non-empty string key, a finite JSON number value, safe-integer timestamp and step (absent: 0). What zod's metric
 * schema answers for them, in the parsed items themselves (an absent step set to 0, a -0 timestamp or step to 0, as
 * int64's BigInt round trip makes it; keys zod would drop are left, and nothing reads them); undefined for anything
 * else (strings for numbers, int64 beyond 2^53, nulls, missing fields), which zod then parses, before anything was
 * changed. Not copying the items: 1000 objects (~80 kB) fewer a 1000-point batch, alive for the whole request.
 */
export function plainMetrics(items: unknown[]): { key: string; value: number; timestamp: Int64; step: Int64 }[] | undefined {
  let fix = false;
  for (let i = 0; i < items.length; i++) {
    const m = items[i];
    if (m === null || typeof m !== 'object' || Array.isArray(m)) return undefined;
    const { key, value, timestamp, step } = m as Record<string, unknown>;
    if (typeof key !== 'string' || key === '' || typeof value !== 'number' || !Number.isFinite(value)) return undefined;
    if (!Number.isSafeInteger(timestamp) || (step !== undefined && !Number.isSafeInteger(step))) return undefined;
    if (step === undefined || Object.is(step, -0) || Object.is(timestamp, -0)) fix = true;
  }
  if (fix) {
    for (const item of items) {
      const m = item as { timestamp: number; step?: number };
      m.timestamp += 0;
      m.step = m.step === undefined ? 0 : m.step + 0;
    }
  }
  return items as { key: string; value: number; timestamp: Int64; step: Int64 }[];
}
