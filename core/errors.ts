import { TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';

/**
 * MLflow's error model: every failure leaves the server as
 * `{"error_code": "...", "message": "..."}` with the HTTP status MLflow uses for that code
 * (mlflow/exceptions.py ERROR_CODE_TO_HTTP_STATUS).
 */
export const ERROR_STATUS = {
  INVALID_PARAMETER_VALUE: 400,
  BAD_REQUEST: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  RESOURCE_DOES_NOT_EXIST: 404,
  NOT_FOUND: 404,
  ENDPOINT_NOT_FOUND: 404,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  ABORTED: 409,
  RESOURCE_CONFLICT: 409,
  REQUEST_LIMIT_EXCEEDED: 429,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL_ERROR: 500,
  INVALID_STATE: 500,
  NOT_IMPLEMENTED: 501,
  TEMPORARILY_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

const TRPC_CODE: Record<number, TRPC_ERROR_CODE_KEY> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'TOO_MANY_REQUESTS',
  501: 'NOT_IMPLEMENTED',
  503: 'SERVICE_UNAVAILABLE',
};

/**
 * The one error type of the code base. It is a TRPCError, so tRPC keeps it as thrown and the typed
 * client sees the matching tRPC code and, in `error.data.mlflow`, MLflow's error_code and message.
 */
export class MlflowError extends TRPCError {
  readonly errorCode: ErrorCode;
  /** HTTP status; defaults to MLflow's status for the code, overridable (e.g. 413 for an oversized upload). */
  readonly status: number;

  constructor(errorCode: ErrorCode, message: string, status?: number) {
    const httpStatus = status ?? ERROR_STATUS[errorCode];
    super({ code: TRPC_CODE[httpStatus] ?? 'INTERNAL_SERVER_ERROR', message });
    this.name = 'MlflowError';
    this.errorCode = errorCode;
    this.status = httpStatus;
  }

  toJSON(): { error_code: string; message: string } {
    return { error_code: this.errorCode, message: this.message };
  }
}

export const invalidParam = (message: string) => new MlflowError('INVALID_PARAMETER_VALUE', message);
export const notFound = (message: string) => new MlflowError('RESOURCE_DOES_NOT_EXIST', message);
export const alreadyExists = (message: string) => new MlflowError('RESOURCE_ALREADY_EXISTS', message);
/** MLflow's message for a required parameter that is absent or empty. */
export const missingParam = (name: string) =>
  invalidParam(`Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`);
/** The same message as MLflow's stores word it (no pointer to the API docs), for the few store-level checks. */
export const missingParamPlain = (name: string) => invalidParam(`Missing value for required parameter '${name}'.`);
