import fs from 'node:fs';
import http from 'node:http';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MYSQL_URL } from './helpers/db.ts';
import { canRunPrivateMariadb, migratedPrivateMariadb, PrivateMariadb, serveOutageApp } from './helpers/private-mariadb.ts';
import type { Db } from '../db/knex.ts';

/**
 * runs/search against a MariaDB frozen with SIGSTOP (issue 11), on a MariaDB of this test's own: before the search,
 * on its search statement, and while the page's runs are loaded (db/run-json.ts's prepared statements, which have a
 * timeout of their own since mysql2's execute() has none). Each time the client gets MLflow's 503
 * TEMPORARILY_UNAVAILABLE within the statement timeout plus a generous margin (never a hang, never a 500); a page
 * streamed in slices that freezes after its first slice was written is cut (the client sees no valid JSON, and no
 * hang). After SIGCONT the same search answers the same runs, and a burst of requests succeeds with no connection
 * left checked out of the pool.
 */
const TOKEN = 'mltpat-search-freeze-token-00000000000';
const BASE = '/api/v4/projects/1/ml/mlflow/api/2.0/mlflow';
const TIMEOUT_MS = 1500;
/** Proves "no hang", not a speed: two timeouts in a row plus scheduling on a busy 2-core machine. */
const BOUND_MS = 2 * TIMEOUT_MS + 3000;
const RUNS = 1100; // more than one streamed slice (routers/search.ts: 1000 runs)
const SEARCH = { experiment_ids: [] as string[], filter: 'metrics.m0 >= 0.25', order_by: ['metrics.m1 DESC'], max_results: 500 };

interface Answer {
  status?: number;
  body?: any;
  network?: string;
  ms: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** POST `route` with a JSON body, or GET it when body is undefined (route then carries its query). */
function call(port: number, route: string, body?: unknown): Promise<Answer> {
  const data = body === undefined ? '' : JSON.stringify(body);
  const t0 = Date.now();
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1', port, path: BASE + route, method: body === undefined ? 'GET' : 'POST', agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data), Authorization: `Bearer ${TOKEN}` },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c) => parts.push(c));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            return resolve({ status: res.statusCode, network: 'unparsable body', ms: Date.now() - t0 });
          }
          resolve({ status: res.statusCode, body: parsed, ms: Date.now() - t0 });
        });
        res.on('error', (e) => resolve({ status: res.statusCode, network: (e as { code?: string }).code ?? e.message, ms: Date.now() - t0 }));
        res.on('aborted', () => resolve({ status: res.statusCode, network: 'aborted', ms: Date.now() - t0 }));
      },
    );
    req.on('error', (e) => resolve({ network: (e as { code?: string }).code ?? e.message, ms: Date.now() - t0 }));
    req.end(data);
  });
}

async function ok(port: number, route: string, body: unknown): Promise<any> {
  const a = await call(port, route, body);
  expect(a.status, JSON.stringify(a)).toBe(200);
  return a.body;
}

const metric = (i: number, k: number) => ((i * 7919 + k * 104729) % 1000) / 1000;

