/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// UI benchmark: headless Debian chromium against a seeded server, medians of 3, each next to a same-run baseline.
//   npm run bench:ui                       (SQLite; MLTRACK_BENCH_MYSQL_URL=mysql://… adds the server-side figures on MySQL)
// Figures: 10k runs × 30 columns painted after navigation (first rows), then all rows in, with where that time goes
// (resource timings of each request, the runs procedure timed from node); sort by a metric; a run with 10 metrics ×
// 100k points (BENCH_UI_CHART_POINTS=1000000 for 1M; seeding then takes minutes) with every chart drawn; server time
// of a 1,000-bucket history of a 1M-point metric; bundle sizes gzipped.
// Long: seeding 1M points takes ~20 s on SQLite and longer on MariaDB. Not a test: nothing here asserts a timing.
import fs from 'node:fs';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { chromium, type Page } from 'playwright-core';
import { startTarget, type BenchTarget } from './common.ts';
import { createExperiment, getExperimentRowByIid } from '../../db/experiments.ts';
import type { Db } from '../../db/knex.ts';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const RUNS = Number(process.env.BENCH_UI_RUNS ?? 10_000);
const BIG = Number(process.env.BENCH_UI_POINTS ?? 1_000_000);
const CHART_POINTS = Number(process.env.BENCH_UI_CHART_POINTS ?? 100_000);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f = (ms: number) => `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;

// SQLite caps a compound SELECT (knex's multi-row insert there) at 500 terms
async function chunked(db: Db, table: string, rows: Record<string, unknown>[]) {
  const size = db.client.config.client === 'mysql2' ? 2000 : 500;
  await db.transaction(async (trx) => {
    for (let i = 0; i < rows.length; i += size) await trx(table).insert(rows.slice(i, i + size));
  });
}

const hex = (n: number) => n.toString(16).padStart(32, '0');

async function seed(t: BenchTarget) {
  const db = t.db;
  const eid = await createExperiment(db, { projectId: 1, name: 'bench', tags: [], creatorId: 1 });
  const exp = (await getExperimentRowByIid(db, 1, eid))!;
  const t0 = Date.UTC(2026, 0, 1);
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    runs.push({ run_uuid: hex(i + 1), project_id: 1, experiment_id: exp.id, name: `run-${i}`, user_id: 'bench', status: i % 50 === 0 ? 'FAILED' : 'FINISHED', start_time: t0 + i * 1000, end_time: t0 + i * 1000 + 60_000, lifecycle_stage: 'active', artifact_uri: `mlflow-artifacts:/${eid}/${hex(i + 1)}/artifacts` });
  }
  await chunked(db, 'runs', runs);
  const ids = (await db('runs').where({ experiment_id: exp.id }).orderBy('id').select('id')).map((r) => Number(r.id));
  const lm = [], params = [], tags = [];
  for (const [i, id] of ids.entries()) {
    for (let k = 0; k < 10; k++) {
      lm.push({ run_id: id, experiment_id: exp.id, key: `m${k}`, value: Math.sin(i * (k + 1)) , timestamp: t0, step: 100, is_nan: false });
      params.push({ run_id: id, key: `p${k}`, value: String((i * 7 + k) % 97) });
      tags.push({ run_id: id, key: `t${k}`, value: `v${(i + k) % 13}` });
    }
  }
  await chunked(db, 'latest_metrics', lm);
  await chunked(db, 'params', params);
  await chunked(db, 'tags', tags);
  // the chart run: 10 metrics × CHART_POINTS; and one metric of BIG points on the first run for the server figure
  const chartRun = ids[1]!;
  for (let k = 0; k < 10; k++) {
    const pts = [];
    for (let s = 0; s < CHART_POINTS; s++) pts.push({ run_id: chartRun, key: `m${k}`, timestamp: t0 + s * 10, step: s, value: Math.exp(-s / CHART_POINTS) + Math.sin(s / 500) * 0.05 + (s % 10007 === 0 ? 3 : 0), is_nan: false });
    await chunked(db, 'metrics', pts);
  }
  const pts = [];
  for (let s = 0; s < BIG; s++) {
    pts.push({ run_id: ids[0]!, key: 'big', timestamp: t0 + s, step: s, value: Math.sin(s / 1000), is_nan: false });
    if (pts.length === 5000) await chunked(db, 'metrics', pts.splice(0));
  }
  await chunked(db, 'metrics', pts);
  await db('latest_metrics').insert({ run_id: ids[0]!, experiment_id: exp.id, key: 'big', value: 0, timestamp: t0 + BIG, step: BIG - 1, is_nan: false });
  return { eid, chartRunUuid: hex(2), bigRunUuid: hex(1) };
}

async function serverFigures(t: BenchTarget, s: { bigRunUuid: string; eid: string }) {
  const url = `http://127.0.0.1:${t.port}/api/v4/projects/1/trpc/ui.metricHistory?input=${encodeURIComponent(JSON.stringify({ runId: s.bigRunUuid, key: 'big', points: 1000 }))}`;
  const base = `http://127.0.0.1:${t.port}${t.base}/metrics/get-history-bulk-interval?run_ids=${s.bigRunUuid}&metric_key=big&max_results=320`;
  const time = async (u: string) => {
    const a = performance.now();
    const r = await fetch(u, { headers: { authorization: `Bearer ${t.token}` } });
    const body = await r.text();
    if (!r.ok) throw new Error(`${r.status} ${body.slice(0, 200)}`);
    return performance.now() - a;
  };
  await time(url);
  await time(base);
  const ours = [], theirs = [];
  for (let i = 0; i < 3; i++) { ours.push(await time(url)); theirs.push(await time(base)); }
  console.log(`[${t.name}] ${BIG.toLocaleString("en-US")}-point history, 1,000 buckets (ui.metricHistory, HTTP round trip): median ${f(median(ours))} (${ours.map(f).join(', ')}); baseline get-history-bulk-interval max_results=320 same run: ${f(median(theirs))}`);
}

