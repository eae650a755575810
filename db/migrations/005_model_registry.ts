import type { Knex } from 'knex';
import { tableOptions } from './table-options.ts';

/**
 * The model registry (model_registry.proto), per project: registered models, their versions, tags and aliases.
 * - Names are unique per project (two projects may each have a model `churn`); every row refers to its model by
 *   the internal `registered_models.id`, so a rename is one UPDATE and tags, versions and aliases follow.
 * - Version numbers are per model, from `next_version`, bumped inside the creating transaction (never
 *   AUTO_INCREMENT: on Galera those step by the cluster size). Deleted versions stay as rows (MLflow's soft delete)
 *   so a number is never reused while the model lives.
 * Same rules as 001: a primary key on every table, the binary NO PAD collation on MySQL.
 */
export async function up(knex: Knex): Promise<void> {
  const binary = await tableOptions(knex);

  await knex.schema.createTable('registered_models', (t) => {
    binary(t);
    t.increments('id').primary();
    t.integer('project_id').unsigned().notNullable().references('projects.id').onDelete('CASCADE');
    t.string('name', 256).notNullable();
    t.string('description', 5000).nullable();
    t.bigInteger('creation_time').notNullable();
    t.bigInteger('last_updated_time').notNullable();
    t.integer('next_version').unsigned().notNullable().defaultTo(1);
    t.integer('creator_id').unsigned().nullable();
    t.unique(['project_id', 'name'], { indexName: 'registered_models_name_uq' });
    // search ordered by last update (MLflow's `timestamp` order key)
    t.index(['project_id', 'last_updated_time'], 'registered_models_updated_idx');
  });

  await knex.schema.createTable('model_versions', (t) => {
    binary(t);
    t.increments('id').primary();
    t.integer('model_id').unsigned().notNullable().references('registered_models.id').onDelete('CASCADE');
    t.integer('version').unsigned().notNullable();
    t.bigInteger('creation_time').notNullable();
    t.bigInteger('last_updated_time').notNullable();
    t.string('description', 5000).nullable();
    t.string('user_id', 256).nullable();
    // None | Staging | Production | Archived; Deleted_Internal marks a soft-deleted version, as in MLflow
    t.string('current_stage', 20).notNullable().defaultTo('None');
    t.string('source', 500).notNullable();
    // where the files are when `source` is a models:/ URI (resolved at creation, as MLflow does)
    t.string('storage_location', 500).nullable();
    t.string('run_id', 32).nullable();
    t.string('run_link', 500).nullable();
    t.string('status', 20).notNullable().defaultTo('READY');
    t.string('status_message', 500).nullable();
    // MLflow 3: the logged model (m-<32 hex>) the version was registered from
    t.string('logged_model_id', 34).nullable();
    t.integer('creator_id').unsigned().nullable();
    t.unique(['model_id', 'version'], { indexName: 'model_versions_number_uq' });
    t.index(['run_id'], 'model_versions_run_idx');
    t.index(['model_id', 'current_stage'], 'model_versions_stage_idx');
    t.index(['last_updated_time'], 'model_versions_updated_idx');
  });

  await knex.schema.createTable('registered_model_tags', (t) => {
    binary(t);
    t.integer('model_id').unsigned().notNullable().references('registered_models.id').onDelete('CASCADE');
    t.string('key', 250).notNullable();
    t.text('value').notNullable();
    t.primary(['model_id', 'key']);
  });

  await knex.schema.createTable('model_version_tags', (t) => {
    binary(t);
    t.integer('version_id').unsigned().notNullable().references('model_versions.id').onDelete('CASCADE');
    t.string('key', 250).notNullable();
    t.text('value').notNullable();
    t.primary(['version_id', 'key']);
  });

  await knex.schema.createTable('registered_model_aliases', (t) => {
    binary(t);
    t.integer('model_id').unsigned().notNullable().references('registered_models.id').onDelete('CASCADE');
    t.string('alias', 256).notNullable();
    t.integer('version').unsigned().notNullable();
    t.primary(['model_id', 'alias']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['registered_model_aliases', 'model_version_tags', 'registered_model_tags', 'model_versions', 'registered_models']) {
    await knex.schema.dropTableIfExists(t);
  }
}
