import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { fmt, median, now } from './common.ts';
import { Client, spawnServer } from './procs.ts';
import { createDb, type Db } from '../../db/knex.ts';
import { rollupBinds, rollupDeltas, ROLLUP_COLUMNS } from '../../db/rollups.ts';

/**
 * log-batch throughput: batches of 1000 metric points (10 keys × 100 steps) through HTTP (validation, auth, one
 * transaction writing history, latest values and rollups), at 1 and 4 clients (each client its own run), next to
 * the database's limit measured in the same run on the same database: the same rows (history, latest values,
 * rollups) written by a bare driver — better-sqlite3 prepared statements in one transaction per batch (its own
 * connection to the same file), or a raw mysql2 connection per client with one multi-row statement per table and
 * batch in a transaction. Prints mltrack/bare (goal ≥ 0.7).
 */

const POINTS = 1000;
const ts0 = Date.now();
const rowsOf = (b: number) =>
  Array.from({ length: POINTS }, (_, i) => ({ key: `metric_${i % 10}`, value: Math.sin(b * 1000 + i), timestamp: ts0 + b, step: b * 100 + Math.floor(i / 10) }));

/** Runs `clients` loops of `batches` calls each; answers points/s over the whole window. */
async function drive(clients: number, batches: number, one: (client: number, b: number) => Promise<void>): Promise<number> {
  const t0 = now();
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    for (let b = 0; b < batches; b++) await one(c, b);
  }));
  return (clients * batches * POINTS) / ((now() - t0) / 1000);
}

/**
 * The rows mltrack writes for batch `b` of a run, computed beforehand (the bare side measures the database, not the
 * computing): the history rows, the latest value per key (the greatest step of the batch: its steps only grow) and the
 * rollup rows the batch touches (db/rollups.ts's own computation).
 */
function sameRows(b: number) {
  const rows = rowsOf(b);
  const latest = new Map<string, (typeof rows)[number]>();
  for (const r of rows) latest.set(r.key, r);
  const deltas = rollupDeltas(rows.map((r) => ({ key: r.key, step: r.step, ts: r.timestamp, value: r.value, nan: false })));
  return { rows, latest: [...latest.values()], rollups: deltas.map((d) => rollupBinds(0, d.key, d.lvl, d.bucket, d.agg, (v) => v).slice(1)) };
}

/**
 * The bare driver: a function inserting one batch's rows for an internal run id, and a close. The same rows as the
 * server writes (history, latest_metrics upserts, metric_rollups upserts), the same statements per row: before
 * 2026-12 it inserted the history rows alone, which made mltrack's ratio look worse than it is.
 */
