import { TRPCError } from '@trpc/server';
import { MlflowError, missingParam } from './errors.ts';

interface Issue {
  path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>;
  message?: string;
  code?: string;
  input?: unknown;
}

function issuePath(issue: Issue): string {
  let out = '';
  for (const seg of issue.path ?? []) {
    const k = typeof seg === 'object' && seg !== null ? (seg as { key: PropertyKey }).key : seg;
    out += typeof k === 'number' ? `[${k}]` : out ? `.${String(k)}` : String(k);
  }
  return out;
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function pyType(v: unknown): string {
  if (v === null) return 'NoneType';
  if (Array.isArray(v)) return 'list';
  switch (typeof v) {
    case 'string': return 'str';
    case 'number': return Number.isInteger(v) ? 'int' : 'float';
    case 'boolean': return 'bool';
    case 'object': return 'dict';
    default: return typeof v;
  }
}

/** A schema validation failure, worded as MLflow's request validation words it. */
export function validationError(issues: readonly Issue[], input: unknown): MlflowError {
  const issue = issues[0] ?? {};
  const path = issuePath(issue) || 'request';
  let value: unknown = input;
  for (const seg of issue.path ?? []) {
    const k = typeof seg === 'object' && seg !== null ? (seg as { key: PropertyKey }).key : seg;
    value = value != null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[k] : undefined;
  }
  // MLflow's `_assert_required` refuses an empty string (and a required list left empty) as it refuses an absent value
  const emptyRequired = (value === '' || (Array.isArray(value) && value.length === 0)) && issue.code === 'too_small';
  if (value === undefined || value === null || emptyRequired) return missingParam(path);
  return new MlflowError(
    'INVALID_PARAMETER_VALUE',
    `Invalid value ${describe(value)} for parameter '${path}' supplied. Hint: Value was of type '${pyType(value)}'. ` +
      'See the API docs for more information about request parameters.',
  );
}

/** Anything thrown → an MlflowError (or undefined for an unexpected failure, which the caller turns into a 500). */
export function toMlflowError(err: unknown, input?: unknown): MlflowError | undefined {
  if (err instanceof MlflowError) return err;
  if (err instanceof TRPCError) {
    const cause = err.cause as unknown;
    if (cause instanceof MlflowError) return cause;
    if (err.code === 'BAD_REQUEST' && cause && Array.isArray((cause as { issues?: unknown }).issues)) {
      return validationError((cause as { issues: Issue[] }).issues, input);
    }
    if (err.code === 'NOT_FOUND') return new MlflowError('ENDPOINT_NOT_FOUND', err.message);
    if (err.code === 'BAD_REQUEST') return new MlflowError('INVALID_PARAMETER_VALUE', err.message);
    if (err.code === 'METHOD_NOT_SUPPORTED') return new MlflowError('ENDPOINT_NOT_FOUND', err.message);
  }
  return undefined;
}
