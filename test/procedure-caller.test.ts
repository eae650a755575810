import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { initTRPC, TRPCError } from '@trpc/server';
import { procedureCaller } from '../routers/trpc.ts';
import type { RequestContext } from '../routers/context.ts';

/**
 * routers/trpc.ts procedureCaller (the REST facade's way to call a procedure) against tRPC's own createCaller, on one
 * router of every case: middlewares that add to ctx, input parsing and its failure, a resolver that throws, output
 * parsing (its transform applied) and its failure, a middleware that answers without calling next. Same results, same
 * errors (class, code, message, cause).
 */
type Ctx = { user: string | null; trail: string[] };
const t = initTRPC.context<Ctx>().create();
const withRole = t.procedure.use(async ({ ctx, next }) => {
  if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'who are you' });
  return next({ ctx: { role: ctx.user === 'admin' ? 'admin' : 'user', trail: [...ctx.trail, 'role'] } });
});
const stamped = withRole.use(async ({ ctx, next }) => next({ ctx: { trail: [...ctx.trail, 'stamp'] } }));
const shortCircuit = t.procedure.use(async () => ({ ok: true as const, data: 'early', ctx: {}, marker: 'middlewareMarker' }) as never);

const router = t.router({
  echo: stamped
    .input(z.object({ n: z.number().int(), s: z.string().optional() }))
    .output(z.object({ n: z.number(), doubled: z.number().transform((x) => x * 2), role: z.string(), trail: z.array(z.string()) }))
    .mutation(({ ctx, input }) => ({ n: input.n, doubled: input.n, role: (ctx as unknown as { role: string }).role, trail: ctx.trail, extra: 'dropped' })),
  badOutput: stamped.output(z.object({ n: z.number() })).query(() => ({ n: 'not a number' }) as never),
  throws: stamped.input(z.object({})).mutation(() => {
    throw new TRPCError({ code: 'NOT_FOUND', message: 'nothing here' });
  }),
  throwsPlain: stamped.query(() => {
    throw new Error('plain failure');
  }),
  early: shortCircuit.query(() => 'never'),
  noOutput: stamped.input(z.object({ a: z.string() })).query(({ input }) => ({ got: input.a })),
});
const createCaller = t.createCallerFactory(router);

async function both(path: keyof typeof router._def.procedures, ctx: Ctx, input: unknown) {
  const viaTrpc = await (createCaller(ctx) as any)[path](input).then(
    (v: unknown) => ({ ok: v }),
    (e: unknown) => ({ err: e }),
  );
  const call = procedureCaller((router._def.procedures as any)[path], path);
  const direct = await call(ctx as unknown as RequestContext, input).then(
    (v) => ({ ok: v }),
    (e: unknown) => ({ err: e }),
  );
  return { viaTrpc, direct };
}

function shape(r: { ok?: unknown; err?: unknown }) {
  if (!('err' in r)) return { ok: r.ok };
  const e = r.err as TRPCError;
  return { err: { cls: e.constructor.name, code: e.code, message: e.message, cause: (e.cause as Error | undefined)?.constructor.name } };
}

describe('procedureCaller answers as tRPC createCaller does', () => {
  const cases: [string, keyof typeof router._def.procedures, Ctx, unknown][] = [
    ['success: ctx merged through two middlewares, input parsed, output parsed and transformed', 'echo', { user: 'admin', trail: ['start'] }, { n: 4, s: 'x' }],
    ['a middleware refuses', 'echo', { user: null, trail: [] }, { n: 4 }],
    ['input fails to parse', 'echo', { user: 'u', trail: [] }, { n: 4.5 }],
    ['input missing', 'echo', { user: 'u', trail: [] }, undefined],
    ['output fails to parse', 'badOutput', { user: 'u', trail: [] }, undefined],
    ['the resolver throws a TRPCError', 'throws', { user: 'u', trail: [] }, {}],
    ['the resolver throws an Error', 'throwsPlain', { user: 'u', trail: [] }, undefined],
    ['a middleware answers without next', 'early', { user: null, trail: [] }, undefined],
    ['no output schema', 'noOutput', { user: 'u', trail: [] }, { a: 'b', dropped: 1 }],
  ];
  it.each(cases)('%s', async (_name, path, ctx, input) => {
    const { viaTrpc, direct } = await both(path, ctx, input);
    expect(shape(direct)).toEqual(shape(viaTrpc));
  });

  it('the success values are the expected ones (the comparison above is not of two failures)', async () => {
    const { direct } = await both('echo', { user: 'admin', trail: ['start'] }, { n: 4 });
    expect(direct).toEqual({ ok: { n: 4, doubled: 8, role: 'admin', trail: ['start', 'role', 'stamp'] } });
    const bad = await both('badOutput', { user: 'u', trail: [] }, undefined);
    expect(shape(bad.direct)).toEqual({ err: { cls: 'TRPCError', code: 'INTERNAL_SERVER_ERROR', message: 'Output validation failed', cause: expect.any(String) } });
    const input = await both('echo', { user: 'u', trail: [] }, { n: 4.5 });
    expect(shape(input.direct)).toMatchObject({ err: { cls: 'TRPCError', code: 'BAD_REQUEST' } });
  });
});
