import { z } from 'zod';
import { adminProcedure, adminReadProcedure, router } from './trpc.ts';
import { ACCESS, ROLE_NAMES, validateProjectPath, validateUsername } from '../core/accounts.ts';
import { alreadyExists, notFound } from '../core/errors.ts';
import { isDuplicateKey } from '../db/tx.ts';
import * as users from '../db/users.ts';
import * as projects from '../db/projects.ts';
import * as tokens from '../db/tokens.ts';

/** Instance administration for internal tooling; the admin CLI runs the same repository functions. */

const userOut = z.object({ id: z.number(), username: z.string(), name: z.string(), email: z.string().nullable(), is_admin: z.boolean() });
const projectOut = z.object({ id: z.number(), path: z.string(), name: z.string(), visibility: z.enum(['private', 'public']) });
const tokenOut = z.object({
  id: z.number(),
  user_id: z.number(),
  name: z.string(),
  scopes: z.array(z.string()),
  expires_at: z.number().nullable(),
  revoked_at: z.number().nullable(),
  last_used_at: z.number().nullable(),
  created_at: z.number(),
});
const role = z.enum(ROLE_NAMES);

async function unique<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isDuplicateKey(err)) throw alreadyExists(`${what} already exists.`);
    throw err;
  }
}

export const adminRouter = router({
  createUser: adminProcedure
    .input(z.object({ username: z.string(), name: z.string().max(255).optional(), email: z.string().max(255).optional(), is_admin: z.boolean().optional() }))
    .output(userOut)
    .mutation(({ ctx, input }) => {
      validateUsername(input.username);
      return unique(`User ${input.username}`, () =>
        users.createUser(ctx.db, { username: input.username, name: input.name, email: input.email, isAdmin: input.is_admin }),
      );
    }),

  listUsers: adminReadProcedure.input(z.object({}).optional()).output(z.array(userOut)).query(({ ctx }) => users.listUsers(ctx.db)),

  createProject: adminProcedure
    .input(z.object({ path: z.string(), name: z.string().max(255).optional(), visibility: z.enum(['private', 'public']).optional(), owner_id: z.number().int().optional() }))
    .output(projectOut)
    .mutation(async ({ ctx, input }) => {
      validateProjectPath(input.path);
      const ownerId = input.owner_id ?? ctx.user.id;
      if (!(await users.getUser(ctx.db, ownerId))) throw notFound(`No user with id ${ownerId}`);
      return unique(`Project ${input.path}`, () => projects.createProject(ctx.db, { path: input.path, name: input.name, visibility: input.visibility, ownerId }));
    }),

  listProjects: adminReadProcedure.input(z.object({}).optional()).output(z.array(projectOut)).query(({ ctx }) => projects.listProjects(ctx.db)),

  setMember: adminProcedure
    .input(z.object({ project_id: z.number().int(), user_id: z.number().int(), role }))
    .output(z.object({}))
    .mutation(async ({ ctx, input }) => {
      if (!(await projects.getProject(ctx.db, input.project_id))) throw notFound(`No project with id ${input.project_id}`);
      if (!(await users.getUser(ctx.db, input.user_id))) throw notFound(`No user with id ${input.user_id}`);
      await projects.setMember(ctx.db, input.project_id, input.user_id, ACCESS[input.role]);
      return {};
    }),

  removeMember: adminProcedure
    .input(z.object({ project_id: z.number().int(), user_id: z.number().int() }))
    .output(z.object({ removed: z.boolean() }))
    .mutation(async ({ ctx, input }) => ({ removed: await projects.removeMember(ctx.db, input.project_id, input.user_id) })),

  listMembers: adminReadProcedure
    .input(z.object({ project_id: z.number().int() }))
    .output(z.array(z.object({ user_id: z.number(), username: z.string(), access_level: z.number() })))
    .query(({ ctx, input }) => projects.listMembers(ctx.db, input.project_id)),

  createToken: adminProcedure
    .input(
      z.object({
        user_id: z.number().int(),
        name: z.string().min(1).max(255),
        scopes: z.array(z.enum(tokens.SCOPES)).min(1),
        expires_at: z.number().int().optional(),
      }),
    )
    .output(z.object({ token: z.string(), info: tokenOut }))
    .mutation(async ({ ctx, input }) => {
      if (!(await users.getUser(ctx.db, input.user_id))) throw notFound(`No user with id ${input.user_id}`);
      const { token, row } = await tokens.createToken(ctx.db, { userId: input.user_id, name: input.name, scopes: input.scopes, expiresAt: input.expires_at });
      return { token, info: row };
    }),

  listTokens: adminReadProcedure
    .input(z.object({ user_id: z.number().int().optional() }).optional())
    .output(z.array(tokenOut))
    .query(({ ctx, input }) => tokens.listTokens(ctx.db, input?.user_id)),

  revokeToken: adminProcedure
    .input(z.object({ id: z.number().int() }))
    .output(z.object({ revoked: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      if (!(await tokens.getToken(ctx.db, input.id))) throw notFound(`No token with id ${input.id}`);
      return { revoked: await tokens.revokeToken(ctx.db, input.id) };
    }),
});
