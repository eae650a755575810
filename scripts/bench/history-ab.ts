// Same-run A/B of metrics/get-history on MySQL (dev tool): 100k points of one metric written straight into a scratch
// database, the REST answer (streamed page by page) timed to its last byte in the same process, alternating between
// the history read as prepared statements (binary protocol, this tree) and as text (the read before, historyBinary off).
// Usage: MLTRACK_TEST_MYSQL_URL=... [ROUNDS=8] npx tsx scripts/bench/history-ab.ts
import http from 'node:http';
import { fmt, median, now, startTarget } from './common.ts';
import { historyBinary } from '../../db/metrics.ts';

const POINTS = 100_000;
const t = await startTarget('mysql', process.env.MLTRACK_TEST_MYSQL_URL);
try {
  const exp = await t.db('experiments').first('id');
  const uuid = 'f'.repeat(32);
  await t.db('runs').insert({ run_uuid: uuid, project_id: 1, experiment_id: exp.id, name: 'history', user_id: 'bench', status: 'FINISHED', start_time: 1, lifecycle_stage: 'active', artifact_uri: 'x' });
  const run = await t.db('runs').where({ run_uuid: uuid }).first('id');
  const ts0 = Date.now();
  for (let o = 0; o < POINTS; o += 1000) {
    const rows = [];
    for (let i = o; i < o + 1000; i++) rows.push({ run_id: run.id, key: 'hist', value: Math.sin(i / 1000) + (i % 99_991 === 0 ? 50 : 0), timestamp: ts0 + i, step: i, is_nan: false });
    await t.db('metrics').insert(rows);
  }
  const get = () =>
    new Promise<number>((resolve, reject) => {
      const t0 = now();
      const path = `${t.base}/metrics/get-history?run_id=${uuid}&metric_key=hist`;
      http.get({ host: '127.0.0.1', port: t.port, path, headers: { authorization: `Bearer ${t.token}` } }, (res) => {
        let n = 0;
        res.on('data', (c) => (n += c.length));
        res.on('end', () => (res.statusCode === 200 && n > 1e6 ? resolve(now() - t0) : reject(new Error(`get-history: ${res.statusCode}, ${n} bytes`))));
      }).on('error', reject);
    });
  const modes = ['binary', 'text'] as const;
  const times: Record<string, number[]> = { binary: [], text: [] };
  for (let r = 0; r < Number(process.env.ROUNDS ?? 8); r++) {
    for (const m of r % 2 ? [...modes].reverse() : modes) {
      historyBinary.enabled = m === 'binary';
      await get(); // the first after a switch pays for the other mode's garbage
      for (let i = 0; i < 3; i++) times[m]!.push(await get());
    }
  }
  historyBinary.enabled = true;
  for (const m of modes) console.log(`[mysql] get-history of ${fmt(POINTS)} points, ${m === 'binary' ? 'prepared (binary protocol)' : 'text protocol (before)'}: median ${fmt(median(times[m]!), 0)} ms, fastest ${fmt(Math.min(...times[m]!), 0)} ms`);
} finally {
  await t.close();
}
process.exit(0);
