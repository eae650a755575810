import type { Knex } from 'knex';

/**
 * runs/search ordered by a metric reads one experiment's latest values of that key in value order (db/search/runs.ts,
 * "value band"), always with is_nan = 0. 004's (experiment_id, key, value) index had no is_nan and no run_id, so
 * each value it yielded cost a table-row read: ~2,000 of them for the band probe and ~2,000 more for the page
 * query's join. This index answers both from the index alone (run_id: InnoDB keeps the primary key in every
 * secondary index anyway; SQLite needs it spelled out). It covers every use of 004's index, which is dropped.
 * Key length on MySQL: key VARCHAR(250) utf8mb4 (1,000 bytes) + 4 + 1 + 8 + 4, within InnoDB's 3,072.
 * Write cost (scripts/bench/latest-index.ts, log-batch with either index on the same database, alternating): within
 * noise, both ways — 1000 keys × 1 step a batch (1000 latest values moved): SQLite 40,416 → 40,045 points/s,
 * MariaDB 11,439 → 13,048; 10 keys × 100 steps: SQLite 183,616 → 213,248, MariaDB 73,637 → 69,152.
 * The page query now reads its band through this index too (experiment_id = ...), so a row lacking experiment_id
 * would be missed, not only skipped by the probe: log-batch (the only writer) always sets it since 004, and any row
 * still without it gets it here.
 */
export async function up(knex: Knex): Promise<void> {
  await knex('latest_metrics')
    .whereNull('experiment_id')
    .update({ experiment_id: knex('runs').select('experiment_id').where('runs.id', knex.ref('latest_metrics.run_id')) });
  await knex.schema.alterTable('latest_metrics', (t) => {
    t.index(['experiment_id', 'key', 'is_nan', 'value', 'run_id'], 'latest_metrics_experiment_band_idx');
  });
  await knex.schema.alterTable('latest_metrics', (t) => {
    t.dropIndex([], 'latest_metrics_experiment_key_value_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('latest_metrics', (t) => {
    t.index(['experiment_id', 'key', 'value'], 'latest_metrics_experiment_key_value_idx');
  });
  await knex.schema.alterTable('latest_metrics', (t) => {
    t.dropIndex([], 'latest_metrics_experiment_band_idx');
  });
}
