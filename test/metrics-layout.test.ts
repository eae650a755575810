import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi } from './helpers/mlflow.ts';
import { migrateLatest } from '../db/migrate.ts';
import * as m009 from '../db/migrations/009_metrics_without_rowid.ts';

/**
 * Migration 009: SQLite's metrics table rebuilt WITHOUT ROWID (MySQL: nothing to do). Run on a database whose table
 * still has the old layout (009's down) and holds points — NaN, ±Infinity, int64 steps and timestamps beyond 2^53,
 * negative zero steps, several runs and keys — every row is kept as it was, the history answers are the same, and
 * writing, deduplicating and deleting go on as before.
 */
describe.each(DB_KINDS)('metrics table layout, migration 009 (%s)', (kind) => {
  let s: TestServer;
  let eid: string;
  const api = mlflowApi(() => s);
  beforeAll(async () => {
    s = await startServer(kind);
    eid = await api.newExperiment('layout');
  });
  afterAll(async () => s?.close());

  const createSql = async (): Promise<string> =>
    kind === 'sqlite' ? (await s.t.db.raw("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'metrics'"))[0].sql : '';

  /** Every metrics row, as text (bigints and doubles exactly), sorted. */
  async function allRows(): Promise<string[]> {
    const rows = await s.t.db.raw(
      kind === 'sqlite'
        ? 'SELECT run_id, `key`, CAST(`timestamp` AS TEXT) AS ts, CAST(step AS TEXT) AS step, value, is_nan FROM metrics'
        : 'SELECT run_id, `key`, CAST(`timestamp` AS CHAR) AS ts, CAST(step AS CHAR) AS step, value, is_nan FROM metrics',
    );
    const list = (kind === 'sqlite' ? rows : rows[0]) as Record<string, unknown>[];
    return list.map((r) => `${r.run_id}|${r.key}|${r.ts}|${r.step}|${Object.is(Number(r.value), -0) ? '-0' : Number(r.value)}|${Number(r.is_nan)}`).sort();
  }

  const history = async (runId: string, key: string) => {
    const res = await api.get('/metrics/get-history', { run_id: runId, metric_key: key });
    expect(res.status).toBe(200);
    return res.body.metrics;
  };

  it('the table is WITHOUT ROWID on SQLite after the migrations', async () => {
    if (kind === 'sqlite') expect(await createSql()).toMatch(/\) WITHOUT ROWID$/);
    else expect((await s.t.db.raw("SHOW CREATE TABLE metrics"))[0][0]['Create Table']).toMatch(/PRIMARY KEY \(`run_id`,`key`,`timestamp`,`step`,`value`,`is_nan`\)/);
  });

  it('on a database with the old layout and stored points: every row and every history answer is kept', async () => {
    await m009.down(s.t.db);
    await s.t.db('knex_migrations').where({ name: '009_metrics_without_rowid' }).del();
    if (kind === 'sqlite') expect(await createSql()).not.toMatch(/WITHOUT ROWID/);

    const runs: string[] = [];
    for (let r = 0; r < 3; r++) runs.push((await api.newRun(eid)).info.run_id);
    const big = '9007199254740993'; // 2^53 + 1: not a double
    const specials = [
      { key: 'odd', value: 'NaN', timestamp: 5, step: 0 },
      { key: 'odd', value: 'Infinity', timestamp: 5, step: 1 },
      { key: 'odd', value: '-Infinity', timestamp: 5, step: 2 },
      { key: 'odd', value: -0.5, timestamp: big, step: big },
      { key: 'odd', value: 1e-300, timestamp: 6, step: -3 },
      { key: 'odd', value: 0.1 + 0.2, timestamp: 6, step: -3 },
    ];
    for (const [i, run] of runs.entries()) {
      const metrics = Array.from({ length: 300 }, (_, j) => ({ key: `k${j % 3}`, value: Math.sin(i * 1000 + j), timestamp: 1000 + j, step: Math.floor(j / 3) }));
      const res = await api.post('/runs/log-batch', { run_id: run, metrics: i === 0 ? [...metrics, ...specials] : metrics });
      expect(res.status).toBe(200);
    }
    const rowsBefore = await allRows();
    expect(rowsBefore).toHaveLength(3 * 300 + specials.length);
    const answers = async () => Promise.all(runs.flatMap((run) => ['k0', 'k1', 'k2', 'odd'].map((k) => history(run, k))));
    const before = await answers();
    expect(before[3]).toHaveLength(specials.length);
    expect(before[3]).toContainEqual({ key: 'odd', value: -0.5, timestamp: Number(big), step: Number(big) });

    expect(await migrateLatest(s.t.db)).toEqual(['009_metrics_without_rowid']);
    if (kind === 'sqlite') expect(await createSql()).toMatch(/WITHOUT ROWID$/);
    expect(await allRows()).toEqual(rowsBefore);
    expect(await answers()).toEqual(before);
    // the raw rows of the big step: exact, not rounded to a double
    expect(rowsBefore.filter((r) => r.includes(big))).toEqual([`${(await s.t.db('runs').where({ run_uuid: runs[0] }).first('id')).id}|odd|${big}|${big}|-0.5|0`]);

    // writes go on: a batch repeating stored points and adding new ones stores the new ones once
    const again = [{ key: 'k0', value: Math.sin(0), timestamp: 1000, step: 0 }, { key: 'k0', value: 42, timestamp: 2000, step: 500 }];
    expect((await api.post('/runs/log-batch', { run_id: runs[0], metrics: again })).status).toBe(200);
    const k0 = await history(runs[0]!, 'k0');
    expect(k0).toHaveLength(101);
    expect(k0.at(-1)).toEqual({ key: 'k0', value: 42, timestamp: 2000, step: 500 });
    // deleting a run (the experiment's permanent delete goes through the foreign key's cascade) removes its points
    const id2 = Number((await s.t.db('runs').where({ run_uuid: runs[2] }).first('id')).id);
    await s.t.db('runs').where({ id: id2 }).del();
    expect(await allRows()).toHaveLength(3 * 300 + specials.length + 1 - 300);
    expect((await allRows()).some((r) => r.startsWith(`${id2}|`))).toBe(false);
  });
});
