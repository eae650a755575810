import crypto from 'node:crypto';
import { call, fmt, median, now, type BenchTarget } from './common.ts';
import { chunk, INSERT_CHUNK } from '../../db/tx.ts';
import { searchRuns } from '../../db/search/index.ts';
import { runsJsonText } from '../../db/run-json.ts';
import { searchJsonStream } from '../../routers/search.ts';

const RUNS = Number(process.env.BENCH_SEARCH_RUNS ?? 25_000);

/** One experiment of RUNS runs (10 params, 10 tags, 10 metrics each), written straight into the tables. */
export async function seedSearch(t: BenchTarget): Promise<{ experiment_id: string; exp: { id: number } }> {
  const { experiment_id } = await call(t, 'POST', '/experiments/create', { name: `search-bench-${Date.now()}` });
  const exp = await t.db('experiments').where({ project_id: 1, experiment_id: Number(experiment_id) }).first('id', 'artifact_location');
  const t0 = now();
  const base = Date.now() - RUNS * 1000;
  for (const ids of chunk(Array.from({ length: RUNS }, (_, i) => i), 1000)) {
    const runs = ids.map((i) => {
      const uuid = crypto.randomBytes(16).toString('hex');
      return {
        run_uuid: uuid, project_id: 1, experiment_id: exp.id, name: `run-${i}`, user_id: 'bench', status: 'FINISHED',
        start_time: base + i * 1000, end_time: base + i * 1000 + 500, lifecycle_stage: 'active',
        artifact_uri: `${exp.artifact_location}/${uuid}/artifacts`,
      };
    });
    await t.db.transaction(async (trx) => {
      for (const part of chunk(runs, INSERT_CHUNK)) await trx('runs').insert(part);
      const rows = await trx('runs').whereIn('run_uuid', runs.map((r) => r.run_uuid)).select('id', 'name');
      const params: object[] = [];
      const tags: object[] = [];
      const latest: object[] = [];
      for (const r of rows) {
        const i = Number(String(r.name).slice(4));
        for (let k = 0; k < 10; k++) {
          params.push({ run_id: r.id, key: `p${k}`, value: `v${(i * 7 + k) % 100}` });
          tags.push({ run_id: r.id, key: `t${k}`, value: `tag-${(i + k) % 50}` });
          latest.push({ run_id: r.id, experiment_id: exp.id, key: `m${k}`, value: Math.sin(i * 13 + k), timestamp: base + i, step: 10, is_nan: false });
        }
      }
      for (const part of chunk(params, INSERT_CHUNK)) await trx('params').insert(part);
      for (const part of chunk(tags, INSERT_CHUNK)) await trx('tags').insert(part);
      for (const part of chunk(latest, INSERT_CHUNK)) await trx('latest_metrics').insert(part);
      for (const part of chunk(latest, INSERT_CHUNK)) await trx('metrics').insert(part.map(({ experiment_id: _e, ...m }: any) => m));
    });
  }
  console.log(`[${t.name}] search fixture: ${fmt(RUNS)} runs × (10 params, 10 tags, 10 metrics) in ${fmt((now() - t0) / 1000, 1)} s`);
  return { experiment_id, exp };
}

/**
 * runs/search on one experiment of 25,000 runs (10 params, 10 tags, 10 metrics each): pages of 1000 with a
 * metric-plus-param filter and order_by a metric, and paging through all of them, through HTTP; baselines in the same
 * run: the answer built as before (Run objects), and the plain indexed SELECT of 1000 run rows of the experiment.
 */