async function browserFigures(t: BenchTarget, s: { eid: string; chartRunUuid: string }) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await ctx.newPage();
  ctx.on('console', (m) => { if (m.text().startsWith('sort phases')) console.log('  ' + m.text()); });
  const ui = `http://127.0.0.1:${t.port}/api/v4/projects/1/ml/mlflow/`;
  await page.goto(ui);
  await page.evaluate(async (token) => {
    await fetch('/api/v4/ui/session', { method: 'POST', headers: { 'content-type': 'application/json', 'x-mltrack-ui': '1' }, body: JSON.stringify({ token }) });
  }, t.token);
  const cols = [...Array(10).keys()].flatMap((k) => [`m:m${k}`, `p:p${k}`, `t:t${k}`]).join('\n');
  const runsUrl = `${ui}#/experiments/${s.eid}?cols=${encodeURIComponent(cols)}`;
  const paint: number[] = [], base: number[] = [], sort: number[] = [], sortBase: number[] = [];
  const phases: Record<string, number>[] = [], complete: number[] = [];
  for (let i = 0; i < 3; i++) {
    const p = await ctx.newPage();
    await p.goto(runsUrl);
    await p.waitForFunction(() => performance.getEntriesByName('mltrack:runs-painted').length > 0, null, { timeout: 60_000 });
    paint.push(await p.evaluate(() => performance.getEntriesByName('mltrack:runs-painted')[0]!.startTime));
    // the rest of the rows (sorting needs them all)
    await p.waitForFunction(() => performance.getEntriesByName('mltrack:runs-complete').length > 0, null, { timeout: 60_000 });
    complete.push(await p.evaluate(() => performance.getEntriesByName('mltrack:runs-complete')[0]!.startTime));
    phases.push(await p.evaluate(`(${PHASES})()`) as Record<string, number>);
    // baseline, same page and run: fetching the same runs MLflow-shaped (runs/search, 1,000 a page) and parsing them
    base.push(await p.evaluate(async ({ eid }) => {
      const a = performance.now();
      let token: string | undefined;
      do {
        const r = await fetch('api/2.0/mlflow/runs/search', { method: 'POST', headers: { 'content-type': 'application/json', 'x-mltrack-ui': '1' }, body: JSON.stringify({ experiment_ids: [eid], max_results: 1000, page_token: token }) });
        token = (await r.json()).next_page_token;
      } while (token);
      return performance.now() - a;
    }, { eid: s.eid }));
    // sort by a metric: click → the first row shows the new order, after the next frame
    sort.push(await sortOnce(p, 'm0'));
    sortBase.push(await p.evaluate(() => {
      const xs = Array.from({ length: 10_000 }, (_, i) => ({ i, v: Math.sin(i * 4) }));
      const a = performance.now();
      xs.sort((x, y) => y.v - x.v);
      return performance.now() - a;
    }));
    await p.close();
  }
  console.log(`[browser] ${RUNS.toLocaleString('en-US')} runs × 36 columns painted after navigation: median ${f(median(paint))} (${paint.map(f).join(', ')}); baseline: fetching the same runs MLflow-shaped via runs/search: ${f(median(base))}`);
  console.log(`[browser] ${RUNS.toLocaleString('en-US')} runs × 36 columns, all rows loaded and shown (sortable): median ${f(median(complete))} (${complete.map(f).join(', ')}); baseline: the MLflow-shaped fetch above: ${f(median(base))}`);
  const keys = Object.keys(phases[0] ?? {});
  console.log(`  where the paint time goes (medians, ms after navigation): ${keys.map((k) => `${k} ${median(phases.map((x) => x[k] ?? NaN)).toFixed(0)}`).join(', ')}`);
  console.log(`  ui.runs (${RUNS.toLocaleString("en-US")} runs × 30 columns) server, node client: ${await runsServerTime(t, s.eid, cols)}`);
  console.log(`[browser] sort ${RUNS.toLocaleString('en-US')} loaded runs by a metric, click → painted: median ${f(median(sort))} (${sort.map(f).join(', ')}); baseline: Array.sort of 10k objects alone: ${f(median(sortBase))}`);

  const charts: number[] = [], chartBase: number[] = [];
  for (let i = 0; i < 3; i++) {
    const p = await ctx.newPage();
    await p.goto(`${ui}#/experiments/${s.eid}/runs/${s.chartRunUuid}?tab=charts`);
    await p.waitForFunction(() => performance.getEntriesByType('mark').filter((m) => m.name.startsWith('mltrack:chart-drawn:')).length >= 10, null, { timeout: 60_000 });
    charts.push(await p.evaluate(() => Math.max(...performance.getEntriesByType('mark').filter((m) => m.name.startsWith('mltrack:chart-drawn:')).map((m) => m.startTime))));
    await p.close();
    const q = await ctx.newPage();
    await q.goto(`${ui}#/experiments/${s.eid}/runs/${s.chartRunUuid}`);
    await q.getByRole('table', { name: 'Run information' }).waitFor();
    chartBase.push(await q.evaluate(() => performance.now()));
    await q.close();
  }
  console.log(`[browser] run with 10 metrics × ${CHART_POINTS.toLocaleString('en-US')} points, every chart drawn after navigation: median ${f(median(charts))} (${charts.map(f).join(', ')}); baseline: the same run's overview tab (no charts) rendered: ${f(median(chartBase))}`);
  await browser.close();
}

