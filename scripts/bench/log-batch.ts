import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { fmt, median, now } from './common.ts';
import { Client, spawnServer, startBareHttp, threadCpuMs, type SpawnedServer } from './procs.ts';
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

type Point = { key: string; value: number; timestamp: number; step: number };
/** What the bare driver writes for one batch: the history rows, the latest value per key, the rollup rows' values. */
export type BareRows = ReturnType<typeof bareRowsOf>;

/**
 * The rows mltrack writes for a batch of points: the history rows, the latest value per key (the greatest step of the
 * batch: its steps only grow) and the rollup rows the batch touches (db/rollups.ts's own computation).
 */
export function bareRowsOf(rows: Point[]) {
  const latest = new Map<string, Point>();
  for (const r of rows) latest.set(r.key, r);
  const deltas = rollupDeltas(rows.map((r) => ({ key: r.key, step: r.step, ts: r.timestamp, value: r.value, nan: false })));
  return { rows, latest: [...latest.values()], rollups: deltas.map((d) => rollupBinds(0, d.key, d.lvl, d.bucket, d.agg, (v) => v).slice(1)) };
}

/** Where the bare driver writes: mltrack's SQLite file, or its MySQL database. */
export type BareTarget = { kind: 'sqlite'; file: string } | { kind: 'mysql'; settings: mysql.ConnectionOptions };

export const bareTargetOf = (kind: 'sqlite' | 'mysql', db: Db): BareTarget =>
  kind === 'sqlite'
    ? { kind, file: (db.client.config.connection as { filename: string }).filename }
    : { kind, settings: db.client.connectionSettings as mysql.ConnectionOptions };

/**
 * The bare driver: a function writing one batch's rows for an internal run id, and a close. The same rows as the
 * server writes (history, latest_metrics upserts, metric_rollups upserts), the same statements per row: before
 * 2026-12 it inserted the history rows alone, which made mltrack's ratio look worse than it is. SQLite: its own
 * connection to the same file; MySQL: a connection per client (up to 4).
 */
export interface BareWriter {
  write(runId: number, b: BareRows): Promise<void>;
  /** a run's internal id by its MLflow id (bare-http.ts looks it up once a run) */
  runKey(uuid: string): Promise<number>;
  close(): Promise<void>;
}

export async function bareWriter(t: BareTarget): Promise<BareWriter> {
  const rollupCols = ROLLUP_COLUMNS.join(', ');
  if (t.kind === 'sqlite') {
    const conn = new Database(t.file);
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
    const tx = conn.transaction((runId: number, b: BareRows) => {
      for (const r of b.rows) ins.run(runId, r.key, r.timestamp, r.step, r.value);
      for (const r of b.latest) latest.run(runId, r.key, r.value, r.timestamp, r.step);
      for (const r of b.rollups) rollup.run(runId, ...r);
    });
    const key = conn.prepare('SELECT id FROM runs WHERE run_uuid = ?').pluck();
    return {
      runKey: async (uuid) => Number(key.get(uuid)),
      write: async (runId, b) => {
        tx(runId, b);
        await new Promise((r) => setImmediate(r)); // let the other clients' loops take turns, as HTTP ones do
      },
      close: async () => {
        conn.close();
      },
    };
  }
  const { host, port, user, password, database } = t.settings;
  const pool = mysql.createPool({ host, port, user, password, database, connectionLimit: 4 });
  return {
    runKey: async (uuid) => Number(((await pool.query('SELECT id FROM runs WHERE run_uuid = ?', [uuid])) as any)[0][0].id),
    write: async (runId, { rows, latest, rollups }) => {
      const values: unknown[] = [];
      for (const r of rows) values.push(runId, r.key, r.timestamp, r.step, r.value, 0);
      const lv: unknown[] = [];
      for (const r of latest) lv.push(runId, r.key, r.value, r.timestamp, r.step);
      const rv: unknown[] = [];
      for (const r of rollups) rv.push(runId, ...r);
      const conn = await pool.getConnection();
      try {
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
      } finally {
        conn.release();
      }
    },
    close: async () => {
      await pool.end();
    },
  };
}

export interface LogBatchFigures { clients: number; pointsPerSec: number; barePerSec: number; ratio: number; medianMs: number }

const ROUNDS = Number(process.env.MLTRACK_BENCH_LOGBATCH_ROUNDS || 5);

/**
 * The server runs in its own process (procs.ts spawnServer, 1 worker), as it does in production: until 2026-12 it
 * ran inside the bench's process, where the HTTP client's work and the server's shared one core and the event loop.
 * mltrack, the bare driver and the bare driver behind node:http (bare-http.ts, its own process: the floor of any Node
 * HTTP server writing these rows) then take turns, ROUNDS rounds of `batches` batches a client each (this machine is
 * shared: what other processes do falls on all sides alike), after a warm-up of 30 batches through each server (V8
 * optimizes the path after some hundreds of calls). Each figure is the median over the rounds; a ratio is the median
 * of the rounds' own ratios. Both servers' CPU per batch (all their threads, procs.ts threadCpuMs) is printed too.
 */
