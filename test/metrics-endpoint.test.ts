import cluster from 'node:cluster';
import net from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi } from './helpers/mlflow.ts';
import { loadConfig } from '../core/config.ts';
import { createApp } from '../server/app.ts';
import { metricsUrl, startMetricsServer } from '../server/metrics.ts';
import { routeLabels } from '../server/route-label.ts';
import { createDb } from '../db/knex.ts';
import { withTransaction } from '../db/tx.ts';

/**
 * The Prometheus endpoint (server/metrics.ts) over real HTTP: counters and histograms move by exactly what was
 * done. The registry is the test process's, shared by both databases' suites, so every assertion is on a
 * difference between two scrapes.
 */

type Samples = Map<string, number>;

/** `name{a="x",b="y"}` → value, labels in the order written; Prometheus text format. */
function parse(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+?(?:\{.*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

const key = (name: string, labels: Record<string, string> = {}) => {
  const l = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
  return l ? `${name}{${l}}` : name;
};

const tick = () => new Promise((r) => setTimeout(r, 10));

describe('route labels', () => {
  it('name the procedure or the route template, never an id', () => {
    const p = '/api/v4/projects/17/ml/mlflow/api/2.0/mlflow';
    expect(routeLabels('POST', `${p}/runs/log-batch`)).toEqual(['runs.logBatch']);
    expect(routeLabels('GET', '/api/2.0/mlflow/runs/get?run_id=abc')).toEqual(['runs.get']);
    expect(routeLabels('GET', '/api/v4/projects/group%2Fproject/ml/mlflow/ajax-api/2.0/mlflow/experiments/get')).toEqual(['experiments.get']);
    expect(routeLabels('GET', `${p}/logged-models/m-0123456789abcdef`)).toEqual(['loggedModels.get']);
    expect(routeLabels('DELETE', `${p}/logged-models/m-1/tags/some-key`)).toEqual(['loggedModels.deleteTag']);
    expect(routeLabels('GET', `${p}/no/such/endpoint/12345`)).toEqual(['unmatched']);
    const a = '/api/v4/projects/3/ml/mlflow/api/2.0/mlflow-artifacts';
    expect(routeLabels('PUT', `${a}/artifacts/1/abc/artifacts/model.pkl`)).toEqual(['/mlflow-artifacts/artifacts/<path>']);
    expect(routeLabels('GET', `${a}/artifacts?path=1/abc`)).toEqual(['/mlflow-artifacts/artifacts']);
    expect(routeLabels('POST', `${a}/mpu/create/x`)).toEqual(['/mlflow-artifacts/mpu/create/<path>']);
    expect(routeLabels('GET', '/api/v4/projects/9/trpc/experiments.list,runs.get?batch=1')).toEqual(['experiments.list', 'runs.get']);
    expect(routeLabels('GET', '/api/v4/trpc/no.such,%E0')).toEqual(['unmatched']);
    expect(routeLabels('GET', '/health')).toEqual(['/health']);
    expect(routeLabels('GET', '/assets/index-1234abcd.js')).toEqual(['/assets/*']);
    expect(routeLabels('GET', '/wp-login.php')).toEqual(['unmatched']);
  });
});

describe('metrics are off by default', () => {
  it('no setting: no listener, no port', async () => {
    expect(loadConfig({}).metricsPort).toBeUndefined();
    expect(loadConfig({}).metricsHost).toBe('127.0.0.1');
    expect(await startMetricsServer(loadConfig({}))).toBeUndefined();
    expect(() => loadConfig({ MLTRACK_METRICS_PORT: 'x' })).toThrow(/MLTRACK_METRICS_PORT/);
  });
});

describe('under node:cluster', () => {
  it("the primary serves the sum of its workers' registries", async () => {
    // a free port for the workers to share (cluster hands the primary's listening socket to them)
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(p));
      });
    });
    const primary = (await startMetricsServer(loadConfig({ MLTRACK_METRICS_PORT: '0' })))!;
    cluster.setupPrimary({ exec: new URL('./fixtures/metrics-worker.ts', import.meta.url).pathname, execArgv: ['--import', 'tsx'], silent: true });
    const plan = [{ requests: 3, points: 10 }, { requests: 5, points: 32 }];
    const workers = plan.map((p) =>
      cluster.fork({ FIXTURE_PORT: String(port), FIXTURE_REQUESTS: String(p.requests), FIXTURE_POINTS: String(p.points) }),
    );
    try {
      await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
        w.once('message', () => resolve());
        w.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
      })));
      await tick();
      const samples = parse(await (await fetch(metricsUrl(primary))).text());
      expect(samples.get(key('mltrack_http_requests_total', { method: 'GET', route: '/health', status: '200' }))).toBe(8);
      expect(samples.get(key('mltrack_http_request_duration_seconds_count', { method: 'GET', route: '/health', status: '200' }))).toBe(8);
      expect(samples.get('mltrack_metric_points_ingested_total')).toBe(42);
      // each worker's SQLite pool: one connection at most
      expect(samples.get('mltrack_db_pool_max_connections')).toBe(2);
    } finally {
      await Promise.all(workers.map((w) => new Promise((r) => {
        w.once('exit', r);
        w.disconnect();
      })));
      await new Promise((r) => primary.close(r));
    }
  });
});

