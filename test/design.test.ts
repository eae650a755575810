import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS, statements as sqlStatements } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';

/** Properties of the design that are observable without timing: query counts and statement shapes, and settings. */
describe.each(DB_KINDS)('design properties (%s)', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(kind, { MLTRACK_ROOT_PROJECT: 'group/project' });
  });
  afterAll(async () => s?.close());

  const auth = () => ({ Authorization: `Bearer ${s.tokens.write}` });

  /** SQL statements the server sends while `fn` runs. */
  const statements = (fn: () => Promise<unknown>) => sqlStatements(s.t.db, fn);

  it('runs/get runs a fixed number of queries however long the metric history is', async () => {
    const create = async () => (await s.request.post(s.mlflow() + '/runs/create').set(auth()).send({ experiment_id: '0' })).body.run.info.run_id;
    const short = await create();
    const long = await create();
    await s.request.post(s.mlflow() + '/runs/log-metric').set(auth()).send({ run_id: short, key: 'm', value: 1, timestamp: 1, step: 0 });
    for (let b = 0; b < 5; b++) {
      const metrics = Array.from({ length: 1000 }, (_, i) => ({ key: `m${i % 20}`, value: i, timestamp: b, step: b * 1000 + i }));
      const res = await s.request.post(s.mlflow() + '/runs/log-batch').set(auth()).send({ run_id: long, metrics });
      expect(res.status).toBe(200);
    }
    const get = (id: string) => statements(() => s.request.get(s.mlflow() + '/runs/get').set(auth()).query({ run_id: id }));
    const a = await get(short);
    const b = await get(long);
    expect(b.length).toBe(a.length);
    const got = await s.request.get(s.mlflow() + '/runs/get').set(auth()).query({ run_id: long });
    expect(got.body.run.data.metrics).toHaveLength(20);
    expect(got.body.run.data.metrics.find((m: { key: string }) => m.key === 'm0')).toEqual({ key: 'm0', value: 980, timestamp: 4, step: 4980 });
  });

  it("log-batch writes each table with multi-row inserts: a 1000-item batch is a handful of statements", async () => {
    const runId = (await s.request.post(s.mlflow() + '/runs/create').set(auth()).send({ experiment_id: '0' })).body.run.info.run_id;
    const metrics = Array.from({ length: 900 }, (_, i) => ({ key: `k${i % 10}`, value: i, timestamp: 1, step: i }));
    const params = Array.from({ length: 100 }, (_, i) => ({ key: `p${i}`, value: 'v' }));
    const sqls = await statements(async () => {
      const res = await s.request.post(s.mlflow() + '/runs/log-batch').set(auth()).send({ run_id: runId, metrics, params });
      expect(res.status).toBe(200);
    });
    const inserts = sqls.filter((q) => /^insert/i.test(q));
    // MySQL: metrics in 1 statement (up to 4,000 rows each), latest_metrics 1, params 1, in one round trip. SQLite runs in this process: the
    // batch is one transaction of cached prepared statements on the driver (db/sqlite-batch.ts), none through knex.
    expect(inserts.filter((q) => /into [`"]?metrics[`"]? /i.test(q))).toHaveLength(kind === 'mysql' ? 1 : 0);
    expect(inserts.filter((q) => /into [`"]?params[`"]? /i.test(q))).toHaveLength(kind === 'mysql' ? 1 : 0);
    expect(sqls.length).toBeLessThan(15);
    expect(Number((await s.t.db('metrics').count({ n: '*' }).first())!.n)).toBeGreaterThanOrEqual(900);
    const run = await s.t.db('runs').where({ run_uuid: runId }).first('id');
    const stored = await s.t.db('params').where({ run_id: run.id }).orderBy('key').select('key', 'value');
    expect(stored).toEqual(params.map((p) => ({ key: p.key, value: p.value })).sort((a, b) => (a.key < b.key ? -1 : 1)));
  });

  it('search pages after the first read a value band from the index and answer exactly as the full sort', async () => {
    const { experiment_id } = (await s.request.post(s.mlflow() + '/experiments/create').set(auth()).send({ name: 'banded' })).body;
    const values = [5, 3, 3, 3, 9, -1, Number.NaN, 7, 3, 0, 2, 2, 8, Infinity, -Infinity, 4, 6, 3, 1];
    for (let i = 0; i < 24; i++) {
      const { run } = (await s.request.post(s.mlflow() + '/runs/create').set(auth()).send({ experiment_id, start_time: 1000 + (i % 5), run_name: `b${i}` })).body;
      const metrics = [{ key: 'other', value: i, timestamp: 1, step: 0 }];
      if (i < values.length) metrics.push({ key: 'x', value: Number.isNaN(values[i]!) ? 'NaN' : values[i] === Infinity ? 'Infinity' : values[i] === -Infinity ? '-Infinity' : values[i], timestamp: 1, step: 0 } as never);
      await s.request.post(s.mlflow() + '/runs/log-batch').set(auth()).send({ run_id: run.info.run_id, metrics, params: [{ key: 'p', value: i % 2 ? 'odd' : 'even' }] });
    }
    const search = async (body: object) => (await s.request.post(s.mlflow() + '/runs/search').set(auth()).send({ experiment_ids: [experiment_id], ...body })).body;
    for (const order_by of [['metrics.x DESC'], ['metrics.x ASC'], [], ['attributes.start_time ASC']]) {
      for (const filter of ['', "params.p = 'even'", 'metrics.other >= 3']) {
        const all = ((await search({ order_by, filter, max_results: 1000 })).runs ?? []).map((r: any) => r.info.run_name);
        let paged: string[] = [];
        let token: string | undefined;
        let pages = 0;
        const sqls = await statements(async () => {
          do {
            pages++;
            const page = await search({ order_by, filter, max_results: 3, ...(token ? { page_token: token } : {}) });
            paged = paged.concat((page.runs ?? []).map((r: any) => r.info.run_name));
            token = page.next_page_token;
          } while (token);
        });
        expect(paged, `${order_by} / ${filter}`).toEqual(all);
        expect(sqls.some((q) => /AS v FROM (latest_metrics|runs) b /.test(q)), `band used for ${order_by} / ${filter}`).toBe(true);
        if (filter === '') {
          // Without a filter every band holds a full page: one page query per page, never a second, unbounded one;
          // with metric orders the pages that reach the NaN/missing rows run the unbounded query too.
          const pageQueries = sqls.filter((q) => /^SELECT r\.id AS id/.test(q)).length;
          if (order_by[0]?.startsWith('metrics.')) expect(pageQueries, `${order_by}`).toBeLessThanOrEqual(pages + 3);
          else expect(pageQueries, `${order_by}`).toBe(pages);
        }
      }
    }
  });

  it('a search whose answer fits one page runs one page query (after a one-row index probe)', async () => {
    const { experiment_id } = (await s.request.post(s.mlflow() + '/experiments/create').set(auth()).send({ name: 'small' })).body;
    await s.request.post(s.mlflow() + '/runs/create').set(auth()).send({ experiment_id });
    const sqls = await statements(() =>
      s.request.post(s.mlflow() + '/runs/search').set(auth()).send({ experiment_ids: [experiment_id], max_results: 10000 }),
    );
    expect(sqls.filter((q) => /^SELECT r\.id AS id/.test(q))).toHaveLength(1);
    expect(sqls.filter((q) => / AS v FROM runs b /.test(q))).toHaveLength(1);
  });

  it('MLTRACK_ROOT_PROJECT may name the root project by path', async () => {
    const created = await s.request.post('/api/2.0/mlflow/experiments/create').set(auth()).send({ name: 'via root mount' });
    expect(created.status).toBe(200);
    const byProject = await s.request.get(s.mlflow(s.project) + '/experiments/get-by-name').set(auth()).query({ experiment_name: 'via root mount' });
    expect(byProject.body.experiment.experiment_id).toBe(created.body.experiment_id);
  });
});
