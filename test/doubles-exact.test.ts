import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS, freshDb, type TestDb } from './helpers/db.ts';
import { rng } from './helpers/rng.ts';

/**
 * A DOUBLE read back through knex is the double stored, bit for bit. mysql2 3.24's own text parser lands on a
 * neighbouring double for about 1 value in 500 (db/knex.ts exactDoubles); SQLite's REAL is the double itself.
 */
describe.each(DB_KINDS)('doubles read back exactly (%s)', (kind) => {
  let t: TestDb;
  const next = rng(20261204);
  // metric-like values over many magnitudes, the value the bug was found with, and edges
  const values = [
    97.05207546642247, 0.1, -0.3, 1e-7, 1e21, 2 ** 53, 2 ** 53 + 2, -(2 ** 60), Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 5e-324,
    0.6677361231421378, 123456789.12345679, 0,
    ...Array.from({ length: 20_000 }, () => (next() - 0.5) * 10 ** Math.floor(next() * 16 - 6)),
  ];
  beforeAll(async () => {
    t = await freshDb(kind);
    await t.db.schema.createTable('double_probe', (tb) => {
      tb.integer('i').primary();
      tb.double('v').notNullable();
    });
    for (let at = 0; at < values.length; at += 200) {
      await t.db('double_probe').insert(values.slice(at, at + 200).map((v, j) => ({ i: at + j, v })));
    }
  });
  afterAll(async () => t?.drop());

  const check = (rows: { i: number | bigint; v: number }[]) => {
    expect(rows).toHaveLength(values.length);
    const wrong = rows.filter((r) => !Object.is(r.v, values[Number(r.i)])).map((r) => `${values[Number(r.i)]} → ${r.v}`);
    expect(wrong).toEqual([]);
  };

  it('through the query builder', async () => {
    check(await t.db('double_probe').select('i', 'v').orderBy('i'));
  });

  it('through raw SQL and a stream', async () => {
    const raw = await t.db.raw('SELECT i, v FROM double_probe ORDER BY i');
    check(kind === 'mysql' ? raw[0] : raw);
    const streamed: { i: number; v: number }[] = [];
    for await (const row of t.db('double_probe').select('i', 'v').orderBy('i').stream()) streamed.push(row as { i: number; v: number });
    check(streamed);
  });

  it('NULL stays NULL and other column types are untouched', async () => {
    const rows = await t.db.raw(kind === 'mysql' ? "SELECT CAST(NULL AS DOUBLE) AS d, 'x' AS s, 42 AS n, 9007199254740993 AS big" : "SELECT NULL AS d, 'x' AS s, 42 AS n");
    const row = (kind === 'mysql' ? rows[0] : rows)[0];
    expect(row.d).toBeNull();
    expect(row.s).toBe('x');
    expect(Number(row.n)).toBe(42);
    if (kind === 'mysql') expect(row.big).toBe('9007199254740993');
  });
});
