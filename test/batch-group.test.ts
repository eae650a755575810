import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi } from './helpers/mlflow.ts';
import { derivedRows } from './helpers/metric-model.ts';
import { batchGroupStats, holdRun, waitingFor } from '../db/batch-group.ts';

/**
 * Group commit of log-batch requests into one run (db/batch-group.ts): batches that arrive while the run has a write
 * in flight are written in one transaction. Groups of a known composition are made by holding the run's slot while
 * the requests arrive (one by one, so their order is known), then releasing it. Property: whatever the grouping, the
 * run ends as if the batches had been written one after the other in arrival order, and every request gets the
 * answer it would have had alone.
 */


interface M { key: string; value: number; timestamp: number; step: number }
interface B { metrics?: M[]; params?: { key: string; value: string }[]; tags?: { key: string; value: string }[] }

/** 10 metrics of batch b: five keys, steps out of order across rollup buckets. */
const metricsOf = (b: number): M[] =>
  Array.from({ length: 10 }, (_, i) => ({ key: `k${i % 5}`, value: b * 100 + i - 50, timestamp: 1000 + b, step: (b * 37 + i * 101) % 2000 }));

describe.each(DB_KINDS)('log-batch group commit (%s)', (kind) => {
  let s: TestServer;
  let eid: string;
  beforeAll(async () => {
    s = await startServer(kind);
    eid = await api.newExperiment('groups');
  });
  afterAll(async () => s?.close());

  const api = mlflowApi(() => s);
  const newRun = async () => (await api.newRun(eid)).info.run_id as string;
  const internalId = async (runUuid: string) => Number((await s.t.db('runs').where({ run_uuid: runUuid }).first('id')).id);

  /** The run's stored rows, comparable across runs (no run ids), each list sorted. */
  async function stored(runUuid: string) {
    const id = await internalId(runUuid);
    const num = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' || (typeof v === 'string' && k !== 'key' && k !== 'value') ? Number(v) : v]));
    const metrics = (await s.t.db('metrics').where({ run_id: id }).select('key', 'timestamp', 'step', 'value', 'is_nan')).map(num)
      .map((r) => ({ ...r, value: Number(r.value), is_nan: Number(r.is_nan) }))
      .sort((a: any, b: any) => a.key.localeCompare(b.key) || a.step - b.step || a.timestamp - b.timestamp || a.value - b.value);
    const latest = (await s.t.db('latest_metrics').where({ run_id: id }).select('key', 'value', 'timestamp', 'step', 'is_nan')).map(num)
      .map((r) => ({ ...r, value: Number(r.value), is_nan: Number(r.is_nan) }))
      .sort((a: any, b: any) => a.key.localeCompare(b.key));
    const rollups = (await s.t.db('metric_rollups').where({ run_id: id }).select('key', 'lvl', 'bucket', 'n', 'vmin', 'vmax', 'first_step', 'first_ts', 'first_value', 'last_step', 'last_ts', 'last_value'))
      .map((r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'key' ? v : Number(v)])))
      .sort((a: any, b: any) => a.key.localeCompare(b.key) || a.lvl - b.lvl || a.bucket - b.bucket);
    const allTags = (await s.t.db('tags').where({ run_id: id }).select('key', 'value')).sort((a: any, b: any) => a.key.localeCompare(b.key));
    // the run's name apart: every run has one (generated at create)
    const nameTag = allTags.find((t: any) => t.key === 'mlflow.runName')?.value;
    const tags = allTags.filter((t: any) => t.key !== 'mlflow.runName');
    const params = (await s.t.db('params').where({ run_id: id }).select('key', 'value')).sort((a: any, b: any) => a.key.localeCompare(b.key));
    const name = (await s.t.db('runs').where({ id }).first('name')).name as string;
    return { metrics, latest, rollups, tags, params, name, nameTag };
  }


  const fire = (runId: string, b: B) => api.post('/runs/log-batch', { run_id: runId, ...b }).then((r) => r);

  async function until(cond: () => boolean) {
    for (let i = 0; !cond(); i++) {
      if (i > 2000) throw new Error('the queue did not fill');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Sends the batches while the run is held, each queued before the next is sent; then releases the run. */
  async function asOneGroup(runId: string, batches: B[]) {
    const release = await holdRun(s.t.db, s.project.id, runId);
    const answers: Promise<any>[] = [];
    for (const b of batches) {
      answers.push(fire(runId, b));
      await until(() => waitingFor(s.t.db, s.project.id, runId) === answers.length);
    }
    const before = { ...batchGroupStats };
    release();
    const out = await Promise.all(answers);
    return { answers: out, groups: batchGroupStats.groups - before.groups, isolated: batchGroupStats.isolated - before.isolated };
  }

  it('20 batches written as one group end as if written one after the other: points once, latest values, rollups, tags, params, name', async () => {
    const batches: B[] = Array.from({ length: 20 }, (_, b) => ({
      // batch 19 resends batch 3's points (a client's retry) besides its own
      metrics: b === 19 ? [...metricsOf(b), ...metricsOf(3)] : metricsOf(b),
      params: b % 4 === 0 ? [{ key: `p${b % 8}`, value: 'same' }] : [],
      tags: [
        { key: 'shared', value: `from ${b}` },
        { key: `own${b % 3}`, value: String(b) },
        // a run name, then an empty one (ignored, as MLflow ignores it), then one set and emptied within one batch
        ...(b === 5 ? [{ key: 'mlflow.runName', value: 'named-5' }] : []),
        ...(b === 9 ? [{ key: 'mlflow.runName', value: '' }] : []),
        ...(b === 12 ? [{ key: 'mlflow.runName', value: 'named-12' }, { key: 'mlflow.runName', value: '' }] : []),
      ],
    }));
    const grouped = await newRun();
    const g = await asOneGroup(grouped, batches);
    for (const a of g.answers) expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(g.groups).toBe(1);
    expect(g.isolated).toBe(0);

    const sequential = await newRun();
    for (const b of batches) expect((await fire(sequential, b)).status).toBe(200);

    const got = await stored(grouped);
    expect(got).toEqual(await stored(sequential));
    expect(got.metrics).toHaveLength(200);
    expect(new Set(got.metrics.map((m: any) => `${m.key}/${m.step}/${m.timestamp}/${m.value}`)).size).toBe(200);
    expect({ latest: got.latest, rollups: got.rollups }).toEqual(derivedRows(got.metrics as any));
    expect([got.name, got.nameTag]).toEqual(['named-5', 'named-5']);
    expect(got.tags).toEqual([
      { key: 'own0', value: '18' }, { key: 'own1', value: '19' }, { key: 'own2', value: '17' }, { key: 'shared', value: 'from 19' },
    ]);
    expect(got.params).toEqual([{ key: 'p0', value: 'same' }, { key: 'p4', value: 'same' }]);
  });

  it('a batch whose param conflicts fails alone with MLflow\'s error and leaves no rows; the others of its group are written', async () => {
    const runId = await newRun();
    expect((await fire(runId, { params: [{ key: 'lr', value: '0.1' }] })).status).toBe(200);
    const batches: B[] = [
      { metrics: metricsOf(0), tags: [{ key: 't', value: '0' }] },
      // conflicts with the stored value
      { metrics: metricsOf(1), params: [{ key: 'lr', value: '0.2' }], tags: [{ key: 't', value: '1' }, { key: 'only1', value: 'x' }] },
      { metrics: metricsOf(2), params: [{ key: 'lr', value: '0.1' }, { key: 'bs', value: '32' }], tags: [{ key: 't', value: '2' }] },
      // conflicts with batch 2 of the same group, which comes first
      { metrics: metricsOf(3), params: [{ key: 'bs', value: '64' }], tags: [{ key: 't', value: '3' }, { key: 'only3', value: 'x' }] },
      { metrics: metricsOf(4), params: [{ key: 'bs', value: '32' }, { key: 'wd', value: '0' }] },
    ];
    const g = await asOneGroup(runId, batches);
    expect(g.answers.map((a) => a.status)).toEqual([200, 400, 200, 400, 200]);
    expect(g.answers[1].body).toEqual({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: `Changing param values is not allowed. Param with key='lr' was already logged with value='0.1' for run ID='${runId}'. Attempted logging new value '0.2'.`,
    });
    expect(g.answers[3].body).toEqual({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: `Changing param values is not allowed. Param with key='bs' was already logged with value='32' for run ID='${runId}'. Attempted logging new value '64'.`,
    });
    expect(g.isolated).toBeGreaterThanOrEqual(1);

    const got = await stored(runId);
    const steps = (b: number) => metricsOf(b).map((m) => `${m.key}/${m.step}/${m.timestamp}/${m.value}`);
    expect(got.metrics.map((m: any) => `${m.key}/${m.step}/${m.timestamp}/${m.value}`).sort()).toEqual([...steps(0), ...steps(2), ...steps(4)].sort());
    expect({ latest: got.latest, rollups: got.rollups }).toEqual(derivedRows(got.metrics as any));
    expect(got.tags).toEqual([{ key: 't', value: '2' }]);
    expect(got.params).toEqual([{ key: 'bs', value: '32' }, { key: 'lr', value: '0.1' }, { key: 'wd', value: '0' }]);
  });

  it('a run deleted while batches wait: each gets the error it would have had alone', async () => {
    const runId = await newRun();
    const release = await holdRun(s.t.db, s.project.id, runId);
    const answers = [fire(runId, { metrics: metricsOf(0) }), fire(runId, { metrics: metricsOf(1) })];
    await until(() => waitingFor(s.t.db, s.project.id, runId) === 2);
    expect((await api.post('/runs/delete', { run_id: runId })).status).toBe(200);
    release();
    for (const a of await Promise.all(answers)) {
      expect(a.status).toBe(400);
      expect(a.body).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: `The run ${runId} must be in the 'active' state. Current state is deleted.` });
    }
    expect(await s.t.db('metrics').where({ run_id: await internalId(runId) })).toHaveLength(0);
  });

  it('20 clients logging into one run at once, 4 batches each: every point once, each client\'s own tag at its last value', async () => {
    const runId = await newRun();
    const answers = await Promise.all(
      Array.from({ length: 20 }, async (_, c) => {
        const out: number[] = [];
        for (let k = 0; k < 4; k++) {
          const b = c * 4 + k;
          out.push((await fire(runId, { metrics: metricsOf(b), tags: [{ key: `client${c}`, value: String(k) }] })).status);
        }
        return out;
      }),
    );
    expect(answers.flat()).toEqual(Array(80).fill(200));
    const got = await stored(runId);
    expect(got.metrics).toHaveLength(800);
    expect(new Set(got.metrics.map((m: any) => `${m.key}/${m.step}/${m.timestamp}/${m.value}`)).size).toBe(800);
    expect({ latest: got.latest, rollups: got.rollups }).toEqual(derivedRows(got.metrics as any));
    expect(got.tags).toEqual(Array.from({ length: 20 }, (_, c) => ({ key: `client${c}`, value: '3' })).sort((a, b) => a.key.localeCompare(b.key)));
  });
});
