import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad, type LoadResult } from '../../scripts/cluster/load.ts';
import { alive, APP_PORT, badAnswers, checkAcked, createRuns, DIR, galeraStart, nodePid, nodeState, NODES, retries, retriesBetween, serverPid, sleep, stopServersAndDrop, summary, tableDigests } from './harness.ts';

/**
 * Failures under load (issue 12 item 4), bounded and on loopback: 64 writers log unique batches through the app load
 * balancer (3 mltrack servers from galera-start.sh --roundrobin --servers 3, database writes round-robin over the 3
 * Galera nodes) while one Galera node is SIGKILLed and rejoins, one server is SIGKILLed, one is SIGTERMed (drains).
 * Writers retry 503s and connection errors as the MLflow client does. Each test asserts: every acknowledged batch is
 * present exactly once on every node; every answer is a 200 or a 503 in MLflow's JSON, never a 500, never a hang
 * past 30 s; the 3 nodes hold the same rows (count and checksum per table). The figures are printed ([cluster] lines).
 */
const WRITERS = 64;
const K = 5; // metrics per batch
const LOAD_MS = 16_000; // each load: at most 16 s ...
const MAX_BATCHES = 400; // ... and at most 400 batches per writer
const database = `mltrack_fail_${crypto.randomBytes(3).toString('hex')}`;
const token = `fail-${crypto.randomBytes(6).toString('hex')}`;
const env = { MLTRACK_CLUSTER_DB: database, MLTRACK_CLUSTER_TOKEN: token };
const start = () => galeraStart(['--roundrobin', '--servers', '3'], env);

async function load(runs: string[]): Promise<LoadResult> {
  return runLoad({ port: APP_PORT, token, runs, writers: WRITERS, durationMs: LOAD_MS, batchesPerWriter: MAX_BATCHES, metricsPerBatch: K });
}

/** The assertions every failure test shares; returns the row comparison's figures. */
async function expectNothingLost(runs: string[], res: LoadResult) {
  expect(badAnswers(res).map((a) => `${a.status} ${a.body?.slice(0, 200)}`)).toEqual([]);
  expect(res.attempts.filter((a) => a.status === 'hang' || a.ms >= 30_000)).toEqual([]);
  expect(res.unacked).toEqual([]);
  const acked = await checkAcked(database, runs, res, K);
  for (const a of acked) expect({ port: a.port, missing: a.missing, duplicated: a.duplicated }).toEqual({ port: a.port, missing: 0, duplicated: 0 });
  const digests = await tableDigests(database);
  expect(digests.per[1]).toEqual(digests.per[0]);
  expect(digests.per[2]).toEqual(digests.per[0]);
  return { pointsOnEachNode: acked.map((a) => a.points), tablesCompared: digests.tables, rowsComparedPerNode: digests.rows };
}

describe('cluster failures under 64 writers (3 servers, round-robin database)', () => {
  beforeAll(async () => {
    await start();
  }, 240_000);
  afterAll(() => stopServersAndDrop(database, env), 120_000);

  it('SIGKILL of a Galera node mid-load: nothing lost, only 200/503, the node rejoins by IST with the same rows', async () => {
    const runs = await createRuns(token, 8);
    const errLog = path.join(DIR, 'n2', 'err.log');
    const logFrom = fs.statSync(errLog).size;
    const retriesBefore = await retries();
    const running = load(runs);
    await sleep(4000);
    process.kill(nodePid(2), 'SIGKILL');
    await sleep(3000);
    const t0 = performance.now();
    // the restart (--wsrep_start_position from --wsrep-recover); the script returns once haproxy sees n2 up again
    const restarted = start();
    let rejoinMs = NaN;
    const poll = (async () => {
      while (performance.now() - t0 < 120_000) {
        if ((await nodeState(NODES[1]!)) === 'Synced') return (rejoinMs = performance.now() - t0);
        await sleep(200);
      }
    })();
    await restarted;
    const scriptMs = performance.now() - t0;
    await poll;
    const res = await running;
    const retried = retriesBetween(retriesBefore, await retries());
    const rejoinLog = fs.readFileSync(errLog, 'utf8').slice(logFrom);
    expect(await nodeState(NODES[1]!)).toBe('Synced');
    expect(rejoinLog).toMatch(/rsync IST completed on joiner/);
    expect(rejoinLog).toMatch(/IST received: /);
    expect(rejoinLog).not.toMatch(/rsync SST completed on joiner/);
    const ist = /Receiving IST: (\d+) writesets/.exec(rejoinLog)?.[1];
    const rows = await expectNothingLost(runs, res);
    summary('galera node n2 SIGKILL', res, { rejoinSyncedSeconds: +(rejoinMs / 1000).toFixed(1), startScriptSeconds: +(scriptMs / 1000).toFixed(1), istWritesets: Number(ist), transactionRetries: retried, ...rows });
  });

  it('SIGKILL of an mltrack server mid-load: nothing lost, only 200/503', async () => {
    const runs = await createRuns(token, 8);
    const running = load(runs);
    await sleep(4000);
    const pid = serverPid(2);
    process.kill(pid, 'SIGKILL');
    await sleep(4000);
    expect(alive(pid)).toBe(false);
    await start(); // a new s2
    const res = await running;
    const rows = await expectNothingLost(runs, res);
    summary('mltrack server s2 SIGKILL', res, rows);
  });

  it('SIGTERM of an mltrack server mid-load: it drains and exits, nothing lost, only 200/503', async () => {
    const runs = await createRuns(token, 8);
    const logFile = path.join(DIR, 'app', 's3.log');
    const logFrom = fs.statSync(logFile).size;
    const running = load(runs);
    await sleep(4000);
    const pid = serverPid(3);
    const t0 = performance.now();
    process.kill(pid, 'SIGTERM');
    while (alive(pid) && performance.now() - t0 < 35_000) await sleep(50);
    const drainMs = performance.now() - t0;
    expect(alive(pid)).toBe(false);
    expect(fs.readFileSync(logFile, 'utf8').slice(logFrom)).toMatch(/drained; bye/);
    await start(); // a new s3
    const res = await running;
    const rows = await expectNothingLost(runs, res);
    summary('mltrack server s3 SIGTERM', res, { drainSeconds: +(drainMs / 1000).toFixed(1), ...rows });
  });
});
