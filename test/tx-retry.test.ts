import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS, freshDb, type TestDb } from './helpers/db.ts';
import { isDatabaseUnavailable, withTransaction } from '../db/tx.ts';

/**
 * withTransaction's retry classes (db/tx.ts), on each database: a transaction whose connection dies before COMMIT
 * runs again on another connection (MySQL: another session kills it, as a dying Galera node does to its sessions),
 * and its rows land once; a mistake in the transaction is not retried; a deadlock still failing after the retries
 * is a 503-class error, not a 500.
 */
describe.each(DB_KINDS)('withTransaction retries (%s)', (kind) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await freshDb(kind);
    await t.db.schema.createTable('tx_probe', (tb) => {
      tb.integer('id').primary();
      tb.string('v', 20);
    });
  });
  afterAll(async () => {
    await t.drop();
  });

  // SQLite runs in this process: it has no connection to lose
  if (kind === 'mysql') it('a connection lost before COMMIT: run again, the row lands once', async () => {
    let runs = 0;
    const out = await withTransaction(t.db, async (trx) => {
      runs++;
      await trx('tx_probe').insert({ id: 1, v: `run ${runs}` });
      if (runs === 1) {
        // another session kills this one, as a dying node or haproxy's shutdown-sessions cuts it
        const [[{ id }]] = (await trx.raw('SELECT CONNECTION_ID() AS id')) as [[{ id: number }]];
        const admin = await mysql.createConnection(t.url!);
        await admin.query(`KILL CONNECTION ${id}`);
        await admin.end();
        await trx('tx_probe').where({ id: 1 }).first();
      }
      return runs;
    });
    expect(out).toBe(2);
    expect(await t.db('tx_probe').where({ id: 1 }).select('v')).toEqual([{ v: 'run 2' }]);
  });

  it('a mistake inside the transaction is not retried, and nothing of it stays', async () => {
    let runs = 0;
    await expect(
      withTransaction(t.db, async (trx) => {
        runs++;
        await trx('tx_probe').insert({ id: 2, v: 'x' });
        await trx('tx_probe').insert({ id: 2, v: 'again' }); // duplicate key
      }),
    ).rejects.toThrow();
    expect(runs).toBe(1);
    expect(await t.db('tx_probe').where({ id: 2 }).select('v')).toEqual([]);
  });

  it('a deadlock or lock timeout left after the retries, a Galera node not ready, and a failed COMMIT answer 503, not 500', () => {
    expect([1213, 1205, 1047, 1180].map((errno) => isDatabaseUnavailable({ errno }))).toEqual([true, true, true, true]);
    expect(isDatabaseUnavailable({ errno: 1062 })).toBe(false);
  });
});
