import net from 'node:net';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { restRoutes } from '../server/rest.ts';
import { appRouter } from '../routers/index.ts';

/**
 * Seeded, bounded fuzzing of every REST endpoint (issue 9). Each endpoint has one valid request (BASES); each way of
 * breaking it (MUTATIONS) is applied once per endpoint, to a field chosen by the seeded generator. Asserted for every
 * answer: never a 5xx, never a reset, every error MLflow JSON; a refused write changes no row; a non-canonical id
 * never succeeds; unicode values that are acknowledged read back exactly. Counts are printed for the report.
 */
const SEED = Number(process.env.MLTRACK_FUZZ_SEED ?? 20261204);
const TIME_BUDGET_MS = 90_000;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Vals = { RUN: string; EXP: string; MODEL: string; RM: string };
type Base = (v: Vals) => Record<string, unknown>;
/** One valid request per endpoint (method + MLflow path). Destructive ones are listed last. */
const BASES: Record<string, Base> = {
  'POST /experiments/search': () => ({ max_results: 10, filter: "name LIKE 'f%'", order_by: ['name'] }),
  'POST /experiments/create': () => ({ name: 'fuzz-exp', tags: [{ key: 'k', value: 'v' }] }),
  'GET /experiments/get': (v) => ({ experiment_id: v.EXP }),
  'GET /experiments/get-by-name': () => ({ experiment_name: 'fuzz-base' }),
  'GET /experiments/list': () => ({}),
  'POST /experiments/update': (v) => ({ experiment_id: v.EXP, new_name: 'fuzz-base' }),
  'POST /experiments/set-experiment-tag': (v) => ({ experiment_id: v.EXP, key: 'k', value: 'v' }),
  'POST /experiments/delete-experiment-tag': (v) => ({ experiment_id: v.EXP, key: 'k' }),
  'POST /runs/search': (v) => ({ experiment_ids: [v.EXP], filter: 'metrics.m > 0', max_results: 10, order_by: ['metrics.m DESC'] }),
  'POST /runs/create': (v) => ({ experiment_id: v.EXP, run_name: 'r', start_time: 1, tags: [{ key: 'k', value: 'v' }] }),
  'GET /runs/get': (v) => ({ run_id: v.RUN }),
  'POST /runs/update': (v) => ({ run_id: v.RUN, status: 'RUNNING', run_name: 'r2' }),
  'POST /runs/log-metric': (v) => ({ run_id: v.RUN, key: 'm', value: 1.5, timestamp: 1, step: 1 }),
  'POST /runs/log-parameter': (v) => ({ run_id: v.RUN, key: 'p', value: 'v' }),
  'POST /runs/log-batch': (v) => ({ run_id: v.RUN, metrics: [{ key: 'm', value: 1, timestamp: 1, step: 2 }], params: [], tags: [{ key: 't', value: 'v' }] }),
  'POST /runs/set-tag': (v) => ({ run_id: v.RUN, key: 't', value: 'v' }),
  'POST /runs/delete-tag': (v) => ({ run_id: v.RUN, key: 't' }),
  'POST /runs/log-inputs': (v) => ({ run_id: v.RUN, datasets: [{ dataset: { name: 'd', digest: 'x', source_type: 'local', source: 's' } }] }),
  'POST /runs/log-model': (v) => ({ run_id: v.RUN, model_json: '{"artifact_path": "m", "flavors": {}}' }),
  'POST /runs/outputs': (v) => ({ run_id: v.RUN, models: [{ model_id: v.MODEL, step: 0 }] }),
  'GET /metrics/get-history': (v) => ({ run_id: v.RUN, metric_key: 'm' }),
  'GET /metrics/get-history-bulk-interval': (v) => ({ run_ids: [v.RUN], metric_key: 'm', max_results: 10 }),
  'GET /artifacts/list': (v) => ({ run_id: v.RUN, path: '' }),
  'POST /logged-models': (v) => ({ experiment_id: v.EXP, name: 'lm', source_run_id: v.RUN, params: [{ key: 'p', value: 'v' }] }),
  'GET /logged-models/{model_id}': (v) => ({ model_id: v.MODEL }),
  'PATCH /logged-models/{model_id}': (v) => ({ model_id: v.MODEL, status: 'LOGGED_MODEL_READY' }),
  'POST /logged-models/search': (v) => ({ experiment_ids: [v.EXP], max_results: 10 }),
  'PATCH /logged-models/{model_id}/tags': (v) => ({ model_id: v.MODEL, tags: [{ key: 'k', value: 'v' }] }),
  'DELETE /logged-models/{model_id}/tags/{tag_key}': (v) => ({ model_id: v.MODEL, tag_key: 'k' }),
  'POST /logged-models/{model_id}/params': (v) => ({ model_id: v.MODEL, params: [{ key: 'p2', value: 'v' }] }),
  'GET /logged-models/{model_id}/artifacts/directories': (v) => ({ model_id: v.MODEL }),
  'GET /registered-models/search': () => ({ filter: "name LIKE 'f%'", max_results: 10 }),
  'POST /registered-models/create': () => ({ name: 'fuzz-rm-new', tags: [{ key: 'k', value: 'v' }] }),
  'GET /registered-models/get': (v) => ({ name: v.RM }),
  'PATCH /registered-models/update': (v) => ({ name: v.RM, description: 'd' }),
  'POST /registered-models/get-latest-versions': (v) => ({ name: v.RM, stages: ['None'] }),
  'GET /registered-models/get-latest-versions': (v) => ({ name: v.RM }),
  'POST /registered-models/set-tag': (v) => ({ name: v.RM, key: 'k', value: 'v' }),
  'DELETE /registered-models/delete-tag': (v) => ({ name: v.RM, key: 'k' }),
  'POST /model-versions/create': (v) => ({ name: v.RM, source: 'mlflow-artifacts:/0/x', run_id: v.RUN }),
  'GET /model-versions/search': (v) => ({ filter: `name = '${v.RM}'`, max_results: 10 }),
  'GET /model-versions/get': (v) => ({ name: v.RM, version: '1' }),
  'PATCH /model-versions/update': (v) => ({ name: v.RM, version: '1', description: 'd' }),
  'GET /model-versions/get-download-uri': (v) => ({ name: v.RM, version: '1' }),
  'POST /model-versions/transition-stage': (v) => ({ name: v.RM, version: '1', stage: 'Staging', archive_existing_versions: false }),
  'POST /model-versions/set-tag': (v) => ({ name: v.RM, version: '1', key: 'k', value: 'v' }),
  'DELETE /model-versions/delete-tag': (v) => ({ name: v.RM, version: '1', key: 'k' }),
  'POST /registered-models/alias': (v) => ({ name: v.RM, alias: 'champion', version: '1' }),
  'GET /registered-models/alias': (v) => ({ name: v.RM, alias: 'champion' }),
  'DELETE /registered-models/alias': (v) => ({ name: v.RM, alias: 'champion' }),
  'POST /registered-models/rename': (v) => ({ name: v.RM, new_name: `${v.RM}` }),
  'DELETE /model-versions/delete': (v) => ({ name: v.RM, version: '1' }),
  'DELETE /registered-models/delete': (v) => ({ name: v.RM }),
  'POST /runs/delete': (v) => ({ run_id: v.RUN }),
  'POST /runs/restore': (v) => ({ run_id: v.RUN }),
  'DELETE /logged-models/{model_id}': (v) => ({ model_id: v.MODEL }),
  'POST /experiments/delete': (v) => ({ experiment_id: v.EXP }),
  'POST /experiments/restore': (v) => ({ experiment_id: v.EXP }),
};

