/**
 * Prometheus metrics (prom-client), off unless MLTRACK_METRICS_PORT is set, and then served on that port only
 * (MLTRACK_METRICS_HOST, loopback by default), never on the public one:
 *
 *   mltrack_http_requests_total{method,route,status}              requests answered (route: server/route-label.ts)
 *   mltrack_http_request_duration_seconds{method,route,status}    their latency, a histogram
 *   mltrack_db_pool_connections{state="used"|"free"}               the knex (tarn) pool now; max in _max_connections
 *   mltrack_db_pool_pending_acquires, _pending_creates             requests waiting for a connection, and opening ones
 *   mltrack_db_pool_acquire_wait_seconds                           how long each acquisition waited, a histogram
 *   mltrack_db_pool_acquire_failures_total                         acquisitions that timed out or failed
 *   mltrack_db_transaction_retries_total{code}                     whole transactions retried (db/tx.ts withTransaction)
 *   mltrack_metric_points_ingested_total                           metric points committed by log-batch / log-metric
 *   plus prom-client's default process metrics (CPU, memory, event loop lag, GC).
 *
 * One registry per process. Under node:cluster each worker collects its own and answers the primary's
 * prom-client IPC request; the primary's startMetricsServer() serves their sum (counters and histograms add up across
 * workers; so do the pool gauges, which then say how many connections the whole server holds).
 * SQLite's pool is the same tarn pool with one connection: used/free says whether it is busy, pending acquires how
 * many requests queue for it.
 */
import cluster from 'node:cluster';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Config } from '../core/config.ts';
import type { Db } from '../db/knex.ts';
import { onPointsIngested, onTxRetry } from '../db/observe.ts';
import { routeLabels } from './route-label.ts';

/** The slice of tarn's Pool read here (knex 3 uses tarn 3). */
interface TarnPool {
  max: number;
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
  numPendingCreates(): number;
  on(event: 'acquireRequest' | 'acquireSuccess' | 'acquireFail', fn: (eventId: number, ...rest: unknown[]) => void): void;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
// Latency buckets, seconds: a metric batch answers in a few ms on loopback, an artifact upload may take seconds.
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const WAIT_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30];

interface Metrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route' | 'status'>;
  acquireWait: Histogram;
  acquireFailures: Counter;
  pools: Set<Db>;
}

let metrics: Metrics | undefined;

/** This process's registry and instruments, created (and subscribed to db's observers) on first use. */
export function processMetrics(): Metrics {
  if (metrics) return metrics;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const pools = new Set<Db>();
  const registers = [registry];
  const live = () => {
    const out: TarnPool[] = [];
    for (const db of pools) {
      const pool = (db.client as { pool?: TarnPool }).pool;
      if (pool) out.push(pool);
      else pools.delete(db); // destroyed
    }
    return out;
  };
  const sum = (f: (p: TarnPool) => number) => live().reduce((n, p) => n + f(p), 0);
  new Gauge({
    name: 'mltrack_db_pool_connections', help: 'Database pool connections by state (used: lent to a query or transaction; free: idle).',
    labelNames: ['state'], registers,
    collect() {
      this.set({ state: 'used' }, sum((p) => p.numUsed()));
      this.set({ state: 'free' }, sum((p) => p.numFree()));
    },
  });
  new Gauge({ name: 'mltrack_db_pool_max_connections', help: 'Database pool size limit.', registers, collect() { this.set(sum((p) => p.max)); } });
  new Gauge({
    name: 'mltrack_db_pool_pending_acquires', help: 'Requests waiting for a database connection now.', registers,
    collect() { this.set(sum((p) => p.numPendingAcquires())); },
  });
  new Gauge({
    name: 'mltrack_db_pool_pending_creates', help: 'Database connections being opened now.', registers,
    collect() { this.set(sum((p) => p.numPendingCreates())); },
  });
  const txRetries = new Counter({
    name: 'mltrack_db_transaction_retries_total', help: 'Whole transactions retried after a deadlock, lock wait timeout, Galera certification conflict or busy SQLite, by error code.',
    labelNames: ['code'], registers,
  });
  const points = new Counter({ name: 'mltrack_metric_points_ingested_total', help: 'Metric points committed (log-batch, log-metric).', registers });
  onTxRetry((code) => txRetries.inc({ code }));
  onPointsIngested((n) => points.inc(n));
  metrics = {
    registry,
    pools,
    requests: new Counter({ name: 'mltrack_http_requests_total', help: 'HTTP requests answered, by method, route and status.', labelNames: ['method', 'route', 'status'], registers }),
    duration: new Histogram({
      name: 'mltrack_http_request_duration_seconds', help: 'HTTP request latency, from the first byte read to the last byte written.',
      labelNames: ['method', 'route', 'status'], buckets: LATENCY_BUCKETS, registers,
    }),
    acquireWait: new Histogram({ name: 'mltrack_db_pool_acquire_wait_seconds', help: 'Time waited for a database connection.', buckets: WAIT_BUCKETS, registers }),
    acquireFailures: new Counter({ name: 'mltrack_db_pool_acquire_failures_total', help: 'Connection acquisitions that failed or timed out.', registers }),
  };
  if (cluster.isWorker) {
    // prom-client answers the primary's request from the registries set here; constructing an AggregatorRegistry
    // is what installs that IPC listener in a worker.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([registry]);
  }
  return metrics;
}

