import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi, rawText } from './helpers/mlflow.ts';
import { loadRuns } from '../db/run-view.ts';
import { stringifyJson } from '../server/json.ts';
import { runOut } from '../routers/schemas.ts';

/**
 * runs/search's REST answer byte for byte: the text the database writes (db/run-json.ts: MySQL's GROUP_CONCAT of
 * JSON_QUOTE'd strings, SQLite's json_group_array) and the runs it reads again as rows must be the text the object
 * path writes (Run objects through the procedure's output schema and stringifyJson), for strings that need escaping,
 * long ones, characters the databases order or escape differently, texts past GROUP_CONCAT's cap, doubles that are
 * hard to print. Also the database behaviour the MySQL text relies on (JSON_QUOTE's escapes).
 */

const CONTROLS = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('') + '\x7f';
// strings each database writes itself (none has a character from U+D800 up, so none is read again as rows)
const ESCAPED = ['a"b', 'back\\slash', '/ and \\/', 'nl\n tab\t cr\r bs\b ff\f', 'é ß 日本語 \u00a0\u07ff\u0800\ud7ff', '\u2028\u2029', "'quote'", ''];
const KEYS = ['é ß', '日本語/x:y', 'a-b_c.d', 'Ωmega', 'z'];
// read again as rows: characters from U+D800 up (their order differs), control characters (MySQL: \u001F), a text
// with "\u00" in it
const AGAIN = ['emoji 😀', 'k\uFF66', CONTROLS, 'C:\\u00e9 and \\\\u0041'];
// doubles whose shortest digits MySQL would print in another form than JSON.stringify (exponents, fixed below 1e-6),
// or with 17 significant digits and a long exponent (more than 22 characters)
const DOUBLES = [
  1e21, 1e-7, -5e-7, 0.00000123, 123456789012345680, 2 ** 53, 4.9273689123705576e-5, 0.30000000000000004, 1 / 3, 1e300, -1e-300, 5e-324,
  2.2250738585072014e-308, 1.7976931348623155e308, -1.7976931348623155e308, 0.1, 100, -0, 12345.678901234567,
  // mysql2 3.24 reads these as a neighbour when they come as text (its own digit loop): 97.05207546642248, …
  97.05207546642247, 98551.03856598347, 9119786819503.273, 0.27890624999999997,
];

const outSchema = z.object({ runs: z.array(runOut).optional() });

