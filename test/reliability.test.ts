import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { createToken } from '../db/tokens.ts';
import { createMltrackClient } from '../client/index.ts';
import net from 'node:net';

/** One raw HTTP/1.1 exchange over a socket: the status line, headers and body as received, or the socket error. */
function rawHttp(baseUrl: string, request: Buffer | string): Promise<{ status: number; headers: string; body: string } | { error: string }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(Number(port), hostname, () => sock.write(request));
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      if (!head) return resolve({ error: 'EMPTY' });
      resolve({ status: Number(head.split(' ')[1]), headers: head, body: rest.join('\r\n\r\n') });
    });
  });
}

/**
 * The bad requests and access cells of the reliability report (issue 9), each sent exactly as reported, with the
 * answer and what is stored afterwards asserted.
 */
describe.each(DB_KINDS)('bad input and access, as reported (%s)', (kind) => {
  let s: TestServer;
  const auth = () => ({ Authorization: `Bearer ${s.tokens.write}` });
  beforeAll(async () => {
    s = await startServer(kind);
  });
  afterAll(async () => s?.close());

  it("an admin's read_api token may read the admin lists, never write", async () => {
    const { token } = await createToken(s.t.db, { userId: 1, name: 'ro', scopes: ['read_api'] });
    const admin = createMltrackClient({ url: s.baseUrl, token, batch: false }).admin;
    expect((await admin.listUsers.query()).map((u) => u.username)).toContain('admin');
    expect((await admin.listProjects.query()).map((p) => p.path)).toContain('group/project');
    expect((await admin.listTokens.query({})).length).toBeGreaterThan(0);
    const denied = await admin.createUser.mutate({ username: 'nope' }).catch((e) => e);
    expect(denied.data.httpStatus).toBe(403);
    expect(await s.t.db('users').where({ username: 'nope' }).first()).toBeUndefined();
  });

  it('POST logged-models with a source_run_id of another project is 404, and stores nothing', async () => {
    const foreignRun = (await s.request.post(`${s.mlflow(s.another)}/runs/create`).set(auth()).send({ experiment_id: '0' })).body.run.info.run_id;
    const before = await s.t.db('logged_models').count({ n: '*' }).first();
    const res = await s.request.post(`${s.mlflow()}/logged-models`).set(auth()).send({ experiment_id: '0', source_run_id: foreignRun });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Run with id=${foreignRun} not found` });
    expect(await s.t.db('logged_models').count({ n: '*' }).first()).toEqual(before);
  });

  it('deeply nested JSON (100,000 levels, 200 kB) is a 400, on every endpoint and in any field', async () => {
    const deep = `{"run_id":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    for (const path of ['/runs/restore', '/runs/log-batch', '/experiments/create', '/registered-models/create']) {
      const res = await s.request.post(`${s.mlflow()}${path}`).set(auth()).set('Content-Type', 'application/json').send(deep);
      expect(res.status, path).toBe(400);
      expect(res.body).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: 'Malformed JSON in the request body: nested deeper than 64 levels.' });
    }
    const objects = `{"tags":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}`;
    expect((await s.request.post(`${s.mlflow()}/experiments/create`).set(auth()).set('Content-Type', 'application/json').send(objects)).status).toBe(400);
  });

  it('an experiment is named only by its canonical id: "01", 1.0 and 1e0 name nothing and change nothing', async () => {
    const created = await s.request.post(`${s.mlflow()}/experiments/create`).set(auth()).send({ name: 'canonical' });
    const id = created.body.experiment_id as string;
    expect((await s.request.get(`${s.mlflow()}/experiments/get`).query({ experiment_id: `0${id}` }).set(auth())).status).toBe(404);
    for (const body of [`{"experiment_id": "0${id}", "new_name": "renamed"}`, `{"experiment_id": ${id}.0, "new_name": "renamed"}`, `{"experiment_id": ${id}e0, "new_name": "renamed"}`]) {
      const res = await s.request.post(`${s.mlflow()}/experiments/update`).set(auth()).set('Content-Type', 'application/json').send(body);
      expect(res.status, body).toBe(404);
      expect(res.body.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    }
    // the JSON integer and the canonical string still work
    expect((await s.request.post(`${s.mlflow()}/experiments/update`).set(auth()).set('Content-Type', 'application/json').send(`{"experiment_id": ${id}, "new_name": "by-int"}`)).status).toBe(200);
    const got = await s.request.get(`${s.mlflow()}/experiments/get`).query({ experiment_id: id }).set(auth());
    expect(got.body.experiment.name).toBe('by-int');
    // a search naming 01 finds nothing
    const search = await s.request.post(`${s.mlflow()}/runs/search`).set(auth()).send({ experiment_ids: [`0${id}`] });
    expect(search.body).toEqual({});
  });

  it('invalid text is refused, never stored changed: invalid UTF-8 bodies and URLs, lone surrogates', async () => {
    const run = (await s.request.post(`${s.mlflow()}/runs/create`).set(auth()).send({ experiment_id: '0' })).body.run.info.run_id;
    /** log-inputs with the dataset name given as raw JSON text (quotes included) */
    const body = (nameJson: string) => `{"run_id":"${run}","datasets":[{"dataset":{"name":${nameJson},"digest":"d","source_type":"s","source":"x"}}]}`;
    const send = (payload: string) =>
      s.request.post(`${s.mlflow()}/runs/log-inputs`).set(auth()).set('Content-Type', 'application/json').send(payload);
    // a raw 0xE9 byte (latin-1 "é") where UTF-8 is required
    const latin1 = Buffer.from(body('"cafZ"'), 'utf8');
    latin1[latin1.indexOf(0x5a /* Z */)] = 0xe9;
    const head = `POST ${s.mlflow()}/runs/log-inputs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.tokens.write}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${latin1.length}\r\nConnection: close\r\n\r\n`;
    const r1 = await rawHttp(s.baseUrl, Buffer.concat([Buffer.from(head), latin1]));
    expect('status' in r1 && r1.status).toBe(400);
    expect('body' in r1 && JSON.parse(r1.body)).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: 'The request body is not valid UTF-8 text.' });
    // a lone surrogate, written as a JSON escape
    const lone = String.raw`"x\ud800y"`;
    const r2 = await send(body(lone));
    expect(r2.status).toBe(400);
    expect(r2.body.message).toMatch(/lone UTF-16 surrogate/);
    expect(await s.t.db('datasets').count({ n: '*' }).first()).toEqual({ n: 0 });
    // a surrogate pair is text, stored exactly
    const pair = String.raw`"\ud83d\ude00"`;
    expect((await send(body(pair))).status).toBe(200);
    const stored = (await s.request.get(`${s.mlflow()}/runs/get`).query({ run_id: run }).set(auth())).body.run.inputs.dataset_inputs[0].dataset.name;
    expect(stored).toBe('\u{1F600}');
    // invalid UTF-8 in the query string
    const r3 = await s.request.get(`${s.mlflow()}/experiments/get-by-name?experiment_name=caf%E9`).set(auth());
    expect(r3.status).toBe(400);
    expect(r3.body).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: 'The request URL is not valid UTF-8 once percent-decoded.' });
  });

  it("what Node's HTTP parser refuses is answered in MLflow's shape: 20 kB headers, a 1 MB query, a raw non-ASCII byte", async () => {
    const big = await rawHttp(s.baseUrl, `GET ${s.mlflow()}/experiments/list HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect('status' in big && big.status).toBe(431);
    expect('body' in big && JSON.parse(big.body).error_code).toBe('INVALID_PARAMETER_VALUE');
    const longQuery = await rawHttp(s.baseUrl, `GET ${s.mlflow()}/experiments/list?q=${'a'.repeat(1_000_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect('status' in longQuery ? longQuery.status : longQuery.error).toBe(431);
    const raw = Buffer.concat([Buffer.from(`GET ${s.mlflow()}/experiments/get-by-name?experiment_name=caf`), Buffer.from([0xe9]), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]);
    const nonAscii = await rawHttp(s.baseUrl, raw);
    expect('status' in nonAscii && nonAscii.status).toBe(400);
    expect('body' in nonAscii && JSON.parse(nonAscii.body)).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: expect.stringMatching(/^Malformed HTTP request/) });
  });
});
