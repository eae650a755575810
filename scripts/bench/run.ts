// npm run bench — prints what it measured on SQLite and, with a MySQL URL, on MySQL, each next to a baseline taken
// in the same run. MySQL URL: MLTRACK_BENCH_MYSQL_URL, or MLTRACK_TEST_MYSQL_URL (a new database is created on it).
// Select benchmarks with BENCH=log-batch,search,registry,create,history,write (default: all; write: scripts/bench/write.ts, its env there).
import { startTarget } from './common.ts';
import { benchLogBatch } from './log-batch.ts';

const mysqlUrl = process.env.MLTRACK_BENCH_MYSQL_URL || process.env.MLTRACK_TEST_MYSQL_URL;
const only = new Set((process.env.BENCH ?? 'log-batch,search,registry,create,history,write').split(','));
const kinds: ('sqlite' | 'mysql')[] = mysqlUrl ? ['sqlite', 'mysql'] : ['sqlite'];
if (!mysqlUrl) console.log('(no MLTRACK_BENCH_MYSQL_URL: SQLite only)');

for (const kind of kinds) {
  if (only.has('log-batch')) await benchLogBatch(kind, mysqlUrl);
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
  if (only.has('history')) {
    const { benchHistory } = await import('./history.ts');
    await benchHistory(kind, mysqlUrl, { big: Number(process.env.HISTORY_BIG ?? 1_000_000), history: 100_000 });
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
  if (only.has('write')) {
    const { benchWrite } = await import('./write.ts');
    await benchWrite(kind, mysqlUrl);
  }
}
process.exit(0);
