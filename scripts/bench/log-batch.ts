import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { call, fmt, median, now, type BenchTarget } from './common.ts';

/**
 * log-batch throughput: batches of 1000 metric points (10 keys × 100 steps) through HTTP (validation, auth, one
 * transaction writing history, latest values and rollups), at 1 and 4 clients (each client its own run), next to
 * the database's limit measured in the same run on the same database: the same rows inserted by a bare driver —
 * better-sqlite3 prepared statements in one transaction per batch (its own connection to the same file), or a raw
 * mysql2 connection per client with one multi-row INSERT per batch in a transaction. Prints mltrack/bare (goal ≥ 0.7).
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

async function newRun(t: BenchTarget, experiment_id: string): Promise<{ uuid: string; id: number }> {
  const { run } = await call(t, 'POST', '/runs/create', { experiment_id, start_time: Date.now() });
  const id = Number((await t.db('runs').where({ run_uuid: run.info.run_id }).first('id')).id);
  return { uuid: run.info.run_id, id };
}

/** The bare driver: a function inserting one batch of rows for an internal run id, and a close. */
async function bareDriver(t: BenchTarget): Promise<{ insert: (client: number, runId: number, b: number) => Promise<void>; close: () => Promise<void> }> {
  if (t.name === 'sqlite') {
    const file = (t.db.client.config.connection as { filename: string }).filename;
    const conn = new Database(file);
    conn.pragma('journal_mode = WAL');
    conn.pragma('synchronous = NORMAL'); // the server's own setting (db/knex.ts)
    conn.pragma('busy_timeout = 5000');
    const ins = conn.prepare('INSERT INTO metrics (run_id, key, timestamp, step, value, is_nan) VALUES (?, ?, ?, ?, ?, 0)');
    const tx = conn.transaction((runId: number, rows: ReturnType<typeof rowsOf>) => {
      for (const r of rows) ins.run(runId, r.key, r.timestamp, r.step, r.value);
    });
    return {
      insert: async (_c, runId, b) => {
        tx(runId, rowsOf(b));
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
      const rows = rowsOf(b);
      const values: unknown[] = [];
      for (const r of rows) values.push(runId, r.key, r.timestamp, r.step, r.value, 0);
      await conn.query('BEGIN');
      await conn.query(`INSERT INTO metrics (run_id, \`key\`, timestamp, step, value, is_nan) VALUES ${rows.map(() => '(?,?,?,?,?,?)').join(',')}`, values);
      await conn.query('COMMIT');
    },
    close: async () => {
      await Promise.all(conns.map((c) => c.end()));
    },
  };
}

export interface LogBatchFigures { clients: number; pointsPerSec: number; barePerSec: number; ratio: number; medianMs: number }

export async function benchLogBatch(t: BenchTarget, batches = 40): Promise<LogBatchFigures[]> {
  const { experiment_id } = await call(t, 'POST', '/experiments/create', { name: `bench-${Date.now()}` });
  const bare = await bareDriver(t);
  const out: LogBatchFigures[] = [];
  try {
    for (const clients of [1, 4]) {
      const runs = await Promise.all(Array.from({ length: clients }, () => newRun(t, experiment_id)));
      const bareRuns = await Promise.all(Array.from({ length: clients }, () => newRun(t, experiment_id)));
      // warm-up on both sides
      for (let b = 0; b < 3; b++) {
        await call(t, 'POST', '/runs/log-batch', { run_id: runs[0]!.uuid, metrics: rowsOf(100000 + b) });
        await bare.insert(0, bareRuns[0]!.id, 100000 + b);
      }
      const times: number[] = [];
      const pointsPerSec = await drive(clients, batches, async (c, b) => {
        const body = { run_id: runs[c]!.uuid, metrics: rowsOf(b) };
        const t0 = now();
        await call(t, 'POST', '/runs/log-batch', body);
        times.push(now() - t0);
      });
      const barePerSec = await drive(clients, batches, (c, b) => bare.insert(c, bareRuns[c]!.id, b));
      const ratio = pointsPerSec / barePerSec;
      console.log(
        `[${t.name}] log-batch ${POINTS} points, ${clients} client(s): ${fmt(pointsPerSec)} points/s (median ${fmt(median(times), 1)} ms) | ` +
          `bare driver: ${fmt(barePerSec)} rows/s | mltrack/bare ${fmt(ratio, 2)} (goal ≥ 0.70)`,
      );
      out.push({ clients, pointsPerSec, barePerSec, ratio, medianMs: median(times) });
    }
  } finally {
    await bare.close();
  }
  return out;
}
