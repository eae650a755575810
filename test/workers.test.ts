import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { DB_KINDS, freshDb, type TestDb } from './helpers/db.ts';
import { freePort, groupPids, startNpm, type StartedServer } from './helpers/load.ts';

/**
 * The server with MLTRACK_WORKERS=2, started as the README says (`npm start`), on both databases (issue 11, item 1):
 * both workers answer on the one port; parallel log-batch requests into one run through both workers are all
 * answered 200 (no SQLITE_BUSY or deadlock reaches a client) and every point is stored once; a worker killed with
 * SIGKILL is replaced; the metrics listener (MLTRACK_METRICS_PORT) counts both workers' points; SIGTERM to the server
 * drains every worker and exits 0.
 */
const TOKEN = 'mltpat-workers-test-token-00000000000000';
const BASE = '/api/v4/projects/1/ml/mlflow/api/2.0/mlflow';

interface Answer {
  status: number;
  body: any;
  worker: string | undefined;
}

function request(port: number, method: string, path: string, agent: http.Agent | false, body?: unknown): Promise<Answer> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1', port, method, path, agent,
        headers: { Authorization: `Bearer ${TOKEN}`, ...(data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // /health answers text
          }
          resolve({ status: res.statusCode!, body: parsed, worker: res.headers['x-mltrack-worker'] as string | undefined });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Worker pids seen over `n` fresh connections to /health. */
async function workersSeen(port: number, n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const r = await request(port, 'GET', '/health', false);
    expect(r.status).toBe(200);
    expect(r.body).toBe('OK');
    seen.add(r.worker!);
  }
  return seen;
}

describe.each(DB_KINDS)('two worker processes (%s)', (kind) => {
  const dbs: TestDb[] = [];
  const servers: StartedServer[] = [];
  afterAll(async () => {
    for (const s of servers) if (s.proc.exitCode === null) process.kill(-s.proc.pid!, 'SIGKILL');
    for (const t of dbs) await t.drop();
  });

  it('both serve one port; parallel writes into one run through both are all stored; a killed worker is replaced; SIGTERM drains', async () => {
    const t = await freshDb(kind);
    dbs.push(t);
    const env: Record<string, string> = { DATA_DIR: t.dataDir, MLTRACK_INITIAL_TOKEN: TOKEN, MLTRACK_WORKERS: '2', MLTRACK_DRAIN_TIMEOUT_MS: '10000' };
    if (t.url) env.DATABASE_URL = t.url;
    const port = await freePort();
    const metricsPort = await freePort();
    env.MLTRACK_METRICS_PORT = String(metricsPort);
    const server = await startNpm(env, port);
    servers.push(server);
    expect(server.output()).toMatch(/listening on .*, 2 workers \(\d+, \d+\)/);

    // both workers answer (the primary hands connections out round-robin)
    const first = await workersSeen(port, 10);
    expect(first.size).toBe(2);

    const created = await request(port, 'POST', `${BASE}/runs/create`, false, { experiment_id: '0', run_name: 'two-workers' });
    expect(created.status).toBe(200);
    const runId: string = created.body.run.info.run_id;

    // 400 batches of 5 points (2000 unique steps) over 16 keep-alive connections, all in flight at once
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const BATCHES = 400;
    const answers = await Promise.all(
      Array.from({ length: BATCHES }, (_, b) =>
        request(port, 'POST', `${BASE}/runs/log-batch`, agent, {
          run_id: runId,
          metrics: Array.from({ length: 5 }, (_, i) => ({ key: 'loss', value: b * 5 + i, timestamp: 1000 + b, step: b * 5 + i })),
          params: [{ key: `p${b}`, value: String(b) }],
          tags: [{ key: 'last', value: String(b) }],
        }),
      ),
    );
    agent.destroy();
    const bad = answers.filter((a) => a.status !== 200).map((a) => `${a.status} ${JSON.stringify(a.body)}`);
    expect(bad).toEqual([]);
    const byWorker = new Map<string, number>();
    for (const a of answers) byWorker.set(a.worker!, (byWorker.get(a.worker!) ?? 0) + 1);
    console.log(`[figures] ${kind} 2 workers: ${BATCHES} parallel batches into one run, per worker ${JSON.stringify(Object.fromEntries(byWorker))}`);
    expect([...byWorker.keys()].sort()).toEqual([...first].sort());

    // nothing lost, nothing doubled: every step once, through the API
    const history = await request(port, 'GET', `${BASE}/metrics/get-history?run_id=${runId}&metric_key=loss`, false);
    expect(history.status).toBe(200);
    const steps = (history.body.metrics as { step: number; value: number }[]).map((m) => Number(m.step)).sort((a, b) => a - b);
    expect(steps).toEqual(Array.from({ length: BATCHES * 5 }, (_, i) => i));
    const run = await request(port, 'GET', `${BASE}/runs/get?run_id=${runId}`, false);
    expect(run.body.run.data.params).toHaveLength(BATCHES);

    // the primary's metrics listener sums both workers' counters
    const metrics = await request(metricsPort, 'GET', '/metrics', false);
    expect(metrics.status).toBe(200);
    expect(String(metrics.body)).toMatch(new RegExp(`^mltrack_metric_points_ingested_total ${BATCHES * 5}$`, 'm'));

    // a worker that dies is replaced, and the server goes on answering on the same port
    const victim = Number([...first][0]);
    process.kill(victim, 'SIGKILL');
    let now = new Set<string>();
    for (let i = 0; i < 100 && !(now.size === 2 && !now.has(String(victim))); i++) {
      await new Promise((r) => setTimeout(r, 100));
      now = await workersSeen(port, 4);
    }
    expect(now.has(String(victim))).toBe(false);
    expect(now.size).toBe(2);
    expect(server.output()).toMatch(new RegExp(`worker ${victim} died unexpectedly \\(signal SIGKILL\\)`));

    // SIGTERM to the server's process group (npm, the primary, the workers) drains and exits 0
    process.kill(-server.proc.pid!, 'SIGTERM');
    const exit = await server.exited;
    for (let i = 0; i < 200 && (await groupPids(server.proc.pid!)).length; i++) await new Promise((r) => setTimeout(r, 25));
    expect(await groupPids(server.proc.pid!)).toEqual([]);
    expect(exit.code).toBe(0);
    expect(server.output()).toMatch(/all workers drained; bye/);
  }, 180_000);
});