async function bareDriver(t: { name: 'sqlite' | 'mysql'; db: Db }, batches: number[]): Promise<{ insert: (client: number, runId: number, b: number) => Promise<void>; close: () => Promise<void> }> {
  const prepared = new Map(batches.map((b) => [b, sameRows(b)]));
  const rowsFor = (b: number) => prepared.get(b)!;
  const rollupCols = ROLLUP_COLUMNS.join(', ');
  if (t.name === 'sqlite') {
    const file = (t.db.client.config.connection as { filename: string }).filename;
    const conn = new Database(file);
    conn.pragma('journal_mode = WAL');
    conn.pragma('synchronous = NORMAL'); // the server's own setting (db/knex.ts)
    conn.pragma('busy_timeout = 5000');
    const ins = conn.prepare('INSERT INTO metrics (run_id, key, timestamp, step, value, is_nan) VALUES (?, ?, ?, ?, ?, 0)');
    const latest = conn.prepare(
      'INSERT INTO latest_metrics (run_id, experiment_id, key, value, timestamp, step, is_nan) VALUES (?, 1, ?, ?, ?, ?, 0) ' +
        'ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp, step = excluded.step',
    );
    const rollup = conn.prepare(
      `INSERT INTO metric_rollups (${rollupCols}) VALUES (${ROLLUP_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (run_id, key, lvl, bucket) DO UPDATE SET ` +
        ROLLUP_COLUMNS.slice(4).map((c) => `${c} = excluded.${c}`).join(', '),
    );
    const tx = conn.transaction((runId: number, b: ReturnType<typeof sameRows>) => {
      for (const r of b.rows) ins.run(runId, r.key, r.timestamp, r.step, r.value);
      for (const r of b.latest) latest.run(runId, r.key, r.value, r.timestamp, r.step);
      for (const r of b.rollups) rollup.run(runId, ...r);
    });
    return {
      insert: async (_c, runId, b) => {
        tx(runId, rowsFor(b));
        await new Promise((r) => setImmediate(r)); // let the other clients' loops take turns, as HTTP ones do
      },
      close: async () => {
        conn.close();
      },
    };
  }
  const { host, port, user, password, database } = t.db.client.connectionSettings as mysql.ConnectionOptions;
  const cfg = { host, port, user, password, database };
  const conns = await Promise.all(Array.from({ length: 4 }, () => mysql.createConnection({ ...cfg })));
  return {
    insert: async (c, runId, b) => {
      const conn = conns[c]!;
      const { rows, latest, rollups } = rowsFor(b);
      const values: unknown[] = [];
      for (const r of rows) values.push(runId, r.key, r.timestamp, r.step, r.value, 0);
      const lv: unknown[] = [];
      for (const r of latest) lv.push(runId, r.key, r.value, r.timestamp, r.step);
      const rv: unknown[] = [];
      for (const r of rollups) rv.push(runId, ...r);
      await conn.query('BEGIN');
      await conn.query(`INSERT INTO metrics (run_id, \`key\`, timestamp, step, value, is_nan) VALUES ${rows.map(() => '(?,?,?,?,?,?)').join(',')}`, values);
      await conn.query(
        `INSERT INTO latest_metrics (run_id, experiment_id, \`key\`, value, timestamp, step, is_nan) VALUES ${latest.map(() => '(?,1,?,?,?,?,0)').join(',')} ` +
          'ON DUPLICATE KEY UPDATE value = VALUES(value), timestamp = VALUES(timestamp), step = VALUES(step)',
        lv,
      );
      await conn.query(
        `INSERT INTO metric_rollups (${ROLLUP_COLUMNS.map((c) => `\`${c}\``).join(', ')}) VALUES ${rollups.map(() => `(${ROLLUP_COLUMNS.map(() => '?').join(',')})`).join(',')} ` +
          `ON DUPLICATE KEY UPDATE ${ROLLUP_COLUMNS.slice(4).map((c) => `\`${c}\` = VALUES(\`${c}\`)`).join(', ')}`,
        rv,
      );
      await conn.query('COMMIT');
    },
    close: async () => {
      await Promise.all(conns.map((c) => c.end()));
    },
  };
}

export interface LogBatchFigures { clients: number; pointsPerSec: number; barePerSec: number; ratio: number; medianMs: number }

const ROUNDS = Number(process.env.MLTRACK_BENCH_LOGBATCH_ROUNDS || 5);

/**
 * The server runs in its own process (procs.ts spawnServer, 1 worker), as it does in production: until 2026-12 it
 * ran inside the bench's process, where the HTTP client's work and the server's shared one core and the event loop.
 * mltrack and the bare driver then take turns, ROUNDS rounds of `batches` batches a client each (this machine is
 * shared: what other processes do falls on both sides alike), after a warm-up of 30 batches through the server (V8
 * optimizes the path after some hundreds of calls). Each figure is the median over the rounds; the ratio is the median
 * of the rounds' own ratios.
 */
export async function benchLogBatch(kind: 'sqlite' | 'mysql', mysqlUrl: string | undefined, batches = 30): Promise<LogBatchFigures[]> {
  const s = await spawnServer(kind, mysqlUrl, 1);
  const db = createDb(s.database.url, s.database.dataDir);
  const t = { name: kind, db } as const;
  const admin = new Client(s);
  const out: LogBatchFigures[] = [];
  let next = 0; // batch numbers: each batch's points are new to its run, on both sides
  const take = (n: number) => Array.from({ length: n }, () => next++);
  try {
    const { experiment_id } = await admin.call('POST', '/experiments/create', { name: `bench-${Date.now()}` });
    const newRun = async (): Promise<{ uuid: string; id: number }> => {
      const { run } = await admin.call('POST', '/runs/create', { experiment_id, start_time: Date.now() });
      return { uuid: run.info.run_id, id: Number((await db('runs').where({ run_uuid: run.info.run_id }).first('id')).id) };
    };
    const warmRun = await newRun();
    for (const b of take(30)) await admin.call('POST', '/runs/log-batch', { run_id: warmRun.uuid, metrics: rowsOf(b) });
    for (const clients of [1, 4]) {
      const runs = await Promise.all(Array.from({ length: clients }, () => newRun()));
      const bareRuns = await Promise.all(Array.from({ length: clients }, () => newRun()));
      const plan = Array.from({ length: ROUNDS }, () => ({ mltrack: runs.map(() => take(batches)), bare: bareRuns.map(() => take(batches)) }));
      const bare = await bareDriver(t, [...plan.flatMap((r) => r.bare.flat()), ...take(1)]);
      const cs = runs.map(() => new Client(s));
      const rounds: { mltrack: number; bare: number; times: number[] }[] = [];
      try {
        await bare.insert(0, bareRuns[0]!.id, next - 1); // its warm-up
        for (const r of plan) {
          // bodies encoded beforehand: the bare side encodes nothing
          const bodies = runs.map((run, c) => r.mltrack[c]!.map((b) => Buffer.from(JSON.stringify({ run_id: run.uuid, metrics: rowsOf(b) }))));
          const times: number[] = [];
          const mltrack = await drive(clients, batches, async (c, i) => {
            const t0 = now();
            await cs[c]!.call('POST', '/runs/log-batch', bodies[c]![i]!);
            times.push(now() - t0);
          });
          const bareRate = await drive(clients, batches, (c, i) => bare.insert(c, bareRuns[c]!.id, r.bare[c]![i]!));
          rounds.push({ mltrack, bare: bareRate, times });
        }
      } finally {
        for (const c of cs) c.close();
        await bare.close();
      }
      const f: LogBatchFigures = {
        clients,
        pointsPerSec: median(rounds.map((r) => r.mltrack)),
        barePerSec: median(rounds.map((r) => r.bare)),
        ratio: median(rounds.map((r) => r.mltrack / r.bare)),
        medianMs: median(rounds.flatMap((r) => r.times)),
      };
      console.log(
        `[${kind}] log-batch ${POINTS} points, ${clients} client(s), server in its own process, medians of ${ROUNDS} alternating rounds: ` +
          `${fmt(f.pointsPerSec)} points/s (median ${fmt(f.medianMs, 1)} ms) | bare driver: ${fmt(f.barePerSec)} rows/s | ` +
          `mltrack/bare ${fmt(f.ratio, 2)} (goal ≥ 0.70; rounds ${rounds.map((r) => fmt(r.mltrack / r.bare, 2)).join(', ')})`,
      );
      out.push(f);
    }
  } finally {
    admin.close();
    await db.destroy();
    await s.close();
  }
  return out;
}
