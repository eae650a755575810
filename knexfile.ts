// For the knex CLI (`npx knex --knexfile knexfile.ts migrate:status`); the server and `npm run migrate` use the same config.
import { loadConfig } from './core/config.ts';
import { knexConfig } from './db/knex.ts';

const config = loadConfig();
export default knexConfig(config.databaseUrl, config.dataDir);