// A string, not a function: tsx's keepNames would wrap inner functions in a __name() helper the page lacks.
const SORT_ONCE = `async (k) => {
  const first = () => document.querySelector('[role=row][aria-rowindex="2"] [aria-colindex="2"]')?.textContent;
  const before = first();
  const btn = [...document.querySelectorAll('[role=columnheader] button')].find((b) => b.textContent.replace(/[▲▼ ]/g, '') === k);
  if (!btn) throw new Error('no header ' + k);
  const a = performance.now();
  btn.click();
  while (first() === before) await new Promise((r) => setTimeout(r, 0));
  const b = performance.now();
  await new Promise((r) => requestAnimationFrame(() => r(null)));
  const c = performance.now();
  const m = performance.getEntriesByName('mltrack:sort');
  console.log('sort phases', (b - a).toFixed(1), (c - b).toFixed(1), m.length ? m[m.length - 1].duration.toFixed(1) : '-');
  return c - a;
}`;

// Resource timings of the runs page: when each request of the waterfall started and ended, and when JS booted.
const PHASES = `() => {
  const out = {};
  const nav = performance.getEntriesByType('navigation')[0];
  out['html'] = nav.responseEnd;
  for (const r of performance.getEntriesByType('resource')) {
    const n = r.name;
    const tag = /assets\\/index-[^/]*\\.js$/.test(n) ? 'entry.js' : /assets\\/start-[^/]*\\.js$/.test(n) ? 'app.js' : /\\/ui\\/session/.test(n) ? 'session' : /ui\\.runs/.test(n) ? (/orderBy/.test(decodeURIComponent(n)) ? 'runs head' : 'runs all') : /ui\\.project/.test(n) ? 'project' : /ui\\.keys/.test(n) ? 'keys' : null;
    if (!tag || out[tag + ' start'] !== undefined) continue;
    out[tag + ' start'] = r.startTime; out[tag + ' end'] = r.responseEnd;
    if (tag === 'runs all') out['runs all kB'] = r.encodedBodySize / 1024;
  }
  for (const [m, k] of [['mltrack:boot', 'entry ran'], ['mltrack:app', 'app ran'], ['mltrack:runs-complete', 'all rows shown']]) {
    const e = performance.getEntriesByName(m)[0];
    if (e) out[k] = e.startTime;
  }
  const got = performance.getEntriesByName('mltrack:runs-data')[0];
  if (got) out['runs parsed'] = got.startTime;
  return out;
}`;

