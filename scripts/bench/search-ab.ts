// Same-run A/B of the runs/search bench against another checkout (BASE_TREE, e.g. a `git worktree` of the commit
// before), for a busy machine: one database, one process, both servers in it (each its own module graph: the other
// tree's server/app.ts), requests alternating between them in blocks of one full paging (25 pages), with the
// latest_metrics index each expects swapped in between when INDEX_SWAP=1 (004's for the base, 008's for this tree;
// without it both use the migrated schema). Prints, per side:
// the first page, later pages, the slowest page (median over rounds), and paging through all 25,000 runs.
// Usage: BASE_TREE=/path/to/old/checkout [MLTRACK_TEST_MYSQL_URL=...] KIND=sqlite|mysql npx tsx scripts/bench/search-ab.ts
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { call, fmt, median, now, startTarget, type BenchTarget } from './common.ts';
import { seedSearch } from './search.ts';
import { loadConfig } from '../../core/config.ts';

const kind = (process.env.KIND ?? 'sqlite') as 'sqlite' | 'mysql';
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const baseTree = process.env.BASE_TREE;
if (!baseTree) throw new Error('BASE_TREE: a checkout of the commit to compare with');

async function swapIndex(t: BenchTarget, which: 'base' | 'new') {
  if (!process.env.INDEX_SWAP) return;
  const has = async (name: string) =>
    kind === 'mysql'
      ? ((await t.db.raw('SHOW INDEX FROM latest_metrics WHERE Key_name = ?', [name])) as any)[0].length > 0
      : ((await t.db.raw("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", [name])) as unknown[]).length > 0;
  const old = ['latest_metrics_experiment_key_value_idx', ['experiment_id', 'key', 'value']] as const;
  const band = ['latest_metrics_experiment_band_idx', ['experiment_id', 'key', 'is_nan', 'value', 'run_id']] as const;
  const [add, drop] = which === 'base' ? [old, band] : [band, old];
  if (!(await has(add[0]))) await t.db.schema.alterTable('latest_metrics', (tb) => tb.index([...add[1]], add[0]));
  if (await has(drop[0])) await t.db.schema.alterTable('latest_metrics', (tb) => tb.dropIndex([], drop[0]));
  // no ANALYZE: SQLite runs without statistics here as in production (nothing runs ANALYZE); InnoDB counts a new
  // index's statistics itself
}

const t = await startTarget(kind, process.env.MLTRACK_TEST_MYSQL_URL);
try {
  const { experiment_id } = await seedSearch(t);
  const { createApp } = (await import(path.resolve(baseTree, 'server/app.ts'))) as { createApp: (o: unknown) => http.RequestListener & { listen: Function } };
  const baseApp = createApp({ db: t.db, config: loadConfig({ DATA_DIR: '/tmp' }) });
  const baseServer = await new Promise<http.Server>((r) => {
    const s = (baseApp as any).listen(0, '127.0.0.1', () => r(s));
  });
  const sides = {
    base: { ...t, port: (baseServer.address() as AddressInfo).port },
    new: t,
  };
  const broad = { experiment_ids: [experiment_id], filter: "metrics.m1 >= -2 AND params.p1 LIKE 'v%'", order_by: ['metrics.m2 DESC'], max_results: 1000 };
  const figures = { base: { first: [] as number[], later: [] as number[], all: [] as number[], byPage: [] as number[][] }, new: { first: [] as number[], later: [] as number[], all: [] as number[], byPage: [] as number[][] } };
  for (let round = 0; round < ROUNDS; round++) {
    for (const side of round % 2 ? (['new', 'base'] as const) : (['base', 'new'] as const)) {
      await swapIndex(t, side);
      const target = sides[side];
      const f = figures[side];
      for (let i = 0; i < 3; i++) {
        const s = now();
        await call(target as BenchTarget, 'POST', '/runs/search', broad);
        if (i > 0) f.first.push(now() - s);
      }
      const s = now();
      let token: string | undefined;
      let page = 0;
      const seen = new Set<string>();
      do {
        const p0 = now();
        const r = await call(target as BenchTarget, 'POST', '/runs/search', { ...broad, ...(token ? { page_token: token } : {}) });
        if (token) f.later.push(now() - p0);
        (f.byPage[page++] ??= []).push(now() - p0);
        for (const run of r.runs ?? []) seen.add(run.info.run_id);
        token = r.next_page_token;
      } while (token);
      f.all.push(now() - s);
      if (seen.size !== 25_000) throw new Error(`${side}: paging saw ${seen.size} runs`);
    }
  }
  for (const side of ['base', 'new'] as const) {
    const f = figures[side];
    console.log(
      `[${kind}] ${side === 'base' ? `base (${path.basename(baseTree)})` : 'this tree'}: first page median ${fmt(median(f.first), 1)} ms | later pages median ${fmt(median(f.later), 1)} ms, ` +
        `slowest page ${fmt(Math.max(...f.byPage.map(median)), 1)} ms (page ${f.byPage.map(median).indexOf(Math.max(...f.byPage.map(median))) + 1}, median of ${ROUNDS}) | all 25,000 runs: median of ${ROUNDS} ${fmt(median(f.all) / 1000, 2)} s`,
    );
  }
  if (process.env.BY_PAGE) for (const side of ['base', 'new'] as const) console.log(`  ${side} by page: ${figures[side].byPage.map((v) => fmt(median(v), 0)).join(' ')}`);
  await new Promise((r) => baseServer.close(r));
} finally {
  await t.close();
}
process.exit(0);
