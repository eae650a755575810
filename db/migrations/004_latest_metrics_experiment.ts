import type { Knex } from 'knex';

/**
 * latest_metrics carries its run's experiment (runs never change experiment), indexed with (key, value), so that
 * runs/search ordered by a metric can read the next page of one experiment in value order from the index and stop
 * early (db/search/runs.ts, "value band"), instead of sorting every run of the experiment for every page.
 * Nullable: a row without it is only invisible to that shortcut, which stays exact (see searchRuns).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('latest_metrics', (t) => {
    t.integer('experiment_id').unsigned().nullable();
  });
  await knex('latest_metrics').update({
    experiment_id: knex('runs').select('experiment_id').where('runs.id', knex.ref('latest_metrics.run_id')),
  });
  await knex.schema.alterTable('latest_metrics', (t) => {
    t.index(['experiment_id', 'key', 'value'], 'latest_metrics_experiment_key_value_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('latest_metrics', (t) => {
    t.dropIndex([], 'latest_metrics_experiment_key_value_idx');
  });
  await knex.schema.alterTable('latest_metrics', (t) => {
    t.dropColumn('experiment_id');
  });
}
