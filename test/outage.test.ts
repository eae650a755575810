import fs from 'node:fs';
import http from 'node:http';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MYSQL_URL } from './helpers/db.ts';
import { canRunPrivateMariadb, migratedPrivateMariadb, PrivateMariadb, serveOutageApp } from './helpers/private-mariadb.ts';
import { startWriters, storedPoints, waitForAcks, type Outcome } from './helpers/load.ts';
import { createDb, type Db } from '../db/knex.ts';

/**
 * A database outage under 8 concurrent writers (issue 9), on a MariaDB of this test's own:
 * - killed: every request is answered 200 or 503 TEMPORARILY_UNAVAILABLE (MLflow JSON) within 2 s, /ready says
 *   unready, and the first 200 comes within 2 s of the database's return, without restarting mltrack;
 * - frozen (SIGSTOP): every request is answered within the statement timeout plus 1 s, with 200 or 503.
 * Every acknowledged write is stored exactly once afterwards. Figures are printed for the report.
 */
const TOKEN = 'mltpat-outage-test-token-0000000000000';
const BASE = '/api/v4/projects/1/ml/mlflow/api/2.0/mlflow';
const TIMEOUT_MS = 2000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ready(port: number): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/ready', agent: false }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    }).on('error', reject);
  });
}

function figures(label: string, outcomes: Outcome[], extra = '') {
  const by = new Map<string, number>();
  for (const o of outcomes) {
    const k = o.network ?? `${o.status}${o.errorCode ? ' ' + o.errorCode : ''}`;
    by.set(k, (by.get(k) ?? 0) + 1);
  }
  console.log(`[figures] ${label}: ${[...by].map(([k, v]) => `${k}=${v}`).join(', ')}; longest wait ${Math.max(0, ...outcomes.map((o) => o.ms))} ms${extra}`);
}

/** Every answer is 200 or MLflow's 503, none is a network error. */
function expectOnly200or503(outcomes: Outcome[]) {
  const bad = outcomes.filter((o) => !(o.status === 200 || (o.status === 503 && o.errorCode === 'TEMPORARILY_UNAVAILABLE')));
  expect(bad).toEqual([]);
}

describe.skipIf(!MYSQL_URL || !canRunPrivateMariadb)('database outage under load (mysql, private MariaDB)', () => {
  let maria: PrivateMariadb;
  let db: Db;
  let server: Server;
  let port: number;
  let dataDir: string;
  beforeAll(async () => {
    ({ maria, dataDir, db } = await migratedPrivateMariadb('outage', TIMEOUT_MS));
    ({ server, port } = await serveOutageApp(db, dataDir, TOKEN, TIMEOUT_MS));
  }, 120_000);
  afterAll(async () => {
    server?.close();
    server?.closeAllConnections();
    await db?.destroy();
    await maria?.destroy();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function checkStored(runIds: string[], acked: Set<string>) {
    const fresh = createDb(maria.url, dataDir);
    try {
      const stored = await storedPoints(fresh, runIds);
      expect([...acked].filter((k) => stored.get(k) !== 1)).toEqual([]);
      expect([...stored.values()].every((n) => n === 1)).toBe(true);
    } finally {
      await fresh.destroy();
    }
  }

  it('killed: 200 or 503 within 2 s, /ready unready, first 200 within 2 s of the return', async () => {
    expect(await ready(port)).toEqual({ status: 200, body: { status: 'ready' } });
    const w = await startWriters({ port, base: BASE, token: TOKEN, n: 8, stopOnGone: false, pauseMs: 5 });
    await waitForAcks(w, 100);
    const killedAt = Date.now();
    await maria.kill();
    await sleep(1500);
    const during = await ready(port);
    expect(during.status).toBe(503);
    expect(during.body.error_code).toBe('TEMPORARILY_UNAVAILABLE');
    await sleep(1500);
    const restartAt = Date.now();
    await maria.start();
    const backAt = Date.now();
    await sleep(2500);
    w.stop();
    await w.done;
    expect((await ready(port)).status).toBe(200);
    // the first 200 among requests sent after the database came back, counted from its return
    const firstOk = Math.min(...w.outcomes.filter((o) => o.status === 200 && w.t0 + o.start >= backAt).map((o) => w.t0 + o.start + o.ms));
    const outage = w.outcomes.filter((o) => o.status === 503);
    figures('mysql killed', w.outcomes, `; database down ${restartAt - killedAt} ms (restart took ${backAt - restartAt} ms); first 200 ${firstOk - backAt} ms after its return; /ready during: ${during.status}`);
    expectOnly200or503(w.outcomes);
    expect(outage.length).toBeGreaterThan(0);
    expect(w.outcomes.filter((o) => o.ms > 2000)).toEqual([]);
    expect(firstOk - backAt).toBeLessThan(2000);
    await checkStored(w.runIds, w.acked);
  }, 180_000);

  it('frozen (SIGSTOP): every request answered within the statement timeout + 1 s, 200 or 503', async () => {
    const w = await startWriters({ port, base: BASE, token: TOKEN, n: 8, stopOnGone: false, pauseMs: 5 });
    await waitForAcks(w, 100);
    maria.signal('SIGSTOP');
    await sleep(TIMEOUT_MS + 2000);
    const during = await ready(port);
    maria.signal('SIGCONT');
    await sleep(3000);
    w.stop();
    await w.done;
    figures('mysql frozen', w.outcomes, `; statement timeout ${TIMEOUT_MS} ms`);
    expect(during.status).toBe(503);
    expectOnly200or503(w.outcomes);
    expect(w.outcomes.filter((o) => o.status === 503).length).toBeGreaterThan(0);
    expect(w.outcomes.filter((o) => o.ms > TIMEOUT_MS + 1000)).toEqual([]);
    expect((await ready(port)).status).toBe(200);
    await checkStored(w.runIds, w.acked);
  }, 180_000);
});
