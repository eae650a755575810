import type { Knex } from 'knex';

/**
 * SQLite: the metrics table rebuilt WITHOUT ROWID, so that its rows live in its primary key's B-tree. A rowid table
 * with a 6-column primary key keeps every point twice (the table's B-tree by rowid and the key's index), so each
 * inserted point was two B-tree inserts and twice the pages to write at COMMIT. Measured with better-sqlite3 on
 * 1000-point batches of the log-batch bench's shape (10 keys × 100 steps, each batch one transaction): insert 1.73 →
 * 1.34 ms, COMMIT 0.62 → 0.44 ms a batch, file 23.9 → 11.3 MB for 300k points. The history reads were already covered
 * by the key's index (every column is in the key), so they read the same B-tree order as before.
 *
 * MySQL/MariaDB: nothing to do: InnoDB already stores a table's rows in its primary key (a clustered index).
 *
 * The rebuild copies every row in one statement inside the migration's transaction (an interrupted migration leaves
 * the old table as it was); it needs room for a second copy of the table meanwhile, and a few seconds a million rows.
 */
const COLUMNS =
  '`run_id` integer not null, `key` varchar(250) not null, `timestamp` bigint not null, `step` bigint not null, ' +
  "`value` float not null, `is_nan` boolean not null default '0', " +
  'foreign key(`run_id`) references `runs`(`id`) on delete CASCADE, ' +
  'primary key (`run_id`, `key`, `timestamp`, `step`, `value`, `is_nan`)';

async function rebuild(knex: Knex, withoutRowid: boolean): Promise<void> {
  if (knex.client.config.client === 'mysql2') return;
  await knex.raw(`CREATE TABLE \`metrics_rebuilt\` (${COLUMNS})${withoutRowid ? ' WITHOUT ROWID' : ''}`);
  await knex.raw(
    'INSERT INTO `metrics_rebuilt` (`run_id`, `key`, `timestamp`, `step`, `value`, `is_nan`) ' +
      'SELECT `run_id`, `key`, `timestamp`, `step`, `value`, `is_nan` FROM `metrics`',
  );
  // no table refers to metrics, so dropping it breaks no foreign key
  await knex.raw('DROP TABLE `metrics`');
  await knex.raw('ALTER TABLE `metrics_rebuilt` RENAME TO `metrics`');
}

export async function up(knex: Knex): Promise<void> {
  await rebuild(knex, true);
}

export async function down(knex: Knex): Promise<void> {
  await rebuild(knex, false);
}
