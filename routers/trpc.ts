import { getTRPCErrorFromUnknown, initTRPC, TRPCError, type AnyTRPCProcedure } from '@trpc/server';
import { getParseFn } from '@trpc/server/unstable-core-do-not-import';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { MlflowError } from '../core/errors.ts';
import { toMlflowError } from '../core/error-map.ts';
import { ACCESS } from '../core/accounts.ts';
import type { RequestContext } from './context.ts';
import { int64Transformer } from '../core/transformer.ts';
import { databaseUnavailable, isDatabaseUnavailable } from '../db/tx.ts';

const t = initTRPC
  .context<RequestContext>()
  .meta<OpenApiMeta>()
  .create({
    transformer: int64Transformer,
    // The typed client gets MLflow's {error_code, message} in `data.mlflow`, mapped by the same function the REST
    // facade uses; anything unmapped is an internal error whose text stays on the server.
    errorFormatter({ shape, error, input }) {
      const mapped = toMlflowError(error, input);
      const mlflow = mapped ? mapped.toJSON() : { error_code: 'INTERNAL_ERROR', message: 'Internal error' };
      return { ...shape, message: mlflow.message, data: { ...shape.data, stack: undefined, mlflow } };
    },
  });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** A database that cannot be reached or timed out becomes 503 TEMPORARILY_UNAVAILABLE (the MLflow client retries it
 * with backoff), on the REST facade and on /trpc alike. */
const unavailable = (err: unknown) => !(err instanceof MlflowError) && isDatabaseUnavailable((err as { cause?: unknown })?.cause ?? err);

/**
 * Every procedure is `guarded`: one middleware that checks the caller (`check` returns what it adds to ctx, or throws)
 * and maps an unreachable database to 503. One middleware instead of a chain of three (base, authed, role): each
 * level of tRPC's middleware chain copies its options and ctx, which --cpu-prof showed under every request.
 */
function guarded<Extra extends object>(check: (ctx: RequestContext) => Extra) {
  return t.procedure.use(async ({ ctx, next }) => {
    let result;
    try {
      result = await next({ ctx: check(ctx) });
    } catch (err) {
      throw unavailable(err) ? databaseUnavailable() : err;
    }
    if (!result.ok && unavailable(result.error)) throw databaseUnavailable();
    return result;
  });
}

/** A user with a valid token (or the /trpc mount's deferred auth failure). */
function authed(ctx: RequestContext) {
  if (ctx.deferredError) throw ctx.deferredError;
  if (!ctx.user) throw new MlflowError('UNAUTHENTICATED', 'Authentication required: send a personal access token.');
  return ctx.user;
}

/** A user with a valid token. */
export const authedProcedure = guarded((ctx) => ({ user: authed(ctx) }));

function requireProject(ctx: RequestContext) {
  if (!ctx.project) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', 'Project not found');
  return ctx.project;
}

/** Read access to the project of the URL: guest or above, or any user of a public project; `read_api` or `api`. */
export const readProcedure = guarded((ctx) => {
  const user = authed(ctx);
  const project = requireProject(ctx);
  if (!ctx.scopes.includes('api') && !ctx.scopes.includes('read_api')) {
    throw new MlflowError('PERMISSION_DENIED', 'The token lacks the read_api or api scope.');
  }
  return { user, project };
});

/** Write access: developer or above, and the `api` scope. */
export const writeProcedure = guarded((ctx) => {
  const user = authed(ctx);
  const project = requireProject(ctx);
  if (!ctx.scopes.includes('api')) {
    throw new MlflowError('PERMISSION_DENIED', 'This request needs a token with the api scope; read_api allows reading only.');
  }
  if (project.accessLevel < ACCESS.developer && !user.isAdmin) {
    throw new MlflowError('PERMISSION_DENIED', 'Writing to this project needs the developer role or above.');
  }
  return { user, project };
});

/** Instance administrators, for internal tooling (users, projects, tokens). */
export const adminProcedure = guarded((ctx) => {
  const user = authed(ctx);
  if (!user.isAdmin) throw new MlflowError('PERMISSION_DENIED', 'Administrators only.');
  if (!ctx.scopes.includes('api')) throw new MlflowError('PERMISSION_DENIED', 'Needs a token with the api scope.');
  return { user };
});