describe.skipIf(!MYSQL_URL || !canRunPrivateMariadb)('runs/search on a frozen MySQL (private MariaDB)', () => {
  let maria: PrivateMariadb;
  let db: Db;
  let server: Server;
  let port: number;
  let dataDir: string;
  let expected: { runs: any[]; next_page_token?: string };
  let runIds: string[];
  /** Set by a test: SIGSTOP mariadbd when a statement matching it is sent (knex's 'query' event comes just before). */
  let freezeOn: RegExp | undefined;

  beforeAll(async () => {
    ({ maria, dataDir, db } = await migratedPrivateMariadb('search-freeze', TIMEOUT_MS));
    db.on('query', (q: { sql?: string }) => {
      if (freezeOn && q.sql && freezeOn.test(q.sql)) {
        freezeOn = undefined;
        freezeNow();
      }
    });
    ({ server, port } = await serveOutageApp(db, dataDir, TOKEN, TIMEOUT_MS));

    // the experiment: RUNS runs of 4 metrics, 4 params and 2 tags each, created 8 at a time
    const { experiment_id } = await ok(port, '/experiments/create', { name: 'freeze' });
    SEARCH.experiment_ids = [experiment_id];
    runIds = new Array(RUNS);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = next++; i < RUNS; i = next++) {
          const { run } = await ok(port, '/runs/create', { experiment_id, run_name: `r${i}`, start_time: 1_700_000_000_000 + i, tags: [{ key: 't0', value: `v${i}` }] });
          runIds[i] = run.info.run_id;
          await ok(port, '/runs/log-batch', {
            run_id: run.info.run_id,
            metrics: [0, 1, 2, 3].map((k) => ({ key: `m${k}`, value: metric(i, k), timestamp: 1_700_000_000_000 + i, step: 0 })),
            params: [0, 1, 2, 3].map((k) => ({ key: `p${k}`, value: `${i}-${k}` })),
            tags: [{ key: 't1', value: String(i % 7) }],
          });
        }
      }),
    );
    expected = await ok(port, '/runs/search', SEARCH);
  }, 300_000);

  afterAll(async () => {
    agent.destroy();
    server?.close();
    server?.closeAllConnections();
    await db?.destroy();
    await maria?.destroy();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /**
   * SIGSTOP, then wait (synchronously: the statement must not leave before) until every thread of mariadbd is stopped:
   * the kernel stops each thread on its way back to user space, not within kill(2).
   */
  let frozen = 0;
  function freezeNow() {
    maria.signal('SIGSTOP');
    const until = Date.now() + 5000;
    const stopped = () =>
      fs.readdirSync(`/proc/${maria.pid}/task`).every((t) => {
        const st = fs.readFileSync(`/proc/${maria.pid}/task/${t}/stat`, 'utf8');
        return /^[Tt]/.test(st.slice(st.lastIndexOf(')') + 2));
      });
    while (!stopped()) if (Date.now() > until) throw new Error('mariadbd did not stop');
    frozen++;
  }

  /** Searches while frozen (freeze() runs before the request is sent), then thaws; the answer and how long it took. */
  async function searchFrozen(freeze: () => void, body: unknown = SEARCH): Promise<Answer> {
    const before = frozen;
    freeze();
    try {
      const a = await call(port, '/runs/search', body);
      expect(frozen, 'the freeze happened').toBe(before + 1);
      return a;
    } finally {
      freezeOn = undefined;
      maria.signal('SIGCONT');
    }
  }

  function expect503(a: Answer, label: string) {
    console.log(`[figures] search frozen ${label}: ${a.status ?? a.network} ${a.body?.error_code ?? ''} after ${a.ms} ms (statement timeout ${TIMEOUT_MS} ms)`);
    expect(a.status, JSON.stringify(a)).toBe(503);
    expect(a.body).toEqual({ error_code: 'TEMPORARILY_UNAVAILABLE', message: expect.any(String) });
    expect(a.ms).toBeLessThan(BOUND_MS);
  }

  /** After a freeze: the same search gives the same answer, and 40 requests at once all succeed, the pool drained. */
  async function expectHealthy() {
    expect(await ok(port, '/runs/search', SEARCH)).toEqual(expected);
    const burst = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 2 ? call(port, '/runs/search', { ...SEARCH, max_results: 50 }) : call(port, `/runs/get?run_id=${runIds[i]}`),
      ),
    );
    expect(burst.filter((a) => a.status !== 200)).toEqual([]);
    expect(burst.filter((_, i) => i % 2).every((a) => JSON.stringify(a.body.runs) === JSON.stringify(expected.runs.slice(0, 50)))).toBe(true);
    const pool = (db.client as unknown as { pool: { numUsed(): number; numPendingAcquires(): number; numPendingCreates(): number } }).pool;
    expect({ used: pool.numUsed(), waiting: pool.numPendingAcquires(), creating: pool.numPendingCreates() }).toEqual({ used: 0, waiting: 0, creating: 0 });
  }

  it('the search answers the seeded runs in order (the values the frozen cases must give back)', () => {
    // m0 >= 0.25 keeps about 3/4 of the runs, so the page is full and has a next page
    expect(runIds.filter((_, i) => metric(i, 0) >= 0.25).length).toBeGreaterThan(500);
    expect(expected.runs).toHaveLength(500);
    expect(expected.next_page_token).toEqual(expect.any(String));
    const m1 = expected.runs.map((r) => r.data.metrics.find((m: any) => m.key === 'm1').value);
    expect(m1).toEqual([...m1].sort((a, b) => b - a));
    const first = expected.runs[0];
    const i = runIds.indexOf(first.info.run_id);
    expect(first.data.params).toEqual([0, 1, 2, 3].map((k) => ({ key: `p${k}`, value: `${i}-${k}` })));
    expect(first.data.metrics.find((m: any) => m.key === 'm0').value).toBe(metric(i, 0));
    expect(first.data.tags).toEqual(expect.arrayContaining([{ key: 't0', value: `v${i}` }, { key: 't1', value: String(i % 7) }]));
  });

  it('frozen before the search: 503 within the timeout, then the same answer', async () => {
    expect503(await searchFrozen(freezeNow), 'before the request');
    await expectHealthy();
  }, 60_000);

  it('frozen on the search statement: 503 within the timeout, then the same answer', async () => {
    expect503(await searchFrozen(() => (freezeOn = /SELECT r\.id AS id/)), 'on the search statement');
    await expectHealthy();
  }, 60_000);

  it("frozen while the page's runs are loaded (prepared statements): 503 within the timeout, then the same answer", async () => {
    expect503(await searchFrozen(() => (freezeOn = /latest_metrics x ON x\.run_id = j\.id/)), 'loading the runs');
    await expectHealthy();
  }, 60_000);

  it('frozen after the first streamed slice: the answer is cut (no valid JSON, no hang), then the same answer', async () => {
    // 1100 runs: a page of all of them is written in two slices; the second slice's statements freeze
    let loads = 0;
    const body = { ...SEARCH, filter: '', max_results: RUNS };
    const a = await searchFrozen(() => {
      freezeOn = { test: (sql: string) => /latest_metrics x ON x\.run_id = j\.id/.test(sql) && ++loads === 2 } as RegExp;
    }, body);
    console.log(`[figures] search frozen after the first slice: ${a.status} ${a.network ?? ''} after ${a.ms} ms`);
    expect(loads).toBe(2);
    expect(a.status).toBe(200); // the status line went out with the first slice
    expect(a.network).toEqual(expect.any(String));
    expect(a.ms).toBeLessThan(BOUND_MS);
    const whole = await ok(port, '/runs/search', body);
    expect(whole.runs).toHaveLength(RUNS);
    await expectHealthy();
  }, 60_000);
});