export async function benchLogBatch(kind: 'sqlite' | 'mysql', mysqlUrl: string | undefined, batches = 30): Promise<LogBatchFigures[]> {
  const s = await spawnServer(kind, mysqlUrl, 1);
  const db = createDb(s.database.url, s.database.dataDir);
  const admin = new Client(s);
  const out: LogBatchFigures[] = [];
  let next = 0; // batch numbers: each batch's points are new to its run, on all sides
  const take = (n: number) => Array.from({ length: n }, () => next++);
  try {
    const { experiment_id } = await admin.call('POST', '/experiments/create', { name: `bench-${Date.now()}` });
    const newRun = async (): Promise<{ uuid: string; id: number }> => {
      const { run } = await admin.call('POST', '/runs/create', { experiment_id, start_time: Date.now() });
      return { uuid: run.info.run_id, id: Number((await db('runs').where({ run_uuid: run.info.run_id }).first('id')).id) };
    };
    const warmRun = await newRun();
    for (const b of take(30)) await admin.call('POST', '/runs/log-batch', { run_id: warmRun.uuid, metrics: rowsOf(b) });
    const target = bareTargetOf(kind, db);
    const floorServer = await startBareHttp({
      kind, token: s.token, clients: 4, sqliteFile: target.kind === 'sqlite' ? target.file : undefined, mysqlUrl: s.database.url,
    });
    const floor = { ...s, port: floorServer.port, pid: floorServer.proc.pid! };
    try {
      const floorWarm = new Client(floor);
      const floorRun = await newRun();
      for (const b of take(30)) await floorWarm.call('POST', '/runs/log-batch', { run_id: floorRun.uuid, metrics: rowsOf(b) });
      floorWarm.close();
      for (const clients of [1, 4]) out.push(await measureLogBatch(kind, clients, batches, { s, floor, newRun, take, target }));
    } finally {
      await floorServer.stop();
    }
  } finally {
    admin.close();
    await db.destroy();
    await s.close();
  }
  return out;
}

type Sides = {
  s: SpawnedServer;
  floor: SpawnedServer;
  newRun: () => Promise<{ uuid: string; id: number }>;
  take: (n: number) => number[];
  target: BareTarget;
};

/** One concurrency's rounds: mltrack, the bare driver, the bare driver behind node:http, each its own runs. */
async function measureLogBatch(kind: 'sqlite' | 'mysql', clients: number, batches: number, { s, floor, newRun, take, target }: Sides): Promise<LogBatchFigures> {
  const runsOf = () => Promise.all(Array.from({ length: clients }, () => newRun()));
  const [runs, bareRuns, floorRuns] = [await runsOf(), await runsOf(), await runsOf()];
  const plan = Array.from({ length: ROUNDS }, () => ({ mltrack: runs.map(() => take(batches)), bare: bareRuns.map(() => take(batches)), floor: floorRuns.map(() => take(batches)) }));
  // the bare side's rows computed beforehand: it measures the database, not the computing
  const rowsFor = new Map(plan.flatMap((r) => r.bare.flat()).map((b) => [b, bareRowsOf(rowsOf(b))]));
  const bare = await bareWriter(target);
  const cs = runs.map(() => new Client(s));
  const floorClients = floorRuns.map(() => new Client(floor));
  const rounds: { mltrack: number; bare: number; floor: number; cpu: number; floorCpu: number; times: number[] }[] = [];
  /** points/s over the whole window, and the server's CPU ms per batch */
  const http = async (server: SpawnedServer, via: Client[], runIds: string[], bs: number[][], times?: number[]) => {
    const bodies = runIds.map((run, c) => bs[c]!.map((b) => Buffer.from(JSON.stringify({ run_id: run, metrics: rowsOf(b) })))); // encoded beforehand
    const c0 = threadCpuMs(server.pid);
    const rate = await drive(clients, batches, async (c, i) => {
      const t0 = now();
      await via[c]!.call('POST', '/runs/log-batch', bodies[c]![i]!);
      times?.push(now() - t0);
    });
    return { rate, cpu: (threadCpuMs(server.pid) - c0) / (clients * batches) };
  };
  try {
    await Promise.all(bareRuns.map((r, c) => bare.write(r.id, bareRowsOf(rowsOf(take(1)[0]!))))); // its warm-up, each connection
    for (const r of plan) {
      const times: number[] = [];
      const m = await http(s, cs, runs.map((x) => x.uuid), r.mltrack, times);
      const bareRate = await drive(clients, batches, (c, i) => bare.write(bareRuns[c]!.id, rowsFor.get(r.bare[c]![i]!)!));
      const f = await http(floor, floorClients, floorRuns.map((x) => x.uuid), r.floor);
      rounds.push({ mltrack: m.rate, bare: bareRate, floor: f.rate, cpu: m.cpu, floorCpu: f.cpu, times });
    }
  } finally {
    for (const c of [...cs, ...floorClients]) c.close();
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
      `${fmt(f.pointsPerSec)} points/s (median ${fmt(f.medianMs, 1)} ms; server CPU ${fmt(median(rounds.map((r) => r.cpu)), 2)} ms/batch) | ` +
      `bare driver: ${fmt(f.barePerSec)} rows/s | mltrack/bare ${fmt(f.ratio, 2)} (goal ≥ 0.70; rounds ${rounds.map((r) => fmt(r.mltrack / r.bare, 2)).join(', ')}) | ` +
      `bare driver behind node:http: ${fmt(median(rounds.map((r) => r.floor)))} points/s, CPU ${fmt(median(rounds.map((r) => r.floorCpu)), 2)} ms/batch ` +
      `(mltrack/it ${fmt(median(rounds.map((r) => r.mltrack / r.floor)), 2)})`,
  );
  return f;
}
