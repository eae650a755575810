// npm run bench — prints what it measured on SQLite and, with a MySQL URL, on MySQL, each next to a baseline taken
// in the same run. MySQL URL: MLTRACK_BENCH_MYSQL_URL, or MLTRACK_TEST_MYSQL_URL (a new database is created on it).
// Select benchmarks with BENCH=log-batch,search,registry (default: all).
import { startTarget } from './common.ts';
import { benchLogBatch } from './log-batch.ts';

const mysqlUrl = process.env.MLTRACK_BENCH_MYSQL_URL || process.env.MLTRACK_TEST_MYSQL_URL;
const only = new Set((process.env.BENCH ?? 'log-batch,search,registry,create').split(','));
const kinds: ('sqlite' | 'mysql')[] = mysqlUrl ? ['sqlite', 'mysql'] : ['sqlite'];
if (!mysqlUrl) console.log('(no MLTRACK_BENCH_MYSQL_URL: SQLite only)');

for (const kind of kinds) {
  if (only.has('log-batch')) {
    const t = await startTarget(kind, mysqlUrl);
    try {
      await benchLogBatch(t);
    } finally {
      await t.close();
    }
  }
  if (only.has('search')) {
    const mod = await import('./search.ts').catch(() => null);
    if (mod) {
      const t = await startTarget(kind, mysqlUrl);
      try {
        await mod.benchSearch(t);
      } finally {
        await t.close();
      }
    }
  }
  if (only.has('create')) {
    const { benchCreate } = await import('./create.ts');
    await benchCreate(kind, mysqlUrl);
  }
  if (only.has('registry')) {
    const { benchRegistry } = await import('./registry.ts');
    const t = await startTarget(kind, mysqlUrl);
    try {
      await benchRegistry(t);
    } finally {
      await t.close();
    }
  }
}
process.exit(0);
