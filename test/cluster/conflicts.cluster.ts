import crypto from 'node:crypto';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byStatus, runLoad } from '../../scripts/cluster/load.ts';
import { APP_PORT, checkAcked, createRuns, galeraStart, NODES, retries, stopServersAndDrop, summary } from './harness.ts';

/**
 * Certification conflicts are retried, never shown (issue 12 item 3): 64 writers log into the same 2 runs under one
 * shared metric key through 3 mltrack servers, the database load balancer sending writes round-robin to all three
 * Galera nodes, so concurrent transactions update the same latest_metrics rows on different nodes and all but one
 * fail certification (1213 at COMMIT): the nodes count them (wsrep_local_cert_failures, and wsrep_local_bf_aborts for
 * local transactions aborted by a replicated one), which proves the conflicts happened. Every answer must be a 200
 * and every point kept. The servers count their retries (mltrack_db_transaction_retries_total on the metrics port
 * scripts/cluster/servers.sh gives each, MLTRACK_METRICS_PORT 5471..5473): they must have seen them too.
 */
const WRITERS = 64;
const K = 5;
const database = `mltrack_conflict_${crypto.randomBytes(3).toString('hex')}`;
const token = `conflict-${crypto.randomBytes(6).toString('hex')}`;
const env = { MLTRACK_CLUSTER_DB: database, MLTRACK_CLUSTER_TOKEN: token };

/** Certification failures and brute-force aborts, summed over the 3 nodes. */
async function conflicts(): Promise<number> {
  let n = 0;
  for (const port of NODES) {
    const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'mltrack', password: 'mltrack' });
    const [rows] = await c.query("SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_cert_failures', 'wsrep_local_bf_aborts')");
    for (const r of rows as { Value: string }[]) n += Number(r.Value);
    await c.end();
  }
  return n;
}

const total = (by: Record<string, number>) => Object.values(by).reduce((s, n) => s + n, 0);

describe('conflicts through 3 servers and 3 Galera nodes (round-robin)', () => {
  beforeAll(async () => {
    await galeraStart(['--roundrobin', '--servers', '3'], env);
  }, 240_000);
  afterAll(() => stopServersAndDrop(database, env), 120_000);

  it('64 writers into the same 2 runs and one metric key: only 200s, every point kept; retries counted', async () => {
    const runs = await createRuns(token, 2);
    const before = total(await retries());
    const conflictsBefore = await conflicts();
    const res = await runLoad({ port: APP_PORT, token, runs, writers: WRITERS, durationMs: 10_000, batchesPerWriter: 200, metricsPerBatch: K, sharedKey: 'm' });
    const after = total(await retries());
    const certConflicts = (await conflicts()) - conflictsBefore;
    const counted = after - before;
    summary('conflicts, 64 writers, 2 runs, one key', res, { certConflicts, transactionRetries: counted });
    expect(byStatus(res.attempts)).toEqual({ '200': res.attempts.length });
    for (const a of await checkAcked(database, runs, res, K, 'm')) expect([a.missing, a.duplicated]).toEqual([0, 0]);
    expect(certConflicts).toBeGreaterThan(0);
    // the conflicts were retried inside the servers (not exactly equal: Galera replays some BF-aborted transactions
    // itself, and a retried transaction may conflict again)
    expect(counted).toBeGreaterThan(0);
  });
});
