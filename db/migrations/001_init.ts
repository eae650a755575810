import type { Knex } from 'knex';
import { tableOptions } from './table-options.ts';

/**
 * The schema. Portable across SQLite and MySQL/MariaDB (and Galera: every table has a primary key,
 * per-project numbers come from the application). Table options (binary NO PAD collation on MySQL) come from
 * table-options.ts.
 */
export async function up(knex: Knex): Promise<void> {
  const binary = await tableOptions(knex);

  await knex.schema.createTable('users', (t) => {
    binary(t);
    t.increments('id').primary();
    t.string('username', 255).notNullable().unique();
    t.string('name', 255).notNullable().defaultTo('');
    t.string('email', 255).nullable();
    t.boolean('is_admin').notNullable().defaultTo(false);
    t.bigInteger('created_at').notNullable();
  });

  await knex.schema.createTable('projects', (t) => {
    binary(t);
    t.increments('id').primary();
    t.string('path', 255).notNullable().unique();
    t.string('name', 255).notNullable();
    t.string('visibility', 16).notNullable().defaultTo('private');
    // last per-project experiment number handed out; bumped inside the creating transaction
    t.integer('last_experiment_iid').notNullable().defaultTo(0);
    t.bigInteger('created_at').notNullable();
  });

  await knex.schema.createTable('project_members', (t) => {
    binary(t);
    t.integer('project_id').unsigned().notNullable().references('projects.id').onDelete('CASCADE');
    t.integer('user_id').unsigned().notNullable().references('users.id').onDelete('CASCADE');
    t.integer('access_level').notNullable();
    t.primary(['project_id', 'user_id']);
    t.index(['user_id']);
  });

  await knex.schema.createTable('access_tokens', (t) => {
    binary(t);
    t.increments('id').primary();
    t.integer('user_id').unsigned().notNullable().references('users.id').onDelete('CASCADE');
    t.string('name', 255).notNullable();
    t.string('token_digest', 64).notNullable().unique();
    t.string('scopes', 100).notNullable();
    t.bigInteger('expires_at').nullable();
    t.bigInteger('revoked_at').nullable();
    t.bigInteger('last_used_at').nullable();
    t.bigInteger('created_at').notNullable();
  });

  await knex.schema.createTable('experiments', (t) => {
    binary(t);
    t.increments('id').primary();
    t.integer('project_id').unsigned().notNullable().references('projects.id').onDelete('CASCADE');
    // MLflow's experiment_id: the per-project number
    t.integer('experiment_id').notNullable();
    t.string('name', 500).notNullable();
    t.text('artifact_location').notNullable();
    t.string('lifecycle_stage', 32).notNullable().defaultTo('active');
    t.bigInteger('creation_time').notNullable();
    t.bigInteger('last_update_time').notNullable();
    t.bigInteger('deleted_time').nullable();
    t.integer('creator_id').unsigned().nullable();
    t.unique(['project_id', 'experiment_id']);
    t.unique(['project_id', 'name']);
  });

  await knex.schema.createTable('experiment_tags', (t) => {
    binary(t);
    t.integer('experiment_id').unsigned().notNullable().references('experiments.id').onDelete('CASCADE');
    t.string('key', 250).notNullable();
    t.text('value').notNullable();
    t.primary(['experiment_id', 'key']);
  });

  await knex.schema.createTable('runs', (t) => {
    binary(t);
    t.increments('id').primary();
    t.string('run_uuid', 32).notNullable().unique();
    t.integer('project_id').unsigned().notNullable().references('projects.id').onDelete('CASCADE');
    t.integer('experiment_id').unsigned().notNullable().references('experiments.id').onDelete('CASCADE');
    t.string('name', 250).notNullable().defaultTo('');
    t.string('user_id', 256).notNullable().defaultTo('');
    t.integer('creator_id').unsigned().nullable();
    t.string('status', 20).notNullable().defaultTo('RUNNING');
    t.bigInteger('start_time').notNullable();
    t.bigInteger('end_time').nullable();
    t.string('lifecycle_stage', 20).notNullable().defaultTo('active');
    t.bigInteger('deleted_time').nullable();
    t.text('artifact_uri').notNullable();
    t.index(['experiment_id', 'lifecycle_stage', 'start_time'], 'runs_experiment_start_idx');
  });

  await knex.schema.createTable('params', (t) => {
    binary(t);
    t.integer('run_id').unsigned().notNullable().references('runs.id').onDelete('CASCADE');
    t.string('key', 250).notNullable();
    t.text('value').notNullable();
    t.primary(['run_id', 'key']);
  });

  await knex.schema.createTable('tags', (t) => {
    binary(t);
    t.integer('run_id').unsigned().notNullable().references('runs.id').onDelete('CASCADE');
    t.string('key', 250).notNullable();
    t.text('value').notNullable();
    t.primary(['run_id', 'key']);
  });

  // Full metric history. The primary key is MLflow's dedup rule: the same (key, timestamp, step, value)
  // logged twice is one point, so a retried batch adds nothing.
  await knex.schema.createTable('metrics', (t) => {
    binary(t);
    t.integer('run_id').unsigned().notNullable().references('runs.id').onDelete('CASCADE');
    t.string('key', 250).notNullable();
    t.bigInteger('timestamp').notNullable();
    t.bigInteger('step').notNullable();
    t.double('value').notNullable();
    t.boolean('is_nan').notNullable().defaultTo(false);
    t.primary(['run_id', 'key', 'timestamp', 'step', 'value', 'is_nan']);
  });

  // Latest value per (run, key) by MLflow's rule max(step, timestamp, value): runs/get and search read this.
  await knex.schema.createTable('latest_metrics', (t) => {
    binary(t);
    t.integer('run_id').unsigned().notNullable().references('runs.id').onDelete('CASCADE');
    t.string('key', 250).notNullable();
    t.double('value').notNullable();
    t.bigInteger('timestamp').notNullable();
    t.bigInteger('step').notNullable();
    t.boolean('is_nan').notNullable().defaultTo(false);
    t.primary(['run_id', 'key']);
    t.index(['key', 'run_id'], 'latest_metrics_key_idx');
  });

  await knex.schema.createTable('datasets', (t) => {
    binary(t);
    t.increments('id').primary();
    t.integer('experiment_id').unsigned().notNullable().references('experiments.id').onDelete('CASCADE');
    t.string('name', 500).notNullable();
    t.string('digest', 36).notNullable();
    t.string('source_type', 36).notNullable();
    t.text('source', 'mediumtext').notNullable();
    t.text('schema', 'mediumtext').nullable();
    t.text('profile', 'mediumtext').nullable();
    t.unique(['experiment_id', 'name', 'digest']);
  });

  await knex.schema.createTable('run_inputs', (t) => {
    binary(t);
    t.integer('run_id').unsigned().notNullable().references('runs.id').onDelete('CASCADE');
    t.integer('dataset_id').unsigned().notNullable().references('datasets.id').onDelete('CASCADE');
    t.primary(['run_id', 'dataset_id']);
    t.index(['dataset_id']);
  });

  await knex.schema.createTable('input_tags', (t) => {
    binary(t);
    t.integer('run_id').unsigned().notNullable();
    t.integer('dataset_id').unsigned().notNullable();
    t.string('key', 255).notNullable();
    t.string('value', 500).notNullable();
    t.primary(['run_id', 'dataset_id', 'key']);
    t.foreign(['run_id', 'dataset_id']).references(['run_id', 'dataset_id']).inTable('run_inputs').onDelete('CASCADE');
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const t of [
    'input_tags', 'run_inputs', 'datasets', 'latest_metrics', 'metrics', 'tags', 'params', 'runs',
    'experiment_tags', 'experiments', 'access_tokens', 'project_members', 'projects', 'users',
  ]) {
    await knex.schema.dropTableIfExists(t);
  }
}
