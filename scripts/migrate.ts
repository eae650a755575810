// npm run migrate: brings the database of DATABASE_URL (or the SQLite file in DATA_DIR) to the latest schema.
import { loadConfig } from '../core/config.ts';
import { createDb } from '../db/knex.ts';

const config = loadConfig();
const db = createDb(config.databaseUrl, config.dataDir);
try {
  const [batch, names] = await db.migrate.latest();
  console.log(names.length ? `migrated (batch ${batch}): ${names.join(', ')}` : 'already up to date');
} finally {
  await db.destroy();
}
