// A bench server in its own process, so that its CPU can be read from /proc/<pid>/stat apart from the load
// generator's. Forked by scripts/bench/create.ts: env BENCH_PLAIN, BENCH_DATABASE_URL (unset: SQLite in BENCH_DATA_DIR);
// answers {port, token} over IPC once listening; exits on 'stop' (so that --cpu-prof writes its profile).
import { sqliteStatementCache } from '../../db/knex.ts';
import { listenInProcess } from './common.ts';
import { hotPath } from '../../db/hot.ts';
import { batchGroups } from '../../db/batch-group.ts';

// BENCH_PLAIN=1: the request path as it was before issue 11's CPU work (knex for every statement, no statement cache)
if (process.env.BENCH_PLAIN === '1') hotPath.enabled = sqliteStatementCache.enabled = false;
// BENCH_NO_GROUP=1: every log-batch in its own transaction, as before group commit (scripts/bench/batch-group.ts)
if (process.env.BENCH_NO_GROUP === '1') batchGroups.enabled = false;
const dataDir = process.env.BENCH_DATA_DIR!;
const url = process.env.BENCH_DATABASE_URL || undefined;
const { db, server, port, token } = await listenInProcess(url, dataDir);
process.on('message', async (m) => {
  if (m === 'stop') {
    server.closeAllConnections();
    await db.destroy();
    process.exit(0);
  }
});
process.send!({ port, token });
