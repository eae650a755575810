// npm run migrate: brings the database of DATABASE_URL (or the SQLite file in DATA_DIR) to the latest schema.
import { loadConfig } from '../core/config.ts';
import { createDb } from '../db/knex.ts';
import { migrateLatest } from '../db/migrate.ts';

const config = loadConfig();
const db = createDb(config.databaseUrl, config.dataDir);
try {
  const names = await migrateLatest(db, { log: (line) => console.log(line) });
  console.log(names.length ? `migrated: ${names.join(', ')}` : 'already up to date');
} finally {
  await db.destroy();
}
