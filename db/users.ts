import type { Db } from './knex.ts';
import type { DbUserRow } from './tables.ts';

export interface UserRow {
  id: number;
  username: string;
  name: string;
  email: string | null;
  is_admin: boolean;
  created_at: number;
}

const toUser = (r: DbUserRow): UserRow => ({ ...r, is_admin: Boolean(r.is_admin), created_at: Number(r.created_at) });

/** `id` is chosen only by bootstrap (the admin is user 1 on every engine; AUTO_INCREMENT steps by 3 on Galera). */
export async function createUser(db: Db, u: { id?: number; username: string; name?: string; email?: string | null; isAdmin?: boolean }): Promise<UserRow> {
  const [id] = await db<DbUserRow>('users').insert({
    ...(u.id !== undefined ? { id: u.id } : {}),
    username: u.username,
    name: u.name ?? u.username,
    email: u.email ?? null,
    is_admin: u.isAdmin ?? false,
    created_at: Date.now(),
  });
  return (await getUser(db, Number(id)))!;
}

export async function getUser(db: Db, id: number): Promise<UserRow | undefined> {
  const r = await db<DbUserRow>('users').where({ id }).first();
  return r ? toUser(r) : undefined;
}

export async function getUserByUsername(db: Db, username: string): Promise<UserRow | undefined> {
  const r = await db<DbUserRow>('users').where({ username }).first();
  return r ? toUser(r) : undefined;
}

export async function listUsers(db: Db): Promise<UserRow[]> {
  return (await db<DbUserRow>('users').orderBy('id')).map(toUser);
}

export async function countUsers(db: Db): Promise<number> {
  const r = await db<DbUserRow>('users').count({ n: '*' }).first();
  return Number(r?.n ?? 0);
}
