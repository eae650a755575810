// Where a later runs/search page's time goes (dev tool): seeds the search bench's fixture, pages through it in-process
// and prints searchRuns' time by page, each statement's median time (its SQL's head and tail), runsJsonText's time.
// EXPLAIN=1 also prints page 13's statements with their plans; JSONPROF=1 instead times runsJsonText's statements.
// Usage: [MLTRACK_TEST_MYSQL_URL=...] KIND=mysql|sqlite npx tsx scripts/bench/search-profile.ts
import { startTarget, now, fmt, median } from './common.ts';
import { seedSearch } from './search.ts';
import { searchRuns } from '../../db/search/index.ts';
import { runsJsonText } from '../../db/run-json.ts';

const kind = (process.env.KIND ?? 'sqlite') as 'sqlite' | 'mysql';
const t = await startTarget(kind, process.env.MLTRACK_TEST_MYSQL_URL);
try {
  const { exp } = await seedSearch(t);
  if (process.env.SWAP) {
    // as search-ab.ts leaves it: 004's index back and analysed, then 008's again
    await t.db.schema.alterTable('latest_metrics', (tb) => tb.index(['experiment_id', 'key', 'value'], 'latest_metrics_experiment_key_value_idx'));
    await t.db.schema.alterTable('latest_metrics', (tb) => tb.dropIndex([], 'latest_metrics_experiment_band_idx'));
    await t.db.raw(kind === 'mysql' ? 'ANALYZE TABLE latest_metrics' : 'ANALYZE latest_metrics');
    await t.db.schema.alterTable('latest_metrics', (tb) => tb.index(['experiment_id', 'key', 'is_nan', 'value', 'run_id'], 'latest_metrics_experiment_band_idx'));
    await t.db.schema.alterTable('latest_metrics', (tb) => tb.dropIndex([], 'latest_metrics_experiment_key_value_idx'));
  }
  if (process.env.ANALYZE) await t.db.raw(kind === 'mysql' ? 'ANALYZE TABLE latest_metrics, runs, params, tags' : process.env.ANALYZE === 'all' ? 'ANALYZE' : 'ANALYZE latest_metrics');
  const starts = new Map<string, { sql: string; bindings: unknown; t: number }>();
  const log: { sql: string; bindings: unknown; ms: number }[] = [];
  t.db.on('query', (q: any) => starts.set(q.__knexQueryUid, { sql: q.sql, bindings: q.bindings, t: now() }));
  t.db.on('query-response', (_r: any, q: any) => {
    const s = starts.get(q.__knexQueryUid);
    if (s) log.push({ sql: s.sql, bindings: s.bindings, ms: now() - s.t });
  });
  if (process.env.JSONPROF) {
    const r = await searchRuns(t.db, { experimentIds: [exp.id], orderBy: ['metrics.m2 DESC'], maxResults: 1000, viewType: 'ACTIVE_ONLY' });
    const ids = JSON.stringify(r.runIds);
    const jt = kind === 'mysql' ? "JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH '$')) j STRAIGHT_JOIN" : '(SELECT value AS id FROM json_each(?)) j CROSS JOIN';
    const stmts: Record<string, string> = {
      runs: `SELECT r.id, r.run_uuid, r.name, e.experiment_id, r.user_id, r.status, r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage FROM ${jt} runs r ON r.id = j.id ${kind === 'mysql' ? 'STRAIGHT_JOIN' : 'CROSS JOIN'} experiments e ON e.id = r.experiment_id`,
      metrics: `SELECT x.run_id, x.\`key\`, x.value, x.\`timestamp\`, x.step, x.is_nan FROM ${jt} latest_metrics x ON x.run_id = j.id`,
      params: `SELECT x.run_id, x.\`key\`, x.value FROM ${jt} params x ON x.run_id = j.id`,
      tags: `SELECT x.run_id, x.\`key\`, x.value FROM ${jt} tags x ON x.run_id = j.id`,
      metricsIn: `SELECT x.run_id, x.\`key\`, x.value, x.\`timestamp\`, x.step, x.is_nan FROM latest_metrics x WHERE x.run_id IN (${r.runIds.join(',')})`,
      paramsTags: `SELECT x.run_id, x.\`key\`, x.value FROM ${jt} params x ON x.run_id = j.id UNION ALL SELECT x.run_id, x.\`key\`, x.value FROM ${jt} tags x ON x.run_id = j.id`,
    };
    for (let rep = 0; rep < 2; rep++) {
      for (const [name, sql] of Object.entries(stmts)) {
        const times: number[] = [];
        for (let i = 0; i < 7; i++) {
          const s = now();
          await t.db.raw(sql, name === 'metricsIn' ? [] : name === 'paramsTags' ? [ids, ids] : [ids]);
          times.push(now() - s);
        }
        console.log(`  ${name}: ${fmt(median(times), 1)} ms (knex, rows as objects)`);
      }
      const times: number[] = [];
      for (let i = 0; i < 7; i++) {
        const s = now();
        await runsJsonText(t.db, r.runIds);
        times.push(now() - s);
      }
      console.log(`  runsJsonText: ${fmt(median(times), 1)} ms`);
    }
    process.exit(0);
  }
  const q = { experimentIds: [exp.id], filter: "metrics.m1 >= -2 AND params.p1 LIKE 'v%'", orderBy: ['metrics.m2 DESC'], maxResults: 1000, viewType: 'ACTIVE_ONLY' as const };
  const search: number[] = [];
  const json: number[] = [];
  const perStatement = new Map<string, number[]>();
  const perPage: number[][] = [];
  for (let round = 0; round < 3; round++) {
    let token: string | undefined;
    let page = 0;
    do {
      log.length = 0;
      const s = now();
      const r = await searchRuns(t.db, { ...q, pageToken: token });
      const s2 = now();
      await runsJsonText(t.db, r.runIds);
      const s3 = now();
      (perPage[page] ??= []).push(s2 - s);
      if (token) {
        search.push(s2 - s);
        json.push(s3 - s2);
        for (const [i, l] of log.entries()) {
          const k = `${i}: ${l.sql.slice(0, 40)}…${l.sql.slice(-90).replace(/[-0-9.e+]{8,}/g, '#')}`;
          perStatement.set(k, [...(perStatement.get(k) ?? []), l.ms]);
        }
      }
      if (process.env.EXPLAIN && round === 0 && page === Number(process.env.EXPLAIN_PAGE ?? 12)) {
        for (const l of [...log]) {
          console.log(`page ${page}: ${fmt(l.ms, 1)} ms  ${l.sql}\n  ${JSON.stringify(l.bindings)}`);
          const plan = await t.db.raw(`${kind === 'mysql' ? 'EXPLAIN' : 'EXPLAIN QUERY PLAN'} ${l.sql}`, l.bindings as any);
          console.log(kind === 'mysql' ? (plan as any)[0] : plan);
        }
      }
      token = r.nextPageToken;
      page++;
    } while (token);
  }
  console.log(`[${kind}] later pages: searchRuns median ${fmt(median(search), 1)} ms, runsJsonText median ${fmt(median(json), 1)} ms`);
  console.log(`  searchRuns by page (first included): ${perPage.map((v) => v && fmt(median(v), 0)).join(' ')}`);
  for (const [k, v] of perStatement) console.log(`  ${fmt(median(v), 1)} ms (n=${v.length}) ${k}`);
} finally {
  await t.close();
}
process.exit(0);