/** Counts a database's pool in the pool gauges and times its acquisitions. Idempotent. */
export function instrumentPool(db: Db): void {
  const m = processMetrics();
  if (m.pools.has(db)) return;
  m.pools.add(db);
  const pool = (db.client as { pool?: TarnPool }).pool;
  if (!pool) return;
  const started = new Map<number, bigint>();
  pool.on('acquireRequest', (id) => void started.set(id, process.hrtime.bigint()));
  pool.on('acquireSuccess', (id) => {
    const t = started.get(id);
    started.delete(id);
    if (t !== undefined) m.acquireWait.observe(Number(process.hrtime.bigint() - t) / 1e9);
  });
  pool.on('acquireFail', (id) => {
    started.delete(id);
    m.acquireFailures.inc();
  });
}

/** Express middleware: counts and times every request by method, route label and status; instruments db's pool. */
export function httpMetrics(db: Db) {
  const m = processMetrics();
  instrumentPool(db);
  return (req: Request, res: Response, next: NextFunction) => {
    const start = process.hrtime.bigint();
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const method = METHODS.has(req.method) ? req.method : 'OTHER';
      // a response cut before its end (client gone, drain over) is counted apart from the status it started with
      const status = res.writableFinished ? String(res.statusCode) : 'aborted';
      for (const route of routeLabels(req.method, req.originalUrl)) {
        m.requests.inc({ method, route, status });
        m.duration.observe({ method, route, status }, seconds);
      }
    });
    next();
  };
}

function listen(config: Config, text: () => Promise<string>, contentType: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found: metrics are at GET /metrics\n');
      return;
    }
    text().then(
      (body) => void res.writeHead(200, { 'Content-Type': contentType }).end(req.method === 'HEAD' ? undefined : body),
      (err: Error) => void res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.metricsPort, config.metricsHost, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export function metricsUrl(server: http.Server): string {
  const a = server.address() as AddressInfo;
  return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/metrics`;
}

/**
 * Serves metrics on MLTRACK_METRICS_PORT, if set; resolves to the listener (undefined when off). Call it once, in the
 * process that owns the port (a single server, or the primary of a node:cluster, in any order with the fork calls):
 * while the process has cluster workers, a scrape answers the sum of their registries, asked over IPC
 * (prom-client's AggregatorRegistry; a worker that does not answer within 5 s fails that scrape with 500); without
 * workers, its own registry. In a cluster worker it does nothing.
 */
export async function startMetricsServer(config: Config): Promise<http.Server | undefined> {
  if (config.metricsPort === undefined || cluster.isWorker) return undefined;
  const { registry } = processMetrics();
  // constructing it installs the primary's listener for the workers' answers
  const aggregator = new AggregatorRegistry();
  const hasWorkers = () => Object.values(cluster.workers ?? {}).some((w) => w?.isConnected());
  const server = await listen(
    config,
    () => (hasWorkers() ? aggregator.clusterMetrics() : registry.metrics()),
    registry.contentType,
  );
  console.log(`mltrack metrics on ${metricsUrl(server)}`);
  return server;
}