const deep = (n: number) => JSON.parse(`${'['.repeat(n)}1${']'.repeat(n)}`);
/** Ways to break one field's value (the request is otherwise valid). `raw` mutations rewrite the JSON text. */
const VALUE_MUTATIONS: [string, (v: unknown) => unknown][] = [
  ['number for string', (v) => (typeof v === 'number' ? 'abc' : 12345)],
  ['boolean', () => true],
  ['null', () => null],
  ['array', (v) => [v, v]],
  ['object', (v) => ({ v })],
  ['huge string (1 MB)', () => 'x'.repeat(1 << 20)],
  ['huge array', () => Array.from({ length: 20_000 }, () => 'x')],
  ['deep value (60 levels)', () => deep(60)],
  ['lone surrogate', () => 'a\ud800b'],
  ['NUL and control characters', () => 'a\u0000b\u0007c'],
  ['emoji and RTL', () => '😀\u202edcba'],
  ['int64 overflow string', () => '9223372036854775808'],
  ['int64 overflow number', () => 1e30],
  ['negative', () => -1],
  ['empty string', () => ''],
  ['injection', () => "x' OR '1'='1'; DROP TABLE runs; --"],
  ['LIKE wildcards', () => '%_\\'],
  ['non-canonical id 0-padded', (v) => (typeof v === 'string' && /^\d+$/.test(v) ? `0${v}` : '01')],
  ['non-canonical id spaced', (v) => ` ${String(v)} `],
  ['path traversal', () => '../../etc/passwd'],
];
const RAW_MUTATIONS = ['NaN token', 'Infinity token', 'duplicated key', 'wrong content type', 'truncated JSON', 'oversized request line', 'oversized header'];
const ID_FIELDS = new Set(['experiment_id', 'run_id', 'model_id', 'source_run_id', 'experiment_ids', 'run_ids']);
const NONCANON = new Set(['non-canonical id 0-padded', 'non-canonical id spaced']);

