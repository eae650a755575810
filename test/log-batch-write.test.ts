import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi } from './helpers/mlflow.ts';
import { derivedRows } from './helpers/metric-model.ts';
import { holdRun, waitingFor } from '../db/batch-group.ts';
import { scriptTransaction } from '../db/script.ts';

/**
 * The write of a log-batch of metrics alone (db/log-batch.ts): on SQLite one raw transaction; on MySQL one
 * multi-statement round trip whose history INSERT fails on a point already stored, after which the batch is written
 * the careful way. Property, whatever the way taken: each distinct point is stored once, and the latest values and
 * rollups are those computed here from the stored points themselves; a failed write leaves nothing behind.
 */

interface M { key: string; value: number; timestamp: number; step: number }

/** `n` points of batch b: four keys, steps over several rollup buckets, values that tell the batches apart. */
const pointsOf = (b: number, n = 200): M[] =>
  Array.from({ length: n }, (_, i) => ({ key: `k${i % 4}`, value: b * 10000 + ((i * 7919) % 1000) - 500, timestamp: 1000 + b, step: b * 50 + Math.floor(i / 4) }));

describe.each(DB_KINDS)('log-batch writes of metrics alone (%s)', (kind) => {
  let s: TestServer;
  let eid: string;
  const api = mlflowApi(() => s);
  beforeAll(async () => {
    s = await startServer(kind);
    eid = await api.newExperiment('writes');
  });
  afterAll(async () => s?.close());

  const newRun = async () => (await api.newRun(eid)).info.run_id as string;
  const internalId = async (runUuid: string) => Number((await s.t.db('runs').where({ run_uuid: runUuid }).first('id')).id);
  // then(): a supertest request is sent when it is awaited, and the group test needs them sent at once
  const log = (runId: string, metrics: M[]) => api.post('/runs/log-batch', { run_id: runId, metrics }).then((r) => r);

  /** The run's stored rows, without run ids, sorted. */
  async function stored(runUuid: string) {
    const id = await internalId(runUuid);
    const nums = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'key' ? v : Number(v)]));
    const metrics = (await s.t.db('metrics').where({ run_id: id }).select('key', 'timestamp', 'step', 'value', 'is_nan')).map(nums)
      .sort((a: any, b: any) => a.key.localeCompare(b.key) || a.step - b.step || a.timestamp - b.timestamp || a.value - b.value);
    const latest = (await s.t.db('latest_metrics').where({ run_id: id }).select('key', 'value', 'timestamp', 'step', 'is_nan')).map(nums)
      .sort((a: any, b: any) => a.key.localeCompare(b.key));
    const rollups = (await s.t.db('metric_rollups').where({ run_id: id })
      .select('key', 'lvl', 'bucket', 'n', 'vmin', 'vmax', 'first_step', 'first_ts', 'first_value', 'last_step', 'last_ts', 'last_value')).map(nums)
      .sort((a: any, b: any) => a.key.localeCompare(b.key) || a.lvl - b.lvl || a.bucket - b.bucket);
    return { metrics, latest, rollups };
  }

  /** What the run must hold after the points `sent` (in any order, repeats included): each distinct point once. */
  function expected(sent: M[]) {
    const distinct = new Map<string, M>();
    for (const m of sent) distinct.set(`${m.key}/${m.timestamp}/${m.step}/${m.value}`, m);
    const pts = [...distinct.values()];
    const metrics = pts.map((m) => ({ key: m.key, timestamp: m.timestamp, step: m.step, value: m.value, is_nan: 0 }))
      .sort((a, b) => a.key.localeCompare(b.key) || a.step - b.step || a.timestamp - b.timestamp || a.value - b.value);
    return { metrics, ...derivedRows(pts) };
  }

  it('a batch sent again, and one overlapping stored points, store each point once (history, latest values, rollups)', async () => {
    const run = await newRun();
    const a = pointsOf(1, 1000);
    expect((await log(run, a)).status).toBe(200);
    const first = await stored(run);
    expect(first).toEqual(expected(a));
    expect(first.metrics).toHaveLength(1000);
    // the same batch again (a client's retry): nothing changes
    expect((await log(run, a)).status).toBe(200);
    expect(await stored(run)).toEqual(first);
    // half stored points, half new ones, the new ones in the middle of the steps of the old ones
    const b = [...a.slice(0, 500), ...pointsOf(2, 500).map((m) => ({ ...m, step: m.step - 100 }))];
    expect((await log(run, b)).status).toBe(200);
    expect(await stored(run)).toEqual(expected([...a, ...b]));
    expect((await stored(run)).metrics).toHaveLength(1500);
  });

  it('a point repeated within one request, and a single point sent twice, count once', async () => {
    const run = await newRun();
    const pts = pointsOf(3, 40);
    const withRepeats = [...pts, pts[7]!, pts[0]!, pts[7]!];
    expect((await log(run, withRepeats)).status).toBe(200);
    expect(await stored(run)).toEqual(expected(pts));
    const one = { key: 'solo', value: 2.5, timestamp: 9, step: 4 };
    for (let i = 0; i < 2; i++) expect((await api.post('/runs/log-metric', { run_id: run, ...one })).status).toBe(200);
    expect(await stored(run)).toEqual(expected([...pts, one]));
  });

  it('a batch into a deleted run is 400, into an unknown run or one of another project 404, and writes nothing', async () => {
    const run = await newRun();
    expect((await api.post('/runs/delete', { run_id: run })).status).toBe(200);
    const res = await log(run, pointsOf(4, 10));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: `The run ${run} must be in the 'active' state. Current state is deleted.` });
    const missing = 'f'.repeat(32);
    const res2 = await log(missing, pointsOf(4, 10));
    expect(res2.status).toBe(404);
    expect(res2.body).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Run with id=${missing} not found` });
    const otherEid = await api.newExperiment('elsewhere', { project: s.another });
    const foreign = (await api.newRun(otherEid, {}, { project: s.another })).info.run_id as string;
    const res3 = await log(foreign, pointsOf(4, 10));
    expect(res3.status).toBe(404);
    expect(await stored(run)).toEqual({ metrics: [], latest: [], rollups: [] });
    expect(await stored(foreign)).toEqual({ metrics: [], latest: [], rollups: [] });
  });

  it('a group of 6000 points whose second INSERT meets a stored point (the write fails after its first INSERT ran) stores each point once', async () => {
    const run = await newRun();
    const batches = Array.from({ length: 6 }, (_, b) => pointsOf(10 + b, 1000));
    // a point of the last batch, stored before: on MySQL the group's second 4,000-row INSERT fails, the first has run
    expect((await log(run, [batches[5]![999]!])).status).toBe(200);
    const release = await holdRun(s.t.db, s.project.id, run);
    const answers: Promise<{ status: number }>[] = [];
    for (const b of batches) {
      answers.push(log(run, b));
      for (let i = 0; waitingFor(s.t.db, s.project.id, run) < answers.length; i++) {
        if (i > 2000) throw new Error('the queue did not fill');
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    release();
    expect((await Promise.all(answers)).map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const got = await stored(run);
    expect(got.metrics).toHaveLength(6000);
    expect(got).toEqual(expected(batches.flat()));
  });

  if (kind === 'mysql') it('a script failing at its second statement leaves no rows, and its connection serves the next script', async () => {
    const run = await newRun();
    const id = await internalId(run);
    const ok = `INSERT INTO metrics (run_id, \`key\`, \`timestamp\`, step, value, is_nan) VALUES (${id}, 'x', 1, 1, 1, 0), (${id}, 'x', 1, 2, 2, 0)`;
    const bad = `INSERT INTO metrics (run_id, \`key\`, \`timestamp\`, step, value, is_nan) VALUES (${id}, 'y', 1, 1, 1, NULL)`;
    await expect(scriptTransaction(s.t.db, () => [ok, bad])).rejects.toMatchObject({ errno: 1048 });
    expect(await stored(run)).toEqual({ metrics: [], latest: [], rollups: [] });
    // every connection of the pool (4) is used again, none left inside a transaction
    for (let i = 0; i < 8; i++) await expect(scriptTransaction(s.t.db, () => [ok.replace(/'x'/g, `'x${i}'`)])).resolves.toBe(true);
    expect(Number((await s.t.db('metrics').where({ run_id: id }).count({ n: '*' }).first())!.n)).toBe(16);
  });

  if (kind === 'mysql') it('a connection killed while the script is out: the batch is written the careful way, each point once', async () => {
    const run = await newRun();
    const id = await internalId(run);
    const a = pointsOf(30, 400);
    expect((await log(run, a.slice(0, 10))).status).toBe(200);
    // another session holds the run's latest_metrics rows: the script stops there, after its history INSERT ran
    const url = new URL(s.t.url!);
    const blocker = await mysql.createConnection({ host: url.hostname, port: Number(url.port || 3306), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password), database: url.pathname.slice(1) });
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT * FROM latest_metrics WHERE run_id = ? FOR UPDATE', [id]);
      const answer = log(run, a);
      let victim: number | undefined;
      for (let i = 0; victim === undefined; i++) {
        if (i > 2000) throw new Error('the script did not reach latest_metrics');
        const [list] = await blocker.query<any[]>("SELECT id, info FROM information_schema.processlist WHERE info LIKE 'INSERT INTO latest_metrics%'");
        victim = list[0]?.id;
        if (victim === undefined) await new Promise((r) => setTimeout(r, 5));
      }
      await blocker.query(`KILL CONNECTION ${Number(victim)}`);
      // the careful way waits for the same rows; let it through
      await new Promise((r) => setTimeout(r, 100));
      await blocker.query('COMMIT');
      expect((await answer).status).toBe(200);
    } finally {
      await blocker.end();
    }
    expect(await stored(run)).toEqual(expected(a));
  });
});
