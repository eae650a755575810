import type { Knex } from 'knex';
import { tableOptions } from './table-options.ts';

/**
 * Web UI sign-in: users may have a password (scrypt digest, set with the admin CLI), and a signed-in browser holds a
 * session cookie whose SHA-256 digest is stored here. A session made from a personal access token remembers the
 * token, so revoking the token ends the session at the next request.
 */
export async function up(knex: Knex): Promise<void> {
  const opts = await tableOptions(knex);
  await knex.schema.alterTable('users', (t) => {
    t.string('password_digest', 255).nullable();
  });
  await knex.schema.createTable('ui_sessions', (t) => {
    opts(t);
    t.increments('id').primary();
    t.string('session_digest', 64).notNullable().unique();
    t.integer('user_id').unsigned().notNullable().references('users.id').onDelete('CASCADE');
    t.integer('token_id').unsigned().nullable().references('access_tokens.id').onDelete('CASCADE');
    t.string('scopes', 100).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.index(['user_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('ui_sessions');
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('password_digest');
  });
}