describe.each(DB_KINDS)('Prometheus metrics (%s)', (kind) => {
  let s: TestServer;
  let metrics: Server;
  let url: string;
  beforeAll(async () => {
    s = await startServer(kind, { MLTRACK_METRICS_PORT: '0' });
    metrics = (await startMetricsServer(loadConfig({ DATA_DIR: s.t.dataDir, MLTRACK_METRICS_PORT: '0' })))!;
    url = metricsUrl(metrics);
  });
  afterAll(async () => {
    await new Promise((r) => metrics?.close(r));
    await s?.close();
  });
  const api = mlflowApi(() => s);
  const scrape = async (): Promise<Samples> => {
    await tick(); // counting happens when the response's 'close' event fires, after the client has its answer
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    return parse(await res.text());
  };
  const delta = (a: Samples, b: Samples, name: string, labels?: Record<string, string>) =>
    (b.get(key(name, labels)) ?? 0) - (a.get(key(name, labels)) ?? 0);

  it('counts requests by route and status, with a latency histogram, and no id in any label', async () => {
    const run = await api.newRun('0');
    const before = await scrape();
    for (let i = 0; i < 3; i++) expect((await api.get('/runs/get', { run_id: run.info.run_id })).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await api.get('/runs/get', { run_id: 'f'.repeat(32) })).status).toBe(404);
    expect((await api.get('/runs/get', { run_id: run.info.run_id }, { token: 'mltpat-nope' })).status).toBe(401);
    const after = await scrape();
    const ok = { method: 'GET', route: 'runs.get', status: '200' };
    expect(delta(before, after, 'mltrack_http_requests_total', ok)).toBe(3);
    expect(delta(before, after, 'mltrack_http_requests_total', { ...ok, status: '404' })).toBe(2);
    expect(delta(before, after, 'mltrack_http_requests_total', { ...ok, status: '401' })).toBe(1);
    expect(delta(before, after, 'mltrack_http_request_duration_seconds_count', ok)).toBe(3);
    expect(delta(before, after, 'mltrack_http_request_duration_seconds_bucket', { le: '+Inf', ...ok })).toBe(3);
    expect(delta(before, after, 'mltrack_http_request_duration_seconds_sum', ok)).toBeGreaterThan(0);
    // buckets are cumulative: never more below a bound than below the next one
    const bounds = [...after.keys()].filter((k) => k.startsWith('mltrack_http_request_duration_seconds_bucket{') && k.endsWith('method="GET",route="runs.get",status="200"}'));
    expect(bounds.length).toBe(15);
    const counts = bounds.map((k) => after.get(k)!);
    expect(counts).toEqual([...counts].sort((x, y) => x - y));
    const text = await (await fetch(url)).text();
    expect(text).not.toContain(run.info.run_id);
    expect(text).not.toContain('f'.repeat(32));
  });

  it('counts the metric points ingested: exactly the points logged and acknowledged', async () => {
    const runId = (await api.newRun('0')).info.run_id;
    const before = await scrape();
    const batch = (n: number, from: number) => Array.from({ length: n }, (_, i) => ({ key: `m${i % 7}`, value: i, timestamp: 1, step: from + i }));
    for (const [n, from] of [[100, 0], [250, 100], [7, 350]] as const) {
      expect((await api.post('/runs/log-batch', { run_id: runId, metrics: batch(n, from) })).status).toBe(200);
    }
    for (let i = 0; i < 5; i++) expect((await api.post('/runs/log-metric', { run_id: runId, key: 'single', value: i, timestamp: 2, step: i })).status).toBe(200);
    expect((await api.post('/runs/log-batch', { run_id: runId, params: [{ key: 'p', value: '1' }] })).status).toBe(200);
    // refused: a run that does not exist; nothing was ingested
    expect((await api.post('/runs/log-batch', { run_id: 'e'.repeat(32), metrics: batch(10, 0) })).status).toBe(404);
    const after = await scrape();
    expect(delta(before, after, 'mltrack_metric_points_ingested_total')).toBe(100 + 250 + 7 + 5);
    expect(delta(before, after, 'mltrack_http_requests_total', { method: 'POST', route: 'runs.logBatch', status: '200' })).toBe(4);
    expect(delta(before, after, 'mltrack_http_requests_total', { method: 'POST', route: 'runs.logMetric', status: '200' })).toBe(5);
  });

  it('reports the pool: its size, connections in use, and requests waiting for one', async () => {
    const max = kind === 'sqlite' ? 1 : 10;
    const idle = await scrape();
    expect(idle.get('mltrack_db_pool_max_connections')).toBe(max);
    expect(idle.get('mltrack_db_pool_pending_acquires')).toBe(0);
    expect(idle.get(key('mltrack_db_pool_connections', { state: 'used' }))).toBe(0);
    // every pool connection held by a transaction: the next request queues for one
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const held: Promise<unknown>[] = [];
    let holding = 0;
    let allHeld!: () => void;
    const allHeldP = new Promise<void>((r) => (allHeld = r));
    for (let i = 0; i < max; i++) {
      held.push(s.t.db.transaction(async (trx) => {
        await trx.raw('select 1');
        if (++holding === max) allHeld();
        await released;
      }));
    }
    await allHeldP;
    const waiting = api.get('/experiments/get', { experiment_id: '0' });
    const pending = waiting.then((r) => r); // supertest sends on then()
    let busy: Samples | undefined;
    for (let i = 0; i < 500; i++) {
      busy = await scrape();
      if (busy.get('mltrack_db_pool_pending_acquires')! >= 1) break;
    }
    expect(busy!.get('mltrack_db_pool_pending_acquires')).toBe(1);
    expect(busy!.get(key('mltrack_db_pool_connections', { state: 'used' }))).toBe(max);
    expect(busy!.get(key('mltrack_db_pool_connections', { state: 'free' }))).toBe(0);
    release();
    await Promise.all(held);
    expect((await pending).status).toBe(200);
    const after = await scrape();
    expect(after.get('mltrack_db_pool_pending_acquires')).toBe(0);
    expect(delta(idle, after, 'mltrack_db_pool_acquire_wait_seconds_count')).toBeGreaterThanOrEqual(max + 1);
    expect(delta(idle, after, 'mltrack_db_pool_acquire_wait_seconds_sum')).toBeGreaterThan(0);
  });

  it('counts transaction retries by error code after a real conflict', async () => {
    await s.t.db.schema.createTable('scratch_lock', (t) => {
      t.integer('id').primary();
      t.integer('v');
    });
    await s.t.db('scratch_lock').insert([{ id: 1, v: 0 }, { id: 2, v: 0 }]);
    const before = await scrape();
    if (kind === 'mysql') {
      // A deadlock: A holds row 1 and wants row 2, B holds row 2 and wants row 1; InnoDB rolls one back (1213)
      // and withTransaction runs it again, now alone.
      let aHas!: () => void, bHas!: () => void;
      const aHasP = new Promise<void>((r) => (aHas = r));
      const bHasP = new Promise<void>((r) => (bHas = r));
      const attempts = { a: 0, b: 0 };
      const side = (me: 'a' | 'b', first: number, second: number, mine: () => void, theirs: Promise<void>) =>
        withTransaction(s.t.db, async (trx) => {
          attempts[me]++;
          await trx('scratch_lock').where({ id: first }).increment('v', 1);
          if (attempts[me] === 1) {
            mine();
            await theirs;
          }
          await trx('scratch_lock').where({ id: second }).increment('v', 1);
        });
      await Promise.all([side('a', 1, 2, aHas, bHasP), side('b', 2, 1, bHas, aHasP)]);
      expect(attempts.a + attempts.b).toBe(3);
      const after = await scrape();
      expect(delta(before, after, 'mltrack_db_transaction_retries_total', { code: 'ER_LOCK_DEADLOCK' })).toBe(1);
    } else {
      // Another process's write lock: a second connection to the same file waits its busy timeout (50 ms here),
      // gets SQLITE_BUSY, and withTransaction retries; the holder lets go once the retry is counted.
      const other = createDb(undefined, s.t.dataDir, { timeoutMs: 50 });
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      let locked!: () => void;
      const lockedP = new Promise<void>((r) => (locked = r));
      const holder = s.t.db.transaction(async (trx) => {
        await trx('scratch_lock').where({ id: 1 }).update({ v: 100 });
        locked();
        await released;
      });
      await lockedP;
      const { onTxRetry } = await import('../db/observe.ts');
      const stop = onTxRetry(() => release());
      try {
        await withTransaction(other, (trx) => trx('scratch_lock').where({ id: 2 }).update({ v: 200 }).then(() => undefined));
        await holder;
      } finally {
        stop();
        release();
        await other.destroy();
      }
      const after = await scrape();
      expect(delta(before, after, 'mltrack_db_transaction_retries_total', { code: 'SQLITE_BUSY' })).toBeGreaterThanOrEqual(1);
    }
    expect(await s.t.db('scratch_lock').orderBy('id').pluck('v')).toEqual(kind === 'mysql' ? [2, 2] : [100, 200]);
  });

  it('is never served on the public port; the metrics port serves nothing else', async () => {
    const res = await s.request.get('/metrics');
    expect(res.status).toBe(404);
    expect(res.body.error_code).toBe('ENDPOINT_NOT_FOUND');
    const other = await fetch(url.replace(/\/metrics$/, '/health'));
    expect(other.status).toBe(404);
    await other.text();
  });

  it('an app without the setting counts nothing', async () => {
    const app = createApp({ db: s.t.db, config: loadConfig({ DATA_DIR: s.t.dataDir }) });
    const before = await scrape();
    expect((await supertest(app).get('/version')).status).toBe(200);
    const after = await scrape();
    expect(delta(before, after, 'mltrack_http_requests_total', { method: 'GET', route: '/version', status: '200' })).toBe(0);
  });
});
