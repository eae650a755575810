import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi } from './helpers/mlflow.ts';
import { rollupDeltas, rollupBinds, type Pt } from '../db/rollups.ts';
import { int64Col } from '../core/codecs.ts';
import { rng } from './helpers/rng.ts';

/**
 * log-batch's write path after the CPU work of issue 11: latest values and rollups are merged by the database in
 * upserts (no read first; on MySQL each row of one multi-row statement decides on its own), and plain metric items
 * skip zod (a fast path that must store exactly what zod's parse stores, and leave every other shape to zod).
 * Property checks against what the points themselves give, on many keys in multi-row batches in random order.
 */

const MAX = 1.7976931348623157e308;


type Wire = number | 'NaN' | 'Infinity' | '-Infinity';
interface Item { key: string; value: Wire; timestamp: number; step: number }
const stored = (v: Wire) => (v === 'NaN' ? 0 : v === 'Infinity' ? MAX : v === '-Infinity' ? -MAX : v);

describe.each(DB_KINDS)('log-batch merges (%s)', (kind) => {
  let s: TestServer;
  let exp: string;
  beforeAll(async () => {
    s = await startServer(kind);
    exp = await api.newExperiment('merge');
  });
  afterAll(async () => s?.close());
  const api = mlflowApi(() => s);
  const ok = async (body: unknown) => {
    const res = await api.post('/runs/log-batch', body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  };
  const runRow = async (uuid: string) => Number((await s.t.db('runs').where({ run_uuid: uuid }).first('id')).id);

  it('latest values and rollups equal what the stored points give, for batches of many keys in any order', async () => {
    const r = rng(kind === 'mysql' ? 11 : 7);
    const run = (await api.newRun(exp, { start_time: 1 })).info.run_id;
    const values: Wire[] = [0.5, -2, 7, 'NaN', 'Infinity', '-Infinity', 3];
    const all: Item[] = [];
    for (let b = 0; b < 12; b++) {
      const batch: Item[] = [];
      for (let i = 0; i < 60; i++) {
        // few distinct steps, timestamps and values, so that ties at every level of (step, timestamp, value) occur
        batch.push({ key: `k${Math.floor(r() * 6)}`, value: values[Math.floor(r() * values.length)]!, timestamp: Math.floor(r() * 4), step: Math.floor(r() * 70) - 5 });
      }
      if (b % 4 === 3) batch.push(...all.slice(0, 5)); // a client's re-send among new points
      all.push(...batch);
      await ok({ run_id: run, metrics: batch });
    }
    const id = await runRow(run);

    // latest: MLflow's max (step, timestamp, stored value) per key
    const cmp = (a: Item, b: Item) => a.step - b.step || a.timestamp - b.timestamp || stored(a.value) - stored(b.value);
    const want = new Map<string, Item>();
    for (const p of all) {
      const cur = want.get(p.key);
      if (!cur || cmp(p, cur) >= 0) want.set(p.key, p);
    }
    const latest = (await s.t.db('latest_metrics').where({ run_id: id }).orderBy('key')).map((l: any) => ({
      key: l.key, step: Number(l.step), timestamp: Number(l.timestamp), value: Number(l.value), nan: Number(l.is_nan) !== 0,
    }));
    expect(latest).toEqual(
      [...want.values()].sort((a, b) => (a.key < b.key ? -1 : 1)).map((p) => ({ key: p.key, step: p.step, timestamp: p.timestamp, value: stored(p.value), nan: p.value === 'NaN' })),
    );

    // rollups: db/rollups.ts's computation over the distinct stored points, all at once
    const points = (await s.t.db('metrics').where({ run_id: id })).map((m: any) => ({
      key: m.key as string, step: int64Col(m.step), ts: int64Col(m.timestamp), value: Number(m.value), nan: Number(m.is_nan) !== 0,
    })) as ({ key: string } & Pt)[];
    const distinct = new Set(all.map((p) => `${p.key}/${p.step}/${p.timestamp}/${stored(p.value)}/${p.value === 'NaN'}`));
    expect(points.length).toBe(distinct.size);
    const norm = (row: unknown[]) => row.map((v) => (v === null ? null : typeof v === 'string' ? v : Number(v)));
    const fromPoints = rollupDeltas(points).map((d) => norm(rollupBinds(id, d.key, d.lvl, d.bucket, d.agg, (v) => v)));
    const cols = ['run_id', 'key', 'lvl', 'bucket', 'n', 'vmin', 'vmax', 'first_step', 'first_ts', 'first_value', 'first_nan', 'last_step', 'last_ts', 'last_value', 'last_nan'];
    const rows = (await s.t.db('metric_rollups').where({ run_id: id }).select(cols)).map((row: any) => norm(cols.map((c) => row[c])));
    const order = (a: unknown[], b: unknown[]) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1;
    expect(rows.sort(order)).toEqual(fromPoints.sort(order));
  });

  it('plain items (fast path) and the same items as strings (zod) store the same rows', async () => {
    const items = [
      { key: 'a', value: 1.25, timestamp: 5, step: 3 },
      { key: 'a', value: -0, timestamp: 6 }, // step absent: 0
      { key: 'b', value: 1e300, timestamp: 0, step: -4, extra: 'dropped' },
      { key: 'b', value: 2, timestamp: -0, step: 9007199254740991 },
    ];
    const asStrings = items.map((m) => ({ ...m, value: String(m.value), timestamp: String(m.timestamp), ...('step' in m ? { step: String(m.step) } : {}) }));
    const dump = async (uuid: string) =>
      (await s.t.db('metrics').where({ run_id: await runRow(uuid) }).orderBy(['key', 'timestamp', 'step', 'value'])).map((m: any) => [
        m.key, String(m.timestamp), String(m.step), Number(m.value), Number(m.is_nan),
      ]);
    const a = (await api.newRun(exp, { start_time: 1 })).info.run_id;
    const b = (await api.newRun(exp, { start_time: 1 })).info.run_id;
    await ok({ run_id: a, metrics: items });
    await ok({ run_id: b, metrics: asStrings });
    expect(await dump(a)).toEqual(await dump(b));
    expect((await dump(a)).length).toBe(4);
    expect((await api.getRun(a)).data.metrics).toEqual((await api.getRun(b)).data.metrics);
  });

  it('a bad item after plain ones gets the message zod and the checks give it, naming its index', async () => {
    const run = (await api.newRun(exp, { start_time: 1 })).info.run_id;
    const plain = Array.from({ length: 20 }, (_, i) => ({ key: 'm', value: i, timestamp: 1, step: i }));
    for (const [item, message] of [
      [{ key: 'm', value: 1, timestamp: -1, step: 0 }, /metrics\[20\]\.timestamp/],
      [{ key: 'bad*key', value: 1, timestamp: 1, step: 0 }, /metrics\[20\]\.name/],
      [{ key: 'm', value: 'x', timestamp: 1, step: 0 }, /metrics\[20\]\.value/],
      [{ key: 'm', value: 1, timestamp: 1.5, step: 0 }, /metrics\[20\]\.timestamp/],
      [{ key: '', value: 1, timestamp: 1, step: 0 }, /metrics\[20\]\.key/],
    ] as const) {
      const res = await api.post('/runs/log-batch', { run_id: run, metrics: [...plain, item] });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error_code).toBe('INVALID_PARAMETER_VALUE');
      expect(res.body.message).toMatch(message);
    }
    expect(await s.t.db('metrics').where({ run_id: await runRow(run) }).count({ n: '*' })).toEqual([{ n: 0 }]);
  });
});