describe.each(DB_KINDS)('runs/search JSON answer, byte for byte (%s)', (kind) => {
  let s: TestServer;
  const api = mlflowApi(() => s);
  let exp: string;

  const search = async (body: Record<string, unknown>) => {
    const res = await api.post('/runs/search', body).buffer(true).parse(rawText as never);
    expect(res.status, res.text).toBe(200);
    return res.body as string;
  };
  /** The object path's answer for these runs, in this order. */
  const objectText = async (uuids: string[]) => {
    const rows = await s.t.db('runs').whereIn('run_uuid', uuids).select('id', 'run_uuid');
    const byUuid = new Map(rows.map((r: { id: number; run_uuid: string }) => [r.run_uuid, Number(r.id)]));
    return stringifyJson(outSchema.parse({ runs: await loadRuns(s.t.db, uuids.map((u) => byUuid.get(u)!)) }));
  };
  const uuidsOf = (text: string) => [...text.matchAll(/"run_id":"([0-9a-f]{32})"/g)].map((m) => m[1]!);
  const logBatch = async (runId: string, body: Record<string, unknown>) => {
    const res = await api.post('/runs/log-batch', { run_id: runId, ...body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  };

  beforeAll(async () => {
    s = await startServer(kind);
    exp = await api.newExperiment('json-bytes');
    let start = 1000;
    const run = async (name: string) => (await api.newRun(exp, { run_name: name, start_time: start++ })).info.run_id as string;
    // keys: MLflow allows letters (any script), digits, _ - . space : /
    const kv = (strings: string[], prefix: string) => [
      ...strings.map((v, i) => ({ key: `${prefix}${i}`, value: v })),
      ...KEYS.map((key, i) => ({ key: `${prefix} ${key}`, value: String(i) })),
    ];
    const escaped = await run('escaped "name" \\ \u2028');
    await logBatch(escaped, { params: kv(ESCAPED, 'p'), tags: kv(ESCAPED, 't') });
    // long values that escaping makes twice as long (still below GROUP_CONCAT's cap)
    await logBatch(escaped, { params: [{ key: 'quotes', value: '"'.repeat(6000) }], tags: [{ key: 'backslashes', value: '\\'.repeat(8000) }, { key: 'lines', value: '\n\t'.repeat(4000) }] });
    // a key whose order differs between code points and UTF-16 code units (with U+1D400, a letter): read as rows
    const order = await run('key order');
    await logBatch(order, { params: [{ key: 'k\uFF66', value: '1' }, { key: 'k\u{1D400}', value: '2' }] });
    for (const [i, odd] of AGAIN.entries()) {
      const id = await run(`again ${i}`);
      await logBatch(id, { params: [{ key: 'plain', value: 'x' }, { key: 'odd', value: odd }], tags: [{ key: 'k', value: odd }] });
    }
    // longer than GROUP_CONCAT's cap (1 MiB, read as 3 bytes a character): read again as rows
    const long = await run('long');
    await logBatch(long, { tags: Array.from({ length: 50 }, (_, i) => ({ key: `long${i}`, value: String(i % 10).repeat(8000) })) });
    const numbers = await run('numbers');
    await logBatch(numbers, { metrics: DOUBLES.map((value, i) => ({ key: `m${String(i).padStart(2, '0')}`, value, timestamp: 7, step: i })) });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('is the object path’s text for strings that need escaping or are read again as rows', async () => {
    const text = await search({ experiment_ids: [exp], filter: "attributes.run_name != 'numbers'", order_by: ['attributes.start_time ASC'] });
    const uuids = uuidsOf(text);
    expect(uuids).toHaveLength(3 + AGAIN.length);
    expect(text).toBe(await objectText(uuids));
    // and through the tRPC procedure (the object path itself)
    expect(text).toContain('"value":"a\\"b"');
    expect(text).toContain(JSON.stringify(CONTROLS));
  });

  it('writes metric values as JSON.stringify does (SQLite: the same doubles, in up to 17 digits)', async () => {
    const text = await search({ experiment_ids: [exp], filter: "attributes.run_name = 'numbers'" });
    const expected = await objectText(uuidsOf(text));
    if (kind === 'mysql') expect(text).toBe(expected);
    else expect(JSON.parse(text)).toEqual(JSON.parse(expected));
    const values = (JSON.parse(text).runs[0].data.metrics as { value: number | string }[]).map((m) => m.value);
    const wire = DOUBLES.map((v) => (Math.abs(v) >= 1.7976931348623157e308 ? (v > 0 ? 'Infinity' : '-Infinity') : v === 0 ? 0 : v));
    expect(values).toEqual(wire);
    // runs/get and the object path (loadRuns) read the same doubles
    const runId = uuidsOf(text)[0]!;
    const got = await api.get('/runs/get', `run_id=${runId}`);
    expect(got.status).toBe(200);
    expect(got.body.run.data.metrics.map((m: { value: number | string }) => m.value)).toEqual(wire);
    expect(JSON.parse(expected).runs[0].data.metrics.map((m: { value: number | string }) => m.value)).toEqual(wire);
  });

  if (kind === 'mysql') it('MySQL: JSON_QUOTE writes every character as JSON.stringify does, but control characters as \\u00XX', async () => {
    const chars: string[] = [];
    for (let c = 0x20; c < 0x10000; c++) if (c < 0xd800 || c > 0xdfff) chars.push(String.fromCharCode(c));
    chars.push('😀', '\u{10FFFF}');
    const all = chars.join('');
    const quote = async (v: string) => ((await s.t.db.raw('SELECT JSON_QUOTE(?) AS q', [v])) as unknown as [{ q: string }[]])[0][0]!.q;
    expect(await quote(all)).toBe(JSON.stringify(all));
    for (const c of CONTROLS) {
      const q = await quote(c);
      // the same, or an uppercase \u00XX that db/run-json.ts reads again as rows
      expect(q === JSON.stringify(c) || q.toLowerCase() === JSON.stringify(c)).toBe(true);
      expect(q === JSON.stringify(c) || q.includes('\\u00')).toBe(true);
    }
  });

});
