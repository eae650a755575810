import type { Db } from './knex.ts';

export interface UserRow {
  id: number;
  username: string;
  name: string;
  email: string | null;
  is_admin: boolean;
  created_at: number;
}

const toUser = (r: any): UserRow => ({ ...r, is_admin: Boolean(r.is_admin) });

export async function createUser(db: Db, u: { username: string; name?: string; email?: string | null; isAdmin?: boolean }): Promise<UserRow> {
  const [id] = await db('users').insert({
    username: u.username,
    name: u.name ?? u.username,
    email: u.email ?? null,
    is_admin: u.isAdmin ?? false,
    created_at: Date.now(),
  });
  return (await getUser(db, Number(id)))!;
}

export async function getUser(db: Db, id: number): Promise<UserRow | undefined> {
  const r = await db('users').where({ id }).first();
  return r ? toUser(r) : undefined;
}

export async function getUserByUsername(db: Db, username: string): Promise<UserRow | undefined> {
  const r = await db('users').where({ username }).first();
  return r ? toUser(r) : undefined;
}

export async function listUsers(db: Db): Promise<UserRow[]> {
  return (await db('users').orderBy('id')).map(toUser);
}

export async function countUsers(db: Db): Promise<number> {
  const r = await db('users').count({ n: '*' }).first();
  return Number(r?.n ?? 0);
}
