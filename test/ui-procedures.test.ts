import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { createMltrackClient } from '../client/index.ts';
import { decodeColumn, type Column } from '../core/columns.ts';

const col = (c: Column | undefined) => (c ? decodeColumn(c) : undefined);

/** The tRPC procedures made for the web UI: project role, experiments with counts, keys with counts, runs as columns, downsampled histories. */
describe.each(DB_KINDS)('ui procedures (%s)', (kind) => {
  let s: TestServer;
  let c: ReturnType<typeof createMltrackClient>;
  let eid: string;
  const ids: string[] = [];
  beforeAll(async () => {
    s = await startServer(kind);
    c = createMltrackClient({ url: s.baseUrl, token: s.tokens.write, project: s.project.id });
    eid = (await c.experiments.create.mutate({ name: 'cols' })).experiment_id;
    for (let i = 0; i < 7; i++) {
      const { run } = await c.runs.create.mutate({ experiment_id: eid, run_name: `r${i}`, start_time: 1000 + i });
      ids.push(run.info.run_id);
      await c.runs.logBatch.mutate({
        run_id: run.info.run_id,
        metrics: [{ key: 'acc', value: i / 10, timestamp: 1, step: 0 }, { key: 'acc', value: 5 + i, timestamp: 2, step: 1 }, { key: 'acc', value: i / 10, timestamp: 3, step: 2 }],
        params: [{ key: 'lr', value: String(i % 2) }],
        tags: i < 3 ? [{ key: 'team', value: 'a' }] : [],
      });
    }
  });
  afterAll(async () => s?.close());

  it('project: the caller role and whether they may write', async () => {
    expect(await c.ui.project.query()).toEqual({ id: s.project.id, path: 'group/project', name: expect.any(String), username: 'developer', accessLevel: 30, canWrite: true });
    const guest = createMltrackClient({ url: s.baseUrl, token: s.tokens.guest, project: s.project.id });
    expect((await guest.ui.project.query()).canWrite).toBe(false);
    const read = createMltrackClient({ url: s.baseUrl, token: s.tokens.read, project: s.project.id });
    expect((await read.ui.project.query()).canWrite).toBe(false);
  });

  it('experiments with run counts, searched by name; keys with counts', async () => {
    const list = await c.ui.experiments.query({ search: 'COL' });
    expect(list.map((e) => [e.experimentId, e.name, e.runs])).toEqual([[eid, 'cols', 7]]);
    expect(await c.ui.experiments.query({ search: '%' })).toEqual([]);
    const keys = await c.ui.keys.query({ experimentId: eid });
    expect(keys.metrics).toEqual([{ key: 'acc', count: 7 }]);
    expect(keys.params).toEqual([{ key: 'lr', count: 7 }]);
    expect(keys.tags.find((t) => t.key === 'team')).toEqual({ key: 'team', count: 3 });
  });

  it('runs as columns: only the chosen ones, cursor pages, total, last/min/max, the server grammar', async () => {
    const first = await c.ui.runs.query({ experimentId: eid, metrics: ['acc'], params: ['lr'], tags: ['team'], limit: 4, orderBy: ['attributes.start_time ASC'] });
    expect(first.total).toBe(7);
    expect(first.runIds).toEqual(ids.slice(0, 4));
    expect(Object.keys(first.columns).sort()).toEqual(['attr.duration', 'attr.lifecycle', 'attr.name', 'attr.source', 'attr.start_time', 'attr.status', 'attr.user', 'metrics.acc', 'params.lr', 'tags.team']);
    expect(col(first.columns['metrics.acc'])).toEqual([0, 0.1, 0.2, 0.3]);
    expect(col(first.columns['tags.team'])).toEqual(['a', 'a', 'a', null]);
    // strings travel as a dictionary and an index per row
    expect(first.columns['tags.team']).toEqual({ s: ['a'], i: [0, 0, 0, -1] });
    expect(first.columns['metrics.acc']).toEqual({ n: [0, 0.1, 0.2, 0.3] });
    expect(col(first.columns['params.lr'])).toEqual(['0', '1', '0', '1']);
    const second = await c.ui.runs.query({ experimentId: eid, metrics: ['acc'], limit: 4, orderBy: ['attributes.start_time ASC'], cursor: first.nextCursor! });
    expect(second.runIds).toEqual(ids.slice(4));
    expect(second.nextCursor).toBeNull();
    const max = await c.ui.runs.query({ experimentId: eid, metrics: ['acc'], metricAgg: 'max', filter: 'params.lr = "1"', orderBy: ['attributes.start_time ASC'] });
    expect([max.total, col(max.columns['metrics.acc'])]).toEqual([3, [6, 8, 10]]);
    await expect(c.ui.runs.query({ experimentId: eid, filter: 'metrics.acc >' })).rejects.toThrow(/Invalid|filter|expected/i);
    await expect(c.ui.runs.query({ experimentId: '999' })).rejects.toThrow(/No Experiment with id=999/);
  });

  it('metric history: raw when small; min/max/last per bucket with first and last kept when large', async () => {
    const small = await c.ui.metricHistory.query({ runId: ids[0]!, key: 'acc', points: 10 });
    expect(small).toEqual({ x: [0, 1, 2], min: [0, 5, 0], max: [0, 5, 0], last: [0, 5, 0], total: 3, raw: true });
    const { run } = await c.runs.create.mutate({ experiment_id: eid, run_name: 'long' });
    for (let b = 0; b < 3; b++) {
      await c.runs.logBatch.mutate({ run_id: run.info.run_id, metrics: Array.from({ length: 1000 }, (_, i) => ({ key: 'loss', value: b * 1000 + i === 1234 ? 99 : -(b * 1000 + i), timestamp: b * 1000 + i, step: b * 1000 + i })) });
    }
    const h = await c.ui.metricHistory.query({ runId: run.info.run_id, key: 'loss', points: 100 });
    expect(h.raw).toBe(false);
    expect(h.total).toBe(3000);
    expect(h.x.length).toBeLessThanOrEqual(101);
    expect(h.x[0]).toBe(0);
    expect(h.x.at(-1)).toBe(2999);
    expect(h.last.at(-1)).toBe(-2999);
    expect(Math.max(...h.max.map(Number))).toBe(99); // the spike survives
    expect(Math.min(...h.min.map(Number))).toBe(-2999);
    // x ascending, each bucket's last is the value at its largest step
    expect(h.x.every((v, i) => i === 0 || v > h.x[i - 1]!)).toBe(true);
    const byTime = await c.ui.metricHistory.query({ runId: run.info.run_id, key: 'loss', x: 'time', points: 100 });
    expect(byTime.x.at(-1)).toBe(2999);
  });
});