/** The runs page procedure as the UI calls it, timed from node (HTTP on loopback ≈ server time + JSON): median of 3. */
async function runsServerTime(t: BenchTarget, eid: string, cols: string) {
  const ks = cols.split('\n');
  const input = { experimentId: eid, viewType: 'ACTIVE_ONLY', metrics: ks.filter((k) => k[0] === 'm').map((k) => k.slice(2)), params: ks.filter((k) => k[0] === 'p').map((k) => k.slice(2)), tags: ks.filter((k) => k[0] === 't').map((k) => k.slice(2)), metricAgg: 'last', limit: 10_000 };
  const url = `http://127.0.0.1:${t.port}/api/v4/projects/1/trpc/ui.runs?input=${encodeURIComponent(JSON.stringify(input))}`;
  const xs: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 3; i++) {
    const a = performance.now();
    const r = await fetch(url, { headers: { authorization: `Bearer ${t.token}` } });
    bytes = (await r.arrayBuffer()).byteLength;
    if (!r.ok) throw new Error(`ui.runs ${r.status}`);
    xs.push(performance.now() - a);
  }
  // baseline, same run: the same runs MLflow-shaped (runs/search, 1,000 a page), also from node
  const ys: number[] = [];
  for (let i = 0; i < 3; i++) {
    const a = performance.now();
    let token: string | undefined;
    do {
      const r = await fetch(`http://127.0.0.1:${t.port}${t.base}/runs/search`, { method: 'POST', headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ experiment_ids: [eid], max_results: 1000, page_token: token }) });
      token = ((await r.json()) as { next_page_token?: string }).next_page_token;
    } while (token);
    ys.push(performance.now() - a);
  }
  return `median ${f(median(xs))} (${xs.map(f).join(', ')}), ${(bytes / 1024).toFixed(0)} kB uncompressed; baseline runs/search of the same runs from node: ${f(median(ys))}`;
}

async function sortOnce(p: Page, key: string): Promise<number> {
  return p.evaluate(`(${SORT_ONCE})(${JSON.stringify(key)})`) as Promise<number>;
}

function bundle() {
  execFileSync(process.execPath, ['scripts/build-ui-if-stale.mjs'], { stdio: 'inherit' });
  const html = fs.readFileSync('ui/dist/index.html', 'utf8');
  const gz = (p: string) => zlib.gzipSync(fs.readFileSync(p), { level: 9 }).length;
  const initial = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => `ui/dist/${m[1]}`);
  const initialJs = initial.filter((p) => p.endsWith('.js')).reduce((s, p) => s + gz(p), 0);
  const chart = fs.readdirSync('ui/dist/assets').filter((n) => /^Chart-.*\.js$/.test(n)).map((n) => gz(`ui/dist/assets/${n}`));
  console.log(`[bundle] initial JS ${(initialJs / 1024).toFixed(1)} kB gzipped (-9); chart chunk (uPlot) ${chart.map((b) => (b / 1024).toFixed(1)).join(', ')} kB gzipped, loaded lazily`);
}

bundle();
const sqlite = await startTarget('sqlite');
try {
  const a = performance.now();
  const s = await seed(sqlite);
  console.log(`[sqlite] seeded ${RUNS} runs × 30 keys, 10 × ${CHART_POINTS} + ${BIG} metric points in ${((performance.now() - a) / 1000).toFixed(1)} s`);
  await serverFigures(sqlite, s);
  await browserFigures(sqlite, s);
} finally {
  await sqlite.close();
}
if (process.env.MLTRACK_BENCH_MYSQL_URL) {
  const my = await startTarget('mysql', process.env.MLTRACK_BENCH_MYSQL_URL);
  try {
    const a = performance.now();
    const s = await seed(my);
    console.log(`[mysql] seeded in ${((performance.now() - a) / 1000).toFixed(1)} s`);
    await serverFigures(my, s);
  } finally {
    await my.close();
  }
}
