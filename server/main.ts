import { loadConfig } from '../core/config.ts';
import { createDb } from '../db/knex.ts';
import { migrateLatest } from '../db/migrate.ts';
import { createApp } from './app.ts';
import { bootstrap } from './bootstrap.ts';
import { answerParserErrors } from './http.ts';
import { trackConnections } from './drain.ts';
import { VERSION } from './version.ts';
import { startMetricsServer } from './metrics.ts';

const config = loadConfig();
// Migrations may rebuild large tables: they run on their own connection without the statement bound.
const migrator = createDb(config.databaseUrl, config.dataDir, { timeoutMs: 0 });
await migrateLatest(migrator);
await migrator.destroy();
const db = createDb(config.databaseUrl, config.dataDir, { timeoutMs: config.dbTimeoutMs });
const boot = await bootstrap(db, config.initialToken);
const app = createApp({ db, config, accessLog: config.accessLog });
await startMetricsServer(config); // MLTRACK_METRICS_PORT: its own listener, off by default

const server = app.listen(config.port, config.host, () => {
  const host = config.publicUrl ?? `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  const where = config.databaseUrl ? 'MySQL' : `SQLite in ${config.dataDir}`;
  console.log(`mltrack ${VERSION} listening on ${host} (${where}), pid ${process.pid}`);
  console.log('');
  console.log(`  Web UI: ${host}/   (sign in with the token below)`);
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
const connections = trackConnections(server);

// SIGTERM (supervisors, containers) and SIGINT (Ctrl-C) drain: stop accepting, answer what is in flight, close the
// pool, exit 0; if requests are still running after MLTRACK_DRAIN_TIMEOUT_MS they are cut and the exit code is 1.
// A second signal more than 2 s after the first forces the exit at once (one sooner is the same stop arriving twice:
// a signal to the process group reaches npm, which forwards it, and the server).
let stopping = 0;
const shutdown = async (signal: NodeJS.Signals) => {
  if (stopping && Date.now() - stopping < 2000) return;
  if (stopping) {
    console.error(`[mltrack] ${signal} again: exiting now with ${connections.inFlight()} request(s) in flight`);
    process.exit(1);
  }
  stopping = Date.now();
  console.log(`[mltrack] ${signal}: draining ${connections.inFlight()} request(s) in flight (up to ${config.drainTimeoutMs} ms)`);
  const { forced, cut } = await connections.drain(config.drainTimeoutMs);
  await db.destroy().catch(() => undefined);
  if (forced) console.error(`[mltrack] drain time over: ${cut} request(s) cut`);
  else console.log('[mltrack] drained; bye');
  process.exit(forced ? 1 : 0);
};
process.on('SIGINT', (s) => void shutdown(s));
process.on('SIGTERM', (s) => void shutdown(s));
