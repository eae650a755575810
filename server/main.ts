import cluster from 'node:cluster';
import { loadConfig } from '../core/config.ts';
import { createDb } from '../db/knex.ts';
import { migrateLatest } from '../db/migrate.ts';
import { bootstrap, type BootstrapResult } from './bootstrap.ts';
import { defaultWorkers, markWorker, runPrimary, workerWriteGate } from './workers.ts';
import { setWriteGate } from '../db/tx.ts';
import { VERSION } from './version.ts';
import { startMetricsServer } from './metrics.ts';

const config = loadConfig();
const mysql = /^mysql2?:\/\//.test(config.databaseUrl ?? '');
const workers = config.workers ?? defaultWorkers(mysql);

function banner(boot: BootstrapResult, pids: string) {
  const host = config.publicUrl ?? `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  const where = config.databaseUrl ? 'MySQL' : `SQLite in ${config.dataDir}`;
  console.log(`mltrack ${VERSION} listening on ${host} (${where}), pid ${pids}`);
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
}

let boot: BootstrapResult = { created: false };
if (cluster.isPrimary) {
  // Migrations may rebuild large tables: they run on their own connection without the statement bound.
  const migrator = createDb(config.databaseUrl, config.dataDir, { timeoutMs: 0 });
  await migrateLatest(migrator);
  // bootstrap runs once, here, before any worker starts
  try {
    boot = await bootstrap(migrator, config.initialToken);
  } finally {
    await migrator.destroy();
  }
  // MLTRACK_METRICS_PORT: its own listener, off by default; in the primary, which serves the workers' sum
  await startMetricsServer(config);
}

if (cluster.isPrimary && workers > 1) {
  runPrimary({ workers, drainTimeoutMs: config.drainTimeoutMs, onListening: (pids) => banner(boot, `${process.pid}, ${workers} workers (${pids.join(', ')})`) });
} else {
  // loaded here, not at the top: a primary with workers never serves (measured idle RSS: primary 64 MB, each worker 87 MB)
  const { createApp } = await import('./app.ts');
  const { answerParserErrors, httpServer } = await import('./http.ts');
  const { trackConnections } = await import('./drain.ts');
  const db = createDb(config.databaseUrl, config.dataDir, { timeoutMs: config.dbTimeoutMs });
  const app = createApp({ db, config, accessLog: config.accessLog });
  const server = httpServer(app).listen(config.port, config.host, () => {
    if (cluster.isPrimary) banner(boot, String(process.pid));
  });
  server.keepAliveTimeout = 65_000;
  if (cluster.isWorker) markWorker(server);
  if (cluster.isWorker && !mysql) setWriteGate(workerWriteGate(config.dbTimeoutMs));
  answerParserErrors(server);
  const connections = trackConnections(server);

  // SIGTERM (supervisors, containers) and SIGINT (Ctrl-C) drain: stop accepting, answer what is in flight, close the
  // pool, exit 0; if requests are still running after MLTRACK_DRAIN_TIMEOUT_MS they are cut and the exit code is 1.
  // A second signal more than 2 s after the first forces the exit at once (one sooner is the same stop arriving twice:
  // a signal to the process group reaches npm, which forwards it, and the server). With workers, the primary
  // (server/workers.ts) forwards its signal to each worker, which drains here.
  let stopping = 0;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping && Date.now() - stopping < 2000) return;
    if (stopping) {
      console.error(`[mltrack] ${signal} again: exiting now with ${connections.inFlight()} request(s) in flight`);
      process.exit(1);
    }
    stopping = Date.now();
    const who = cluster.isWorker ? `worker ${process.pid}` : 'mltrack';
    console.log(`[${who}] ${signal}: draining ${connections.inFlight()} request(s) in flight (up to ${config.drainTimeoutMs} ms)`);
    const { forced, cut } = await connections.drain(config.drainTimeoutMs);
    await db.destroy().catch(() => undefined);
    if (forced) console.error(`[${who}] drain time over: ${cut} request(s) cut`);
    else console.log(`[${who}] drained; bye`);
    process.exit(forced ? 1 : 0);
  };
  process.on('SIGINT', (s) => void shutdown(s));
  process.on('SIGTERM', (s) => void shutdown(s));
}