function rawExchange(port: number, bytes: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    sock.on('data', (c) => parts.push(c));
    sock.on('error', reject);
    sock.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8');
      const i = text.indexOf('\r\n\r\n');
      resolve({ status: Number(text.split(' ')[1]), body: text.slice(i + 4) });
    });
    sock.write(bytes);
  });
}

function send(port: number, method: string, path: string, token: string, body: string | undefined, contentType = 'application/json'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { Authorization: `Bearer ${token}`, Connection: 'close' };
    if (body !== undefined) Object.assign(headers, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(parts).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const TABLES = ['experiments', 'experiment_tags', 'runs', 'metrics', 'latest_metrics', 'params', 'tags', 'logged_models', 'registered_models', 'model_versions'];

describe.each(DB_KINDS)('fuzz: every endpoint, every way of breaking it (%s)', (kind) => {
  let s: TestServer;
  let port: number;
  let vals: Vals;
  beforeAll(async () => {
    s = await startServer(kind);
    port = Number(new URL(s.baseUrl).port);
    const auth = { Authorization: `Bearer ${s.tokens.write}` };
    const api = s.mlflow();
    const EXP = (await s.request.post(`${api}/experiments/create`).set(auth).send({ name: 'fuzz-base' })).body.experiment_id;
    const RUN = (await s.request.post(`${api}/runs/create`).set(auth).send({ experiment_id: EXP })).body.run.info.run_id;
    await s.request.post(`${api}/runs/log-metric`).set(auth).send({ run_id: RUN, key: 'm', value: 1, timestamp: 1, step: 0 });
    const MODEL = (await s.request.post(`${api}/logged-models`).set(auth).send({ experiment_id: EXP, name: 'base' })).body.model.info.model_id;
    await s.request.post(`${api}/registered-models/create`).set(auth).send({ name: 'fuzz-rm' });
    await s.request.post(`${api}/model-versions/create`).set(auth).send({ name: 'fuzz-rm', source: 'mlflow-artifacts:/0/x', run_id: RUN });
    vals = { RUN, EXP, MODEL, RM: 'fuzz-rm' };
  }, 60_000);
  afterAll(async () => s?.close());

  it('never a 5xx or a reset; errors are MLflow JSON; refused writes change nothing; no malformed id succeeds', async () => {
    const routes = restRoutes(appRouter).map((r) => `${r.method.toUpperCase()} ${r.path}`);
    // every endpoint has a valid request here: a new endpoint without one fails this line
    expect(routes.filter((r) => !BASES[r])).toEqual([]);
    const random = rng(SEED);
    const counts = { requests: 0, ok: 0, refused: 0, byStatus: new Map<number, number>() };
    const failures: string[] = [];
    const started = Date.now();
    const rows = async () => {
      const out: number[] = [];
      for (const t of TABLES) out.push(Number(((await s.t.db(t).count({ n: '*' }).first()) as { n: number | string }).n));
      return out.join(',');
    };
    for (const route of Object.keys(BASES)) {
      if (Date.now() - started > TIME_BUDGET_MS) break;
      const [method, template] = route.split(' ') as [string, string];
      const base = BASES[route]!(vals);
      const fields = Object.keys(base);
      const isWrite = method !== 'GET';
      const ways: { name: string; field?: string }[] = [
        ...VALUE_MUTATIONS.map(([name]) => ({ name, field: fields.length ? fields[Math.floor(random() * fields.length)] : undefined })),
        ...RAW_MUTATIONS.map((name) => ({ name })),
      ];
      for (const way of ways) {
        const input: Record<string, unknown> = { ...base };
        const mutate = VALUE_MUTATIONS.find(([n]) => n === way.name)?.[1];
        let field = way.field;
        if (mutate && field === undefined) continue;
        if (mutate && field) {
          // id mutations go to an id field when the request has one
          if (NONCANON.has(way.name)) field = fields.find((f) => ID_FIELDS.has(f)) ?? field;
          input[field] = ID_FIELDS.has(field) && Array.isArray(base[field]) && NONCANON.has(way.name) ? [mutate((base[field] as unknown[])[0])] : mutate(base[field]);
        }
        // path parameters come from the input; the rest goes to the query (GET/DELETE) or the JSON body
        let path = template;
        for (const m of template.match(/\{(\w+)\}/g) ?? []) {
          const k = m.slice(1, -1);
          path = path.replace(m, encodeURIComponent(typeof input[k] === 'string' ? (input[k] as string).replace(/[\ud800-\udfff]/g, '%ED%A0%80') : JSON.stringify(input[k])));
          delete input[k];
        }
        const url = `${s.mlflow()}${path}`;
        let status: number;
        let text: string;
        const before = isWrite ? await rows() : '';
        try {
          let r: { status: number; body: string };
          if (way.name === 'oversized request line') {
            r = await rawExchange(port, `${method} ${url}?pad=${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
          } else if (way.name === 'oversized header') {
            r = await rawExchange(port, `${method} ${url} HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`);
          } else if (method === 'GET' || (method === 'DELETE' && !template.includes('{'))) {
            const qs = new URLSearchParams();
            for (const [k, v] of Object.entries(input)) {
              if (v === null || v === undefined) continue;
              for (const x of Array.isArray(v) ? v : [v]) qs.append(k, typeof x === 'string' ? x : JSON.stringify(x));
            }
            let q = qs.toString();
            if (way.name === 'lone surrogate') q = q.replace(/%EF%BF%BD/g, '%ED%A0%80');
            r = await send(port, method, `${url}${q ? '?' + q : ''}`, s.tokens.write, method === 'DELETE' ? JSON.stringify(input) : undefined);
          } else {
            let body = JSON.stringify(input);
            if (way.name === 'lone surrogate') body = body.replace(/\\ud800/g, '\\ud800');
            if (way.name === 'NaN token' && fields[0]) body = body.replace(`"${fields[0]}":`, `"${fields[0]}":NaN,"x${fields[0]}":`);
            if (way.name === 'Infinity token' && fields[0]) body = body.replace(`"${fields[0]}":`, `"${fields[0]}":Infinity,"x${fields[0]}":`);
            if (way.name === 'duplicated key' && fields[0]) body = body.replace('{', `{"${fields[0]}":"dup-first",`);
            if (way.name === 'truncated JSON') body = body.slice(0, Math.max(1, body.length - 3));
            r = await send(port, method, url, s.tokens.write, body, way.name === 'wrong content type' ? 'text/plain' : 'application/json');
          }
          status = r.status;
          text = r.body;
        } catch (err) {
          failures.push(`${route} [${way.name}${way.field ? ' on ' + way.field : ''}]: network error ${(err as Error).message}`);
          continue;
        }
        counts.requests++;
        counts.byStatus.set(status, (counts.byStatus.get(status) ?? 0) + 1);
        const where = `${route} [${way.name}${field ? ' on ' + field : ''}]`;
        if (status >= 500) failures.push(`${where}: ${status} ${text.slice(0, 200)}`);
        if (status !== 200) {
          counts.refused++;
          let parsed: any;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          if (!parsed || typeof parsed.error_code !== 'string' || typeof parsed.message !== 'string') failures.push(`${where}: not MLflow JSON: ${status} ${text.slice(0, 200)}`);
          if (isWrite && (await rows()) !== before) failures.push(`${where}: refused (${status}) but rows changed`);
        } else {
          counts.ok++;
          if (NONCANON.has(way.name) && field && ID_FIELDS.has(field) && route !== 'POST /runs/search' && route !== 'POST /logged-models/search' && route !== 'GET /metrics/get-history-bulk-interval') {
            failures.push(`${where}: a non-canonical id succeeded`);
          }
          if (['lone surrogate', 'NUL and control characters', 'emoji and RTL'].includes(way.name) && route === 'POST /runs/set-tag' && field === 'value') {
            const got = (await s.request.get(`${s.mlflow()}/runs/get`).query({ run_id: vals.RUN }).set({ Authorization: `Bearer ${s.tokens.write}` })).body;
            const tag = got.run?.data?.tags?.find((t: { key: string }) => t.key === 't');
            if (tag?.value !== input.value) failures.push(`${where}: stored ${JSON.stringify(tag?.value)} for ${JSON.stringify(input.value)}`);
          }
        }
      }
    }
    console.log(
      `[figures] fuzz ${kind} seed ${SEED}: ${counts.requests} requests over ${Object.keys(BASES).length} endpoints in ${Date.now() - started} ms; ` +
        `${counts.ok} accepted, ${counts.refused} refused; by status ${[...counts.byStatus].sort().map(([k, v]) => `${k}=${v}`).join(', ')}; ${failures.length} failures`,
    );
    expect(failures).toEqual([]);
  }, 240_000);
});
