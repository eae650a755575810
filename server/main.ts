import { loadConfig } from '../core/config.ts';
import { createDb } from '../db/knex.ts';
import { migrateLatest } from '../db/migrate.ts';
import { createApp } from './app.ts';
import { answerParserErrors } from './http.ts';
import { bootstrap } from './bootstrap.ts';
import { VERSION } from './version.ts';

const config = loadConfig();
const db = createDb(config.databaseUrl, config.dataDir);
await migrateLatest(db);
const boot = await bootstrap(db, config.initialToken);
const app = createApp({ db, config, accessLog: config.accessLog });

const server = app.listen(config.port, config.host, () => {
  const host = config.publicUrl ?? `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  const where = config.databaseUrl ? 'MySQL' : `SQLite in ${config.dataDir}`;
  console.log(`mltrack ${VERSION} listening on ${host} (${where})`);
  console.log('');
  console.log(`  export MLFLOW_TRACKING_URI=${host}/api/v4/projects/1/ml/mlflow`);
  if (boot.created && boot.token) {
    console.log(`  export MLFLOW_TRACKING_TOKEN=${boot.token}`);
    console.log('');
    console.log('  This admin token is shown once; keep it. Create more with: npm run admin -- token create --help');
  } else {
    console.log('  export MLFLOW_TRACKING_TOKEN=<your token>   (npm run admin -- token create --user admin --name me)');
  }
  console.log('');
});
server.keepAliveTimeout = 65_000;
answerParserErrors(server);

const shutdown = () => {
  server.close(() => void db.destroy().then(() => process.exit(0)));
  setTimeout(() => process.exit(0), 5000).unref();
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
