import type { Knex } from 'knex';
import { tableOptions } from './table-options.ts';

/**
 * MLflow 3 logged models (`LoggedModel` in service.proto): a model logged to an experiment, with its own artifact
 * location `<experiment artifact_location>/models/<model_id>/artifacts`, mutable tags and immutable params.
 * Same rules as 001: a primary key on every table, the binary NO PAD collation on MySQL, ids chosen by the application.
 */
export async function up(knex: Knex): Promise<void> {
  const binary = await tableOptions(knex);

  await knex.schema.createTable('logged_models', (t) => {
    binary(t);
    t.increments('id').primary();
    // MLflow's model id: "m-" + 32 lower-case hex digits
    t.string('model_id', 34).notNullable().unique();
    t.integer('project_id').unsigned().notNullable().references('projects.id').onDelete('CASCADE');
    // internal experiments.id (the MLflow experiment id is experiments.experiment_id)
    t.integer('experiment_id').unsigned().notNullable().references('experiments.id').onDelete('CASCADE');
    t.string('name', 500).notNullable();
    t.text('artifact_location').notNullable();
    // PENDING | READY | FAILED (wire: LOGGED_MODEL_PENDING | LOGGED_MODEL_READY | LOGGED_MODEL_UPLOAD_FAILED)
    t.string('status', 20).notNullable().defaultTo('PENDING');
    t.text('status_message').nullable();
    t.bigInteger('creation_time').notNullable();
    t.bigInteger('last_updated_time').notNullable();
    t.string('source_run_id', 256).nullable();
    t.string('model_type', 500).nullable();
    t.string('lifecycle_stage', 20).notNullable().defaultTo('active');
    t.bigInteger('deleted_time').nullable();
    t.integer('creator_id').unsigned().nullable();
    t.index(['experiment_id', 'lifecycle_stage', 'creation_time'], 'logged_models_experiment_idx');
    t.index(['project_id'], 'logged_models_project_idx');
  });

  await knex.schema.createTable('logged_model_tags', (t) => {
    binary(t);
    t.integer('model_id').unsigned().notNullable().references('logged_models.id').onDelete('CASCADE');
    t.string('key', 250).notNullable();
    t.text('value').notNullable();
    t.primary(['model_id', 'key']);
  });

  await knex.schema.createTable('logged_model_params', (t) => {
    binary(t);
    t.integer('model_id').unsigned().notNullable().references('logged_models.id').onDelete('CASCADE');
    t.string('key', 250).notNullable();
    t.text('value').notNullable();
    t.primary(['model_id', 'key']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['logged_model_params', 'logged_model_tags', 'logged_models']) await knex.schema.dropTableIfExists(t);
}
