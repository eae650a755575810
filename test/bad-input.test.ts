import net from 'node:net';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';

/**
 * The bad requests of the reliability report (issue 9), each sent byte for byte as reported, on both databases:
 * the answer is MLflow JSON with a 4xx status, and nothing is stored or changed.
 */

/** One raw HTTP exchange: the bytes go out as given; resolves with status, headers and body, or rejects on a reset. */
function rawRequest(port: number, bytes: Buffer | string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', reject);
    sock.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', body = ''] = text.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), headers: head, body });
    });
    sock.write(bytes);
  });
}

/** A body sent with exactly these bytes (supertest would re-encode a string). */
function postBytes(s: TestServer, path: string, bytes: Buffer, token: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${s.baseUrl}${path}`,
      { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': bytes.length, Authorization: `Bearer ${token}` } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(parts).toString('utf8')) }));
      },
    );
    req.on('error', reject);
    req.end(bytes);
  });
}

describe.each(DB_KINDS)('bad input, as reported (%s)', (kind) => {
  let s: TestServer;
  let port: number;
  const auth = () => ({ Authorization: `Bearer ${s.tokens.write}` });
  const api = () => s.mlflow();
  beforeAll(async () => {
    s = await startServer(kind);
    port = Number(new URL(s.baseUrl).port);
  });
  afterAll(async () => s?.close());

  const invalid = (res: { status: number; body: any }, message?: string | RegExp) => {
    expect(res.status).toBe(400);
    expect(res.body.error_code).toBe('INVALID_PARAMETER_VALUE');
    if (message) expect(res.body.message).toMatch(message);
  };

  describe('deeply nested JSON', () => {
    it('runs/restore with run_id nested 100,000 arrays deep (200 kB) is 400, not 500', async () => {
      const body = `{"run_id":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
      expect(body.length).toBeGreaterThan(200_000);
      const res = await s.request.post(`${api()}/runs/restore`).set(auth()).set('Content-Type', 'application/json').send(body);
      invalid(res, /nested too deeply/);
    });

    it('experiments/create with a deep object in a tag value is 400 and creates nothing', async () => {
      const deep = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
      const body = `{"name":"deep-object","tags":[{"key":"k","value":${deep}}]}`;
      const res = await s.request.post(`${api()}/experiments/create`).set(auth()).set('Content-Type', 'application/json').send(body);
      invalid(res, /nested too deeply/);
      const got = await s.request.get(`${api()}/experiments/get-by-name`).query({ experiment_name: 'deep-object' }).set(auth());
      expect(got.status).toBe(404);
    });

    it('65 levels (the body object counting as one) are refused, 64 reach validation as usual', async () => {
      const nest = (n: number) => `${'['.repeat(n - 1)}"x"${']'.repeat(n - 1)}`;
      const over = await s.request.post(`${api()}/runs/restore`).set(auth()).set('Content-Type', 'application/json').send(`{"run_id":${nest(65)}}`);
      invalid(over, /nested too deeply/);
      const within = await s.request.post(`${api()}/runs/restore`).set(auth()).set('Content-Type', 'application/json').send(`{"run_id":${nest(64)}}`);
      invalid(within, /Invalid value/);
    });
  });

  describe("what Node's HTTP parser rejects is MLflow JSON", () => {
    it('headers over 16 kB → 431 with an MLflow error body', async () => {
      const res = await rawRequest(port, `GET ${api()}/experiments/get?experiment_id=0 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17_000)}\r\n\r\n`);
      expect(res.status).toBe(431);
      expect(res.headers).toMatch(/content-type: application\/json/i);
      expect(JSON.parse(res.body)).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: expect.stringMatching(/16 kB/) });
    });

    it('a 1 MB query string → 431 MLflow JSON, not a reset', async () => {
      const res = await rawRequest(port, `GET ${api()}/experiments/get?experiment_id=${'1'.repeat(1024 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(res.status).toBe(431);
      expect(JSON.parse(res.body).error_code).toBe('INVALID_PARAMETER_VALUE');
    });

    it('a raw non-ASCII byte in the request line → 400 MLflow JSON', async () => {
      const line = Buffer.concat([Buffer.from(`GET ${api()}/experiments/get-by-name?experiment_name=`), Buffer.from([0xc3, 0xa9, 0xff]), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]);
      const res = await rawRequest(port, line);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: expect.stringMatching(/Malformed HTTP request/) });
    });
  });

  describe('only the canonical id names an object', () => {
    let id: string;
    let url: string;
    beforeAll(async () => {
      const p = await s.developerProject('canon/ids');
      url = s.mlflow(p);
      await s.request.post(`${url}/experiments/create`).set(auth()).send({ name: 'zero-padding-filler' });
      id = (await s.request.post(`${url}/experiments/create`).set(auth()).send({ name: 'original' })).body.experiment_id;
      expect(id).toBe('2');
    });
    const nameOf = async () => (await s.request.get(`${url}/experiments/get`).query({ experiment_id: id }).set(auth())).body.experiment.name;

    it('experiments/get?experiment_id=02 does not exist', async () => {
      const res = await s.request.get(`${url}/experiments/get?experiment_id=02`).set(auth());
      expect(res.status).toBe(404);
      expect(res.body.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    });

    it.each(['02', '+2', ' 2', '2 ', '2.0', '0x2'])('experiments/update with experiment_id %j renames nothing', async (bad) => {
      const res = await s.request.post(`${url}/experiments/update`).set(auth()).send({ experiment_id: bad, new_name: 'renamed' });
      expect(res.status).toBe(404);
      expect(res.body.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
      expect(await nameOf()).toBe('original');
    });

    it.each(['2.0', '2e0', '20e-1'])('experiments/update with the JSON number %s renames nothing (MLflow reads it as "2.0")', async (literal) => {
      const res = await s.request.post(`${url}/experiments/update`).set(auth()).set('Content-Type', 'application/json').send(`{"experiment_id": ${literal}, "new_name": "renamed"}`);
      expect(res.status).toBe(404);
      expect(res.body.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
      expect(await nameOf()).toBe('original');
      // and in a list of ids, such a number names nothing either
      const search = await s.request.post(`${url}/runs/search`).set(auth()).set('Content-Type', 'application/json').send(`{"experiment_ids": [${literal}]}`);
      expect(search.status).toBe(200);
      expect(search.body).toEqual({});
    });

    it('experiments/update with the JSON integer 2 names experiment 2 (kept, as the issue allows)', async () => {
      const res = await s.request.post(`${url}/experiments/update`).set(auth()).set('Content-Type', 'application/json').send('{"experiment_id": 2, "new_name": "renamed"}');
      expect(res.status).toBe(200);
      expect(await nameOf()).toBe('renamed');
      await s.request.post(`${url}/experiments/update`).set(auth()).send({ experiment_id: id, new_name: 'original' });
      expect(await nameOf()).toBe('original');
    });

    it('a project named 0-padded (/projects/0N) does not exist', async () => {
      const res = await s.request.get(`/api/v4/projects/0${s.project.id}/ml/mlflow/api/2.0/mlflow/experiments/get?experiment_id=0`).set(auth());
      expect(res.status).toBe(404);
      expect(res.body.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    });
  });

  describe('invalid UTF-8 and lone surrogates are refused, never stored changed', () => {
    let runId: string;
    beforeAll(async () => {
      runId = (await s.request.post(`${s.mlflow(s.project)}/runs/create`).set(auth()).send({ experiment_id: '0' })).body.run.info.run_id;
    });
    const datasets = async () => (await s.request.get(`${s.mlflow(s.project)}/runs/get`).query({ run_id: runId }).set(auth())).body.run.inputs?.dataset_inputs ?? [];

    it('a dataset name with an invalid UTF-8 byte in the body → 400, nothing stored', async () => {
      const bytes = Buffer.concat([
        Buffer.from(`{"run_id":"${runId}","datasets":[{"dataset":{"name":"bad`),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('","digest":"d","source_type":"local","source":"s"}}]}'),
      ]);
      const res = await postBytes(s, `${s.mlflow(s.project)}/runs/log-inputs`, bytes, s.tokens.write);
      invalid(res, /not valid UTF-8/);
      expect(await datasets()).toEqual([]);
    });

    it('a dataset name with a lone surrogate escape → 400, nothing stored', async () => {
      const body = `{"run_id":"${runId}","datasets":[{"dataset":{"name":"bad\\ud800","digest":"d","source_type":"local","source":"s"}}]}`;
      const res = await s.request.post(`${s.mlflow(s.project)}/runs/log-inputs`).set(auth()).set('Content-Type', 'application/json').send(body);
      invalid(res, /lone surrogate/);
      expect(await datasets()).toEqual([]);
    });

    it('a valid non-ASCII name is stored exactly', async () => {
      const name = 'données-😀';
      const res = await s.request.post(`${s.mlflow(s.project)}/runs/log-inputs`).set(auth())
        .send({ run_id: runId, datasets: [{ dataset: { name, digest: 'd', source_type: 'local', source: 's' } }] });
      expect(res.status).toBe(200);
      expect((await datasets()).map((d: any) => d.dataset.name)).toEqual([name]);
    });

    it.each([
      ['query, invalid byte', (u: string) => `${u}/experiments/get-by-name?experiment_name=%FF`],
      ['query, lone surrogate', (u: string) => `${u}/experiments/get-by-name?experiment_name=%ED%A0%80`],
      ['path', () => `/api/v4/projects/a%FFb/ml/mlflow/api/2.0/mlflow/experiments/get?experiment_id=0`],
    ])('%s → 400 INVALID_PARAMETER_VALUE', async (_name, url) => {
      const res = await s.request.get(url(s.mlflow(s.project))).set(auth());
      invalid(res, /not valid UTF-8/);
    });

    it('a body declared in another charset is refused', async () => {
      const res = await s.request.post(`${s.mlflow(s.project)}/experiments/create`).set(auth()).set('Content-Type', 'application/json; charset=latin1').send('{"name":"latin"}');
      invalid(res, /UTF-8/);
    });
  });
});
