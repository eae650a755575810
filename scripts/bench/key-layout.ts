// npx tsx scripts/bench/key-layout.ts — the metrics table's key, measured with bare drivers (issue 11 item 3): today's
// wide key (run_id INT, `key` VARCHAR(250), timestamp, step, value, is_nan) against a narrow one (run_id INT, key_id INT
// naming a metric_keys row, …), same rows (1000-point batches of 10 keys, as the log-batch bench), each batch one
// transaction; then reading one 100k-point history in key order. Prints rows/s, read ms and the table's size. SQLite
// also WITHOUT ROWID (migration 009): its rows in the key's B-tree instead of a rowid table plus the key's index.
// MySQL when MLTRACK_BENCH_MYSQL_URL or MLTRACK_TEST_MYSQL_URL is set (a scratch database is created and dropped).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { fmt, median, now } from './common.ts';

const BATCHES = Number(process.env.BATCHES ?? 300);
const KEYS = Array.from({ length: 10 }, (_, i) => `train/epoch_metrics/loss_component_${i}`);
const rowsOf = (b: number) => Array.from({ length: 1000 }, (_, i) => ({ k: i % 10, ts: 1_700_000_000_000 + b, step: b * 100 + Math.floor(i / 10), v: Math.sin(b * 1000 + i) }));

async function sqlite() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mltrack-keys-'));
  const out: string[] = [];
  for (const [narrow, withoutRowid] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    const file = path.join(dir, `${narrow}-${withoutRowid}.sqlite`);
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec((narrow
      ? 'CREATE TABLE m (run_id INTEGER NOT NULL, key_id INTEGER NOT NULL, timestamp BIGINT NOT NULL, step BIGINT NOT NULL, value DOUBLE NOT NULL, is_nan BOOLEAN NOT NULL, PRIMARY KEY (run_id, key_id, timestamp, step, value, is_nan))'
      : 'CREATE TABLE m (run_id INTEGER NOT NULL, key VARCHAR(250) NOT NULL, timestamp BIGINT NOT NULL, step BIGINT NOT NULL, value DOUBLE NOT NULL, is_nan BOOLEAN NOT NULL, PRIMARY KEY (run_id, key, timestamp, step, value, is_nan))')
      + (withoutRowid ? ' WITHOUT ROWID' : ''));
    const ins = db.prepare(`INSERT INTO m VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT DO NOTHING`);
    const tx = db.transaction((rows: ReturnType<typeof rowsOf>) => {
      for (const r of rows) ins.run(1, narrow ? r.k : KEYS[r.k], r.ts, r.step, r.v);
    });
    const t0 = now();
    for (let b = 0; b < BATCHES; b++) tx(rowsOf(b));
    const perSec = (BATCHES * 1000) / ((now() - t0) / 1000);
    const sel = db.prepare(`SELECT value, timestamp, step, is_nan FROM m WHERE run_id = 1 AND ${narrow ? 'key_id' : 'key'} = ? ORDER BY timestamp, step, value, is_nan`).raw(true);
    const reads: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r0 = now();
      sel.all(narrow ? 3 : KEYS[3]);
      reads.push(now() - r0);
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    out.push(`[sqlite] ${narrow ? 'narrow (key_id INT)' : 'wide (key VARCHAR)'}${withoutRowid ? ' WITHOUT ROWID' : ''}: insert ${fmt(perSec)} rows/s; one ${fmt(BATCHES * 100)}-point history ${fmt(median(reads), 1)} ms; file ${fmt(fs.statSync(file).size / 1e6, 1)} MB`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

async function mysqlRun(url: string) {
  const u = new URL(url);
  const name = `mltrack_keys_${Date.now() % 1e6}`;
  const conn = await mysql.createConnection({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) });
  await conn.query(`CREATE DATABASE \`${name}\``);
  await conn.query(`USE \`${name}\``);
  const out: string[] = [];
  try {
    for (const narrow of [false, true]) {
      const t = narrow ? 'mn' : 'mw';
      await conn.query(narrow
        ? `CREATE TABLE ${t} (run_id INT UNSIGNED NOT NULL, key_id INT UNSIGNED NOT NULL, timestamp BIGINT NOT NULL, step BIGINT NOT NULL, value DOUBLE NOT NULL, is_nan BOOLEAN NOT NULL, PRIMARY KEY (run_id, key_id, timestamp, step, value, is_nan)) ENGINE=InnoDB`
        : `CREATE TABLE ${t} (run_id INT UNSIGNED NOT NULL, \`key\` VARCHAR(250) NOT NULL, timestamp BIGINT NOT NULL, step BIGINT NOT NULL, value DOUBLE NOT NULL, is_nan BOOLEAN NOT NULL, PRIMARY KEY (run_id, \`key\`, timestamp, step, value, is_nan)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
      const t0 = now();
      for (let b = 0; b < BATCHES; b++) {
        const values: unknown[] = [];
        for (const r of rowsOf(b)) values.push(1, narrow ? r.k : KEYS[r.k], r.ts, r.step, r.v, 0);
        await conn.query('BEGIN');
        await conn.query(`INSERT INTO ${t} VALUES ${Array.from({ length: 1000 }, () => '(?,?,?,?,?,?)').join(',')}`, values);
        await conn.query('COMMIT');
      }
      const perSec = (BATCHES * 1000) / ((now() - t0) / 1000);
      const reads: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r0 = now();
        await conn.query({ sql: `SELECT value, timestamp, step, is_nan FROM ${t} WHERE run_id = 1 AND ${narrow ? 'key_id' : '`key`'} = ? ORDER BY timestamp, step, value, is_nan`, rowsAsArray: true }, [narrow ? 3 : KEYS[3]]);
        reads.push(now() - r0);
      }
      await conn.query(`ANALYZE TABLE ${t}`);
      const [[size]] = (await conn.query(`SELECT data_length + index_length AS bytes FROM information_schema.tables WHERE table_schema = ? AND table_name = ?`, [name, t])) as any;
      out.push(`[mysql] ${narrow ? 'narrow (key_id INT)' : 'wide (key VARCHAR)'}: insert ${fmt(perSec)} rows/s; one ${fmt(BATCHES * 100)}-point history ${fmt(median(reads), 1)} ms; table ${fmt(Number(size.bytes) / 1e6, 1)} MB`);
    }
  } finally {
    await conn.query(`DROP DATABASE \`${name}\``);
    await conn.end();
  }
  return out;
}

for (const line of await sqlite()) console.log(line);
const url = process.env.MLTRACK_BENCH_MYSQL_URL || process.env.MLTRACK_TEST_MYSQL_URL;
if (url) for (const line of await mysqlRun(url)) console.log(line);
