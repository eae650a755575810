import type { Knex } from 'knex';
import * as m001 from './001_init.ts';
import * as m002 from './002_logged_models.ts';
import * as m003 from './003_search_indexes.ts';
import * as m004 from './004_latest_metrics_experiment.ts';
import * as m005 from './005_model_registry.ts';
import * as m006 from './006_ui_sessions.ts';
import * as m007 from './007_metric_rollups.ts';
import * as m008 from './008_latest_metrics_band_index.ts';
import * as m009 from './009_metrics_without_rowid.ts';

/** Migrations are listed here in order, so they load the same way under tsx, vitest and a bundler. */
const migrations: Record<string, Knex.Migration> = {
  '001_init': m001,
  '002_logged_models': m002,
  '003_search_indexes': m003,
  '004_latest_metrics_experiment': m004,
  '005_model_registry': m005,
  '006_ui_sessions': m006,
  '007_metric_rollups': m007,
  '008_latest_metrics_band_index': m008,
  '009_metrics_without_rowid': m009,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
