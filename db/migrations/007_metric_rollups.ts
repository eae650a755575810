import type { Knex } from 'knex';
import { tableOptions } from './table-options.ts';
import { cursorOf, historyPage, type HistoryCursor, type HistoryRow } from '../metrics.ts';
import { mergeAgg, rollupBinds, rollupDeltas, ROLLUP_COLUMNS, type Agg } from '../rollups.ts';
import { int64Bind, int64Col, type Int64 } from '../../core/codecs.ts';

/**
 * metric_rollups: pre-aggregated buckets of each metric history at 2^5, 2^10, 2^15 and 2^20 steps (db/rollups.ts),
 * kept by log-batch in the same transaction, so the UI's downsampled history of a 1M-point metric reads ~1,000
 * rollup rows instead of 1M points (ui-plan §3.3). Existing histories are summed up here, one series at a time.
 */
export async function up(knex: Knex): Promise<void> {
  const opts = await tableOptions(knex);
  await knex.schema.createTable('metric_rollups', (t) => {
    opts(t);
    t.integer('run_id').unsigned().notNullable().references('runs.id').onDelete('CASCADE');
    t.string('key', 250).notNullable();
    t.tinyint('lvl').notNullable();
    t.bigInteger('bucket').notNullable();
    t.bigInteger('n').notNullable();
    t.double('vmin').nullable(); // null: every point of the bucket is NaN
    t.double('vmax').nullable();
    t.bigInteger('first_step').notNullable();
    t.bigInteger('first_ts').notNullable();
    t.double('first_value').notNullable();
    t.boolean('first_nan').notNullable();
    t.bigInteger('last_step').notNullable();
    t.bigInteger('last_ts').notNullable();
    t.double('last_value').notNullable();
    t.boolean('last_nan').notNullable();
    t.primary(['run_id', 'key', 'lvl', 'bucket']);
  });
  await backfillRollups(knex);
}

export async function backfillRollups(knex: Knex) {
  const series: { run_id: number; key: string }[] = await knex('metrics').distinct('run_id', 'key');
  const mysql = knex.client.config.client === 'mysql2';
  const int64 = (v: Int64) => (mysql ? int64Bind(v) : v);
  for (const s of series) {
    const runId = Number(s.run_id);
    const all = new Map<string, { key: string; lvl: number; bucket: Int64; agg: Agg }>();
    let cursor: HistoryCursor | null = null;
    for (;;) {
      const rows: HistoryRow[] = await historyPage(knex, runId, s.key, cursor, 20000);
      if (!rows.length) break;
      const pts = rows.map((r) => ({ key: s.key, step: int64Col(r.step), ts: int64Col(r.timestamp), value: Number(r.value), nan: Number(r.is_nan) !== 0 }));
      for (const d of rollupDeltas(pts)) {
        const id = `${d.lvl}\u0000${d.bucket}`;
        const cur = all.get(id);
        if (!cur) all.set(id, d);
        else {
          cur.agg = mergeAgg(cur.agg, d.agg);
        }
      }
      cursor = cursorOf(rows[rows.length - 1]!);
    }
    const rows = [...all.values()].map((d) => {
      const b = rollupBinds(runId, d.key, d.lvl, d.bucket, d.agg, int64);
      return Object.fromEntries(ROLLUP_COLUMNS.map((c, i) => [c, b[i]]));
    });
    for (let i = 0; i < rows.length; i += 400) await knex('metric_rollups').insert(rows.slice(i, i + 400));
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('metric_rollups');
}