/** Instance administrators' reads (lists): as in GitLab, a `read_api` token may read. */
export const adminReadProcedure = guarded((ctx) => {
  const user = authed(ctx);
  if (!user.isAdmin) throw new MlflowError('PERMISSION_DENIED', 'Administrators only.');
  if (!ctx.scopes.includes('api') && !ctx.scopes.includes('read_api')) {
    throw new MlflowError('PERMISSION_DENIED', 'Needs a token with the read_api or api scope.');
  }
  return { user };
});

/**
 * For hot procedures whose answer is built by code the tests hold to the declared output schema (runs/create and
 * runs/get: test/create-script.test.ts): the output schema stays the procedure's contract (OpenAPI, ROUTES.md, the
 * typed client) but is not parsed again on every call. The parse and its middleware level (tRPC copies its options and
 * the result at each level) were ~2% of the server's CPU under runs/create (--cpu-prof).
 */
export function trustedOutput<P extends AnyTRPCProcedure>(proc: P): P {
  const def = proc._def as unknown as { middlewares: { _type?: string }[] };
  def.middlewares = def.middlewares.filter((m) => m._type !== 'output');
  return proc;
}

type Result = { ok: true; data: unknown } | { ok: false; error: unknown };
type Middleware = (opts: Record<string, unknown>) => Promise<Result>;
interface Level {
  ctx: unknown;
  input: unknown;
  getRawInput: () => unknown;
}

/**
 * `createCaller(ctx).a.b(input)` for one procedure, for the REST facade: the same middlewares in the same order with
 * the same options and results (tRPC's callRecursive: a thrown error becomes `{ ok: false, error }`, a middleware's
 * `next({ ctx })` merges into ctx), without the caller's proxies (built per call) and with one plain object per level
 * where tRPC copies its options twice through a Babel spread helper (`_objectSpread2`, defineProperty per key), and its
 * output middleware's copy of the result likewise: the caller and the copies were ~4% of the server's CPU under
 * runs/create at 1 client, the output copy ~1% under a 10-metric log-batch (--cpu-prof, 2026-12-04).
 */
export function procedureCaller(proc: AnyTRPCProcedure, path: string): (ctx: RequestContext, input: unknown) => Promise<unknown> {
  const def = proc._def as unknown as { middlewares: (Middleware & { _type?: string })[]; meta: unknown; type: string; output?: unknown };
  const { meta, type } = def;
  // tRPC's output middleware (createOutputMiddleware) with the same parse and error, and a native spread of the result
  const middlewares = def.middlewares.map((m): Middleware => {
    if (m._type !== 'output' || def.output === undefined) return m;
    const parse = getParseFn(def.output as Parameters<typeof getParseFn>[0]);
    return async ({ next }) => {
      const result = await (next as () => Promise<Result>)();
      if (!result.ok) return result;
      try {
        return { ...result, data: await parse(result.data) };
      } catch (cause) {
        throw new TRPCError({ message: 'Output validation failed', code: 'INTERNAL_SERVER_ERROR', cause });
      }
    };
  });
  const level = async (i: number, o: Level): Promise<Result> => {
    try {
      return await middlewares[i]!({
        ctx: o.ctx, input: o.input, getRawInput: o.getRawInput, path, type, signal: undefined, batchIndex: 0, meta,
        next: (n?: Partial<Level>) =>
          level(i + 1, {
            ctx: n?.ctx ? { ...(o.ctx as object), ...(n.ctx as object) } : o.ctx,
            input: n && 'input' in n ? n.input : o.input,
            getRawInput: n?.getRawInput ?? o.getRawInput,
          }),
      });
    } catch (cause) {
      return { ok: false, error: getTRPCErrorFromUnknown(cause), marker: 'middlewareMarker' } as Result;
    }
  };
  return async (ctx, input) => {
    const result = await level(0, { ctx, input: undefined, getRawInput: () => input });
    if (!result) throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'No result from middlewares - did you forget to `return next()`?' });
    if (!result.ok) throw result.error;
    return result.data;
  };
}