export async function benchSearch(t: BenchTarget): Promise<void> {
  const { experiment_id, exp } = await seedSearch(t);

  // Broad filter (matches every run, so paging covers all 25,000) and a selective one.
  const broad = { experiment_ids: [experiment_id], filter: "metrics.m1 >= -2 AND params.p1 LIKE 'v%'", order_by: ['metrics.m2 DESC'], max_results: 1000 };
  const selective = { experiment_ids: [experiment_id], filter: "metrics.m1 > 0.5 AND params.p1 = 'v8'", order_by: ['metrics.m2 DESC'], max_results: 1000 };

  // "now" (the streamed JSON answer) and the same-run "before" (Run objects, zod's output check, JSON.stringify), in
  // alternating blocks so that a busy machine weighs on both alike (not request by request: the garbage one request
  // leaves is collected during the next, which would bill each mode for the other's)
  const modes = [
    { name: 'now', stream: true, first: [] as number[], later: [] as number[], all: [] as number[], byPage: [] as number[][] },
    { name: 'before (Run objects)', stream: false, first: [] as number[], later: [] as number[], all: [] as number[], byPage: [] as number[][] },
  ];
  for (let round = 0; round < 3; round++) {
    for (const m of modes) {
      searchJsonStream.enabled = m.stream;
      for (let i = 0; i < 4; i++) {
        const s = now();
        const r = await call(t, 'POST', '/runs/search', broad);
        if (i > 0) m.first.push(now() - s); // the block's first request pays for the other mode's garbage
        if (r.runs.length !== 1000) throw new Error(`expected 1000 runs, got ${r.runs.length}`);
      }
    }
  }
  searchJsonStream.enabled = true;
  const sel: number[] = [];
  let selCount = 0;
  for (let i = 0; i < 7; i++) {
    const s = now();
    const r = await call(t, 'POST', '/runs/search', selective);
    sel.push(now() - s);
    selCount = r.runs?.length ?? 0;
  }
  let pages = 0;
  for (let round = 0; round < 3; round++) {
    for (const m of modes) {
      searchJsonStream.enabled = m.stream;
      const s = now();
      const seen = new Set<string>();
      let token: string | undefined;
      pages = 0;
      do {
        const p0 = now();
        const r = await call(t, 'POST', '/runs/search', { ...broad, ...(token ? { page_token: token } : {}) });
        if (token) m.later.push(now() - p0);
        (m.byPage[pages] ??= []).push(now() - p0);
        for (const run of r.runs ?? []) seen.add(run.info.run_id);
        token = r.next_page_token;
        pages++;
      } while (token);
      m.all.push(now() - s);
      if (seen.size !== RUNS) throw new Error(`paging saw ${seen.size} runs, expected ${RUNS}`);
    }
  }
  searchJsonStream.enabled = true;

  // where a page's time goes, in-process: the search statements (ids of the page) and the answer's JSON, for the
  // first page and for a page in the middle (page 13 of 25)
  const q = { experimentIds: [exp.id], filter: broad.filter, orderBy: broad.order_by, maxResults: 1000, viewType: 'ACTIVE_ONLY' as const };
  let middle: string | undefined;
  for (let i = 0, p = await searchRuns(t.db, q); i < 12; i++) {
    middle = p.nextPageToken;
    p = await searchRuns(t.db, { ...q, pageToken: middle });
  }
  const sqlTimes: number[] = [];
  const jsonTimes: number[] = [];
  const laterSqlTimes: number[] = [];
  for (let i = 0; i < 7; i++) {
    const s1 = now();
    const p = await searchRuns(t.db, q);
    sqlTimes.push(now() - s1);
    const s2 = now();
    await runsJsonText(t.db, p.runIds);
    jsonTimes.push(now() - s2);
    const s3 = now();
    await searchRuns(t.db, { ...q, pageToken: middle });
    laterSqlTimes.push(now() - s3);
  }

  const rawTimes: number[] = [];
  for (let i = 0; i < 7; i++) {
    const s2 = now();
    await t.db('runs').where({ experiment_id: exp.id, lifecycle_stage: 'active' }).orderBy([{ column: 'start_time', order: 'desc' }, 'run_uuid']).limit(1000).select('*');
    rawTimes.push(now() - s2);
  }
  const raw = median(rawTimes);
  for (const m of modes) {
    console.log(
      `[${t.name}] runs/search ${m.name}: page of 1000 (metric+param filter, order by metric): median ${fmt(median(m.first), 1)} ms | ` +
        `later pages (value band): median ${fmt(median(m.later), 1)} ms, slowest page ${fmt(Math.max(...m.byPage.map(median)), 1)} ms (median of 3) | all ${fmt(RUNS)} runs in ${pages} pages: median of 3 ${fmt(median(m.all) / 1000, 2)} s`,
    );
  }
  console.log(
    `[${t.name}] runs/search now: selective filter (${selCount} runs): median ${fmt(median(sel), 1)} ms | in-process: search statements ` +
      `${fmt(median(sqlTimes), 1)} ms (page 13: ${fmt(median(laterSqlTimes), 1)} ms) + answer JSON ${fmt(median(jsonTimes), 1)} ms a page`,
  );
  console.log(`[${t.name}] baseline: plain SELECT of 1000 run rows: median ${fmt(raw, 1)} ms | search page / baseline = ${fmt(median(modes[0]!.first) / raw, 1)}×`);
}
