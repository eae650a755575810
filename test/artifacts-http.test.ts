import { promises as fs } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';

const MAX = 1024 * 1024; // MAX_ARTIFACT_BYTES for these servers

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A request with the path sent verbatim (supertest/WHATWG URL would normalise `..` and `%2e%2e`). */
function raw(
  s: TestServer,
  method: string,
  rawPath: string,
  token: string,
  body?: Buffer | string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const u = new URL(s.baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path: rawPath,
        headers: {
          authorization: `Bearer ${token}`,
          ...headers,
          ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}),
        },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const rec = async (d: string) => {
    let ents;
    try {
      ents = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of ents) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await rec(p);
      else out.push(path.relative(dir, p));
    }
  };
  await rec(dir);
  return out.sort();
}

async function until(check: () => Promise<boolean>, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each(DB_KINDS)('mlflow-artifacts proxy and artifacts/list over HTTP (%s)', (kind) => {
  let s: TestServer;
  let artifactsDir: string;
  let exp: string;
  let run: string;
  let runRoot: string; // <exp>/<run>/artifacts
  let A: string; // proxy base of the project
  let otherRunRoot: string;

  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  const mlflow = async (method: 'get' | 'post', p: string, body: unknown, token = s.tokens.write, project: { id: number } = s.project) => {
    const r = method === 'get' ? s.request.get(s.mlflow(project) + p).query(body as object) : s.request.post(s.mlflow(project) + p).send(body as object);
    return r.set(auth(token));
  };
  /** PUT as the MLflow client does it: raw bytes with a guessed Content-Type; `body` is the parsed JSON answer. */
  const put = async (p: string, body: Buffer | string, token = s.tokens.write, type = 'application/octet-stream') => {
    const r = await raw(s, 'PUT', `${A}/artifacts/${p}`, token, body, { 'content-type': type });
    return { status: r.status, body: r.body.length ? JSON.parse(r.body.toString()) : undefined };
  };
  const listProxy = (p: string | undefined, token = s.tokens.write) => {
    const r = s.request.get(`${A}/artifacts`).set(auth(token));
    return p === undefined ? r : r.query({ path: p });
  };

  beforeAll(async () => {
    s = await startServer(kind, { MAX_ARTIFACT_BYTES: String(MAX) });
    artifactsDir = path.join(s.t.dataDir, 'artifacts');
    A = `/api/v4/projects/${s.project.id}/ml/mlflow/api/2.0/mlflow-artifacts`;
    exp = (await mlflow('post', '/experiments/create', { name: 'arts' })).body.experiment_id;
    const r = await mlflow('post', '/runs/create', { experiment_id: exp });
    run = r.body.run.info.run_id;
    expect(r.body.run.info.artifact_uri).toBe(`mlflow-artifacts:/${exp}/${run}/artifacts`);
    runRoot = `${exp}/${run}/artifacts`;
    const e2 = (await mlflow('post', '/experiments/create', { name: 'other' }, s.tokens.write, s.another)).body.experiment_id;
    const r2 = (await mlflow('post', '/runs/create', { experiment_id: e2 }, s.tokens.write, s.another)).body.run.info;
    otherRunRoot = `${e2}/${r2.run_id}/artifacts`;
    const A2 = `/api/v4/projects/${s.another.id}/ml/mlflow/api/2.0/mlflow-artifacts`;
    const w = await s.request.put(`${A2}/artifacts/${otherRunRoot}/secret.txt`).set(auth(s.tokens.write)).send(Buffer.from('other project'));
    expect(w.status).toBe(200);
  });
  afterAll(async () => s?.close());

  it('experiments and runs carry mlflow-artifacts: locations', async () => {
    const e = await mlflow('get', '/experiments/get', { experiment_id: exp });
    expect(e.body.experiment.artifact_location).toBe(`mlflow-artifacts:/${exp}`);
  });

  it('logs a single file and lists it through the proxy and artifacts/list', async () => {
    const up = await put(`${runRoot}/hello.txt`, 'hello', s.tokens.write, 'text/plain');
    expect(up.status).toBe(200);
    expect(up.body).toEqual({});
    const l = await listProxy(runRoot);
    expect(l.status).toBe(200);
    expect(l.body).toEqual({ files: [{ path: 'hello.txt', is_dir: false, file_size: 5 }] });
    const t = await mlflow('get', '/artifacts/list', { run_id: run });
    expect(t.status).toBe(200);
    expect(t.body).toEqual({ root_uri: `mlflow-artifacts:/${exp}/${run}/artifacts`, files: [{ path: 'hello.txt', is_dir: false, file_size: 5 }] });
    // stored per project
    expect(await fs.readFile(path.join(artifactsDir, 'p', String(s.project.id), runRoot, 'hello.txt'), 'utf8')).toBe('hello');
  });

  it('works when the tracking URI names the project by its URL-encoded path (group%2Fproject)', async () => {
    const byPath = `/api/v4/projects/${encodeURIComponent(s.project.path)}/ml/mlflow/api/2.0/mlflow-artifacts`;
    expect(byPath).toContain('%2F');
    const up = await raw(s, 'PUT', `${byPath}/artifacts/${runRoot}/by-path.txt`, s.tokens.write, 'via path', { 'content-type': 'text/plain' });
    expect(up.status).toBe(200);
    const down = await raw(s, 'GET', `${byPath}/artifacts/${runRoot}/by-path.txt`, s.tokens.write);
    expect(down.status).toBe(200);
    expect(down.body.toString()).toBe('via path');
    expect(await fs.readFile(path.join(artifactsDir, 'p', String(s.project.id), runRoot, 'by-path.txt'), 'utf8')).toBe('via path');
    const del = await raw(s, 'DELETE', `${byPath}/artifacts/${runRoot}/by-path.txt`, s.tokens.write);
    expect(del.status).toBe(200);
  });

  it('logs a directory tree (one PUT per file) and lists the root and subfolders both ways', async () => {
    const bin = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const files: [string, Buffer | string, string][] = [
      ['dir/a.txt', 'aaa', 'text/plain'],
      ['dir/sub/b.json', '{"b":1}', 'application/json'],
      ['dir/sub/deeper/c.bin', bin, 'application/octet-stream'],
      ['top.csv', 'x,y\n1,2\n', 'text/csv'],
      ['empty.txt', '', 'text/plain'],
    ];
    for (const [p, body, type] of files) {
      const r = await put(`${runRoot}/${p}`, body, s.tokens.write, type);
      expect(r.status, p).toBe(200);
    }
    const root = await listProxy(runRoot);
    expect(root.body.files).toEqual([
      { path: 'dir', is_dir: true },
      { path: 'empty.txt', is_dir: false, file_size: 0 },
      { path: 'hello.txt', is_dir: false, file_size: 5 },
      { path: 'top.csv', is_dir: false, file_size: 8 },
    ]);
    const sub = await listProxy(`${runRoot}/dir/sub`);
    expect(sub.body).toEqual({ files: [{ path: 'b.json', is_dir: false, file_size: 7 }, { path: 'deeper', is_dir: true }] });
    const tSub = await mlflow('get', '/artifacts/list', { run_id: run, path: 'dir/sub' });
    expect(tSub.body).toEqual({
      root_uri: `mlflow-artifacts:/${exp}/${run}/artifacts`,
      files: [
        { path: 'dir/sub/b.json', is_dir: false, file_size: 7 },
        { path: 'dir/sub/deeper', is_dir: true },
      ],
    });
    const tRoot = await mlflow('get', '/artifacts/list', { run_uuid: run });
    expect(tRoot.body.files.map((f: { path: string }) => f.path)).toEqual(['dir', 'empty.txt', 'hello.txt', 'top.csv']);
    // a directory that doesn't exist lists as empty; the proxy's root lists experiment ids of this project only
    expect((await listProxy(`${runRoot}/nope`)).body).toEqual({});
    expect((await mlflow('get', '/artifacts/list', { run_id: run, path: 'nope' })).body).toEqual({ root_uri: `mlflow-artifacts:/${exp}/${run}/artifacts` });
    expect((await listProxy(undefined)).body).toEqual({ files: [{ path: exp, is_dir: true }] });
  });

  it('downloads files streamed, with bytes, content type and attachment headers', async () => {
    const json = await s.request.get(`${A}/artifacts/${runRoot}/dir/sub/b.json`).set(auth(s.tokens.write)).buffer(true).parse((res, cb) => {
      const c: Buffer[] = [];
      res.on('data', (d: Buffer) => c.push(d));
      res.on('end', () => cb(null, Buffer.concat(c)));
    });
    expect(json.status).toBe(200);
    expect((json.body as Buffer).toString()).toBe('{"b":1}');
    expect(json.headers['content-type']).toBe('application/json');
    expect(json.headers['content-disposition']).toBe('attachment; filename=b.json');
    expect(json.headers['x-content-type-options']).toBe('nosniff');
    expect(json.headers['content-length']).toBe('7');

    const txt = await raw(s, 'GET', `${A}/artifacts/${runRoot}/hello.txt`, s.tokens.write);
    expect(txt.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(txt.body.toString()).toBe('hello');

    const bin = await raw(s, 'GET', `${A}/artifacts/${runRoot}/dir/sub/deeper/c.bin`, s.tokens.write);
    expect(bin.status).toBe(200);
    expect(bin.headers['content-type']).toBe('application/octet-stream');
    expect([...bin.body]).toEqual(Array.from({ length: 256 }, (_, i) => i));

    const head = await raw(s, 'HEAD', `${A}/artifacts/${runRoot}/dir/sub/deeper/c.bin`, s.tokens.write);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('256');
    expect(head.body.length).toBe(0);

    const empty = await raw(s, 'GET', `${A}/artifacts/${runRoot}/empty.txt`, s.tokens.write);
    expect(empty.status).toBe(200);
    expect(empty.body.length).toBe(0);

    const missing = await raw(s, 'GET', `${A}/artifacts/${runRoot}/nope.txt`, s.tokens.write);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body.toString()).error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    const dir = await raw(s, 'GET', `${A}/artifacts/${runRoot}/dir`, s.tokens.write);
    expect(dir.status).toBe(404);
  });

  it('serves names with spaces and non-ASCII characters', async () => {
    const name = 'résumé final.txt';
    const enc = encodeURIComponent(name);
    expect((await raw(s, 'PUT', `${A}/artifacts/${runRoot}/names/${enc}`, s.tokens.write, 'x')).status).toBe(200);
    const l = await listProxy(`${runRoot}/names`);
    expect(l.body.files).toEqual([{ path: name, is_dir: false, file_size: 1 }]);
    const g = await raw(s, 'GET', `${A}/artifacts/${runRoot}/names/${enc}`, s.tokens.write);
    expect(g.status).toBe(200);
    expect(g.headers['content-disposition']).toBe(`attachment; filename="r_sum_ final.txt"; filename*=UTF-8''${enc}`);
  });

  it('overwrites a file in place', async () => {
    expect((await put(`${runRoot}/hello.txt`, 'hello again!')).status).toBe(200);
    const g = await raw(s, 'GET', `${A}/artifacts/${runRoot}/hello.txt`, s.tokens.write);
    expect(g.body.toString()).toBe('hello again!');
    const l = await listProxy(runRoot);
    expect(l.body.files.find((f: { path: string }) => f.path === 'hello.txt')).toEqual({ path: 'hello.txt', is_dir: false, file_size: 12 });
    // a file can't replace a directory
    const clash = await put(`${runRoot}/dir`, 'nope');
    expect(clash.status).toBe(400);
  });

  it('deletes files and directory trees', async () => {
    await put(`${runRoot}/trash/one.txt`, '1');
    await put(`${runRoot}/trash/deep/two.txt`, '2');
    const d1 = await s.request.delete(`${A}/artifacts/${runRoot}/trash/one.txt`).set(auth(s.tokens.write));
    expect(d1.status).toBe(200);
    expect(d1.body).toEqual({});
    expect((await listProxy(`${runRoot}/trash`)).body).toEqual({ files: [{ path: 'deep', is_dir: true }] });
    const d2 = await s.request.delete(`${A}/artifacts/${runRoot}/trash`).set(auth(s.tokens.write));
    expect(d2.status).toBe(200);
    expect((await listProxy(`${runRoot}/trash`)).body).toEqual({});
    expect((await raw(s, 'GET', `${A}/artifacts/${runRoot}/trash/deep/two.txt`, s.tokens.write)).status).toBe(404);
    // deleting what isn't there is fine, as in MLflow
    expect((await s.request.delete(`${A}/artifacts/${runRoot}/trash`).set(auth(s.tokens.write))).status).toBe(200);
  });

  it('read_api tokens and reporters may list and download but not write or delete', async () => {
    expect((await listProxy(runRoot, s.tokens.read)).status).toBe(200);
    const g = await raw(s, 'GET', `${A}/artifacts/${runRoot}/top.csv`, s.tokens.read);
    expect(g.status).toBe(200);
    expect(g.body.toString()).toBe('x,y\n1,2\n');
    expect((await mlflow('get', '/artifacts/list', { run_id: run }, s.tokens.read)).status).toBe(200);
    for (const token of [s.tokens.read, s.tokens.reporter, s.tokens.guest]) {
      const p = await put(`${runRoot}/denied.txt`, 'x', token);
      expect(p.status).toBe(403);
      expect(p.body.error_code).toBe('PERMISSION_DENIED');
      const d = await s.request.delete(`${A}/artifacts/${runRoot}/top.csv`).set(auth(token));
      expect(d.status).toBe(403);
    }
    expect((await listProxy(runRoot, s.tokens.reporter)).status).toBe(200);
    expect((await raw(s, 'GET', `${A}/artifacts/${runRoot}/denied.txt`, s.tokens.write)).status).toBe(404);
    expect((await raw(s, 'GET', `${A}/artifacts/${runRoot}/top.csv`, s.tokens.write)).status).toBe(200);
  });

  it('strangers get 404, no token 401', async () => {
    const l = await listProxy(runRoot, s.tokens.stranger);
    expect(l.status).toBe(404);
    expect(l.body).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Project not found' });
    expect((await raw(s, 'GET', `${A}/artifacts/${runRoot}/top.csv`, s.tokens.stranger)).status).toBe(404);
    expect((await put(`${runRoot}/x.txt`, 'x', s.tokens.stranger)).status).toBe(404);
    expect((await s.request.get(`${A}/artifacts/${runRoot}/top.csv`)).status).toBe(401);
  });

  it("another project's run path is not reachable", async () => {
    // the file exists in the other project's scope, and the run exists there
    expect((await raw(s, 'GET', `${A}/artifacts/${otherRunRoot}/secret.txt`, s.tokens.write)).status).toBe(404);
    const p = await put(`${otherRunRoot}/planted.txt`, 'x');
    expect(p.status).toBe(404);
    expect(p.body.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    expect((await listProxy(otherRunRoot)).body).toEqual({});
    expect((await s.request.delete(`${A}/artifacts/${otherRunRoot}/secret.txt`).set(auth(s.tokens.write))).status).toBe(404);
    expect(await fs.readFile(path.join(artifactsDir, 'p', String(s.another.id), otherRunRoot, 'secret.txt'), 'utf8')).toBe('other project');
    expect(await walk(path.join(artifactsDir, 'p', String(s.another.id)))).toEqual([path.join(otherRunRoot, 'secret.txt')]);
  });

  it('writes only inside the artifact root of an existing run of the project', async () => {
    for (const p of [
      `${exp}/x.txt`,
      `${exp}/${run}/x.txt`,
      `${exp}/${run}/artifacts`,
      `${exp}/${'0'.repeat(32)}/artifacts/x.txt`,
      `999/${run}/artifacts/x.txt`,
      `0/${run}/artifacts/x.txt`,
      `${exp}/models/m-${'0'.repeat(32)}/artifacts/x.txt`,
      'x.txt',
    ]) {
      const r = await put(p, 'x');
      expect(r.status, p).toBe(404);
      expect(r.body.error_code, p).toBe('RESOURCE_DOES_NOT_EXIST');
    }
    expect((await s.request.delete(`${A}/artifacts/${exp}`).set(auth(s.tokens.write))).status).toBe(404);
    const files = await walk(path.join(artifactsDir, 'p', String(s.project.id)));
    expect(files.every((f) => f.startsWith(`${runRoot}/`))).toBe(true);
  });

  it('refuses traversal and smuggling patterns through HTTP, writing nothing outside the store', async () => {
    const before = await walk(s.t.dataDir);
    const tmpBefore = (await fs.readdir(os.tmpdir())).filter((n) => n.startsWith('pwned'));
    const attempts = [
      `${runRoot}/../../../../pwned1.txt`,
      `${runRoot}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/pwned2.txt`,
      `${runRoot}/%252e%252e/%252e%252e/%252e%252e/%252e%252e/pwned3.txt`,
      `${runRoot}/..%2f..%2f..%2f..%2fpwned4.txt`,
      `${runRoot}/..%252f..%252f..%252f..%252fpwned5.txt`,
      `${runRoot}/..%5c..%5c..%5c..%5cpwned6.txt`,
      `${runRoot}/..\\..\\..\\..\\pwned7.txt`,
      `${runRoot}/a%23/../../../../pwned8.txt`,
      `${runRoot}/x%3F/../../../../pwned9.txt`,
      `${runRoot}/pwned10.txt%00.png`,
      `${runRoot}/%2Fetc%2Fpwned11.txt`,
      `%2e%2e/%2e%2e/pwned12.txt`,
      `..%2F${s.another.id}%2F${otherRunRoot}%2Fpwned13.txt`,
      `${runRoot}/a#/../../../../pwned14.txt`,
      `${runRoot}/C:%5Cpwned15.txt`,
      `${runRoot}/.%2e/.%2e/.%2e/.%2e/pwned16.txt`,
      `${runRoot}//pwned17.txt`,
      `${runRoot}/./pwned18.txt`,
    ];
    for (const p of attempts) {
      for (const [method, body] of [['PUT', 'pwned'], ['GET', undefined], ['DELETE', undefined]] as const) {
        const r = await raw(s, method, `${A}/artifacts/${p}`, s.tokens.write, body);
        expect(r.status, `${method} ${p} → ${r.status} ${r.body}`).toBe(400);
        expect(JSON.parse(r.body.toString())).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: 'Invalid path' });
      }
    }
    // a raw '?' ends the path: what follows is a query string, never part of the file name
    const q = await raw(s, 'PUT', `${A}/artifacts/${runRoot}/q.txt?/../../../../pwned19.txt`, s.tokens.write, 'q');
    expect(q.status).toBe(200);
    expect((await raw(s, 'GET', `${A}/artifacts/${runRoot}/q.txt`, s.tokens.write)).body.toString()).toBe('q');
    for (const q of ['../../..', '%2e%2e/%2e%2e', '%252e%252e%252f', `${runRoot}/..\\..`, '/etc', 'a%00b', `..%2F${s.another.id}`]) {
      const r = await listProxy(q);
      expect(r.status, q).toBe(400);
      expect(r.body).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: 'Invalid path' });
      const t = await mlflow('get', '/artifacts/list', { run_id: run, path: q });
      expect(t.status, q).toBe(400);
    }
    expect(await walk(s.t.dataDir)).toEqual([...before, path.join('artifacts', 'p', String(s.project.id), runRoot, 'q.txt')].sort());
    expect((await fs.readdir(os.tmpdir())).filter((n) => n.startsWith('pwned'))).toEqual(tmpBefore);
    expect((await walk(artifactsDir)).filter((f) => f.includes('pwned'))).toEqual([]);
  });

  it('answers mpu/create with 501 so the client falls back to a single PUT', async () => {
    const r = await s.request
      .post(`${A}/mpu/create/${runRoot}`)
      .set(auth(s.tokens.write))
      .send({ path: '/local/big.bin', num_parts: 3 });
    expect(r.status).toBe(501);
    expect(r.body).toEqual({ error_code: 'NOT_IMPLEMENTED', message: 'Multipart upload is not supported for the current artifact repository' });
  });

  it('refuses an upload over MAX_ARTIFACT_BYTES with 413 (declared length) and leaves no file', async () => {
    const u = new URL(s.baseUrl);
    const res = await new Promise<RawResponse>((resolve, reject) => {
      const req = http.request({
        host: u.hostname, port: u.port, method: 'PUT', path: `${A}/artifacts/${runRoot}/big.bin`, agent: false,
        headers: { authorization: `Bearer ${s.tokens.write}`, 'content-length': MAX * 2 },
      });
      req.on('response', (r) => {
        const c: Buffer[] = [];
        r.on('data', (d) => c.push(d));
        r.on('end', () => resolve({ status: r.statusCode!, headers: r.headers, body: Buffer.concat(c) }));
      });
      req.on('error', reject);
      req.write(Buffer.alloc(64 * 1024)); // the rest is never sent: the server answers from the header
    });
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    expect(JSON.parse(res.body.toString())).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: `Artifact exceeds the maximum size of ${MAX} bytes` });
    expect((await walk(path.join(artifactsDir, 'p', String(s.project.id), runRoot))).filter((f) => f.includes('big'))).toEqual([]);
  });

  it('refuses a chunked upload once it passes MAX_ARTIFACT_BYTES with 413 and leaves nothing behind', async () => {
    const u = new URL(s.baseUrl);
    const res = await new Promise<RawResponse>((resolve, reject) => {
      const req = http.request({
        host: u.hostname, port: u.port, method: 'PUT', path: `${A}/artifacts/${runRoot}/chunked.bin`, agent: false,
        headers: { authorization: `Bearer ${s.tokens.write}`, 'transfer-encoding': 'chunked' },
      });
      req.on('response', (r) => {
        const c: Buffer[] = [];
        r.on('data', (d) => c.push(d));
        r.on('end', () => resolve({ status: r.statusCode!, headers: r.headers, body: Buffer.concat(c) }));
      });
      req.on('error', reject);
      // one byte over the limit, and the request is left open: the server must answer without the end of the body
      req.write(Buffer.alloc(MAX / 2, 1));
      req.write(Buffer.alloc(MAX / 2 + 1, 2));
    });
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    expect(JSON.parse(res.body.toString()).error_code).toBe('INVALID_PARAMETER_VALUE');
    const dir = path.join(artifactsDir, 'p', String(s.project.id), runRoot);
    expect(await until(async () => (await fs.readdir(dir)).every((n) => !n.includes('chunked')))).toBe(true);
    // exactly the limit is fine
    expect((await put(`${runRoot}/exact.bin`, Buffer.alloc(MAX, 7))).status).toBe(200);
    expect((await listProxy(runRoot)).body.files.find((f: { path: string }) => f.path === 'exact.bin').file_size).toBe(MAX);
  });

  it('leaves nothing behind when an upload is interrupted half-way', async () => {
    const u = new URL(s.baseUrl);
    const dir = path.join(artifactsDir, 'p', String(s.project.id), runRoot);
    const before = await fs.readdir(dir);
    await new Promise<void>((resolve) => {
      const req = http.request({
        host: u.hostname, port: u.port, method: 'PUT', path: `${A}/artifacts/${runRoot}/half.bin`, agent: false,
        headers: { authorization: `Bearer ${s.tokens.write}`, 'content-length': 512 * 1024 },
      });
      req.on('error', () => resolve());
      req.write(Buffer.alloc(256 * 1024, 3), () => {
        // wait until the server has started writing its temp file, then cut the connection
        void until(async () => (await fs.readdir(dir)).some((n) => n.includes('half.bin')), 2000).then(() => {
          req.destroy();
          resolve();
        });
      });
    });
    expect(await until(async () => (await fs.readdir(dir)).every((n) => !n.includes('half')))).toBe(true);
    expect((await fs.readdir(dir)).sort()).toEqual(before.sort());
    expect((await raw(s, 'GET', `${A}/artifacts/${runRoot}/half.bin`, s.tokens.write)).status).toBe(404);
    // the server is still fine afterwards
    expect((await put(`${runRoot}/after.txt`, 'ok')).status).toBe(200);
  });

  it('serves the root mount /api/2.0/mlflow-artifacts for the configured project', async () => {
    const adm = auth(s.tokens.admin);
    const e = (await s.request.post('/api/2.0/mlflow/experiments/create').set(adm).send({ name: 'root-exp' })).body.experiment_id;
    const r = (await s.request.post('/api/2.0/mlflow/runs/create').set(adm).send({ experiment_id: e })).body.run.info.run_id;
    const root = `${e}/${r}/artifacts`;
    expect((await s.request.put(`/api/2.0/mlflow-artifacts/artifacts/${root}/m.txt`).set(adm).send(Buffer.from('root'))).status).toBe(200);
    const g = await raw(s, 'GET', `/api/2.0/mlflow-artifacts/artifacts/${root}/m.txt`, s.tokens.admin);
    expect(g.body.toString()).toBe('root');
    expect((await s.request.get('/api/2.0/mlflow-artifacts/artifacts').query({ path: root }).set(adm)).body).toEqual({
      files: [{ path: 'm.txt', is_dir: false, file_size: 4 }],
    });
    expect(await fs.readFile(path.join(artifactsDir, 'p', '1', root, 'm.txt'), 'utf8')).toBe('root');
    // unknown routes under the proxy are MLflow's JSON 404
    const nf = await s.request.get('/api/2.0/mlflow-artifacts/nothing').set(adm);
    expect(nf.status).toBe(404);
    expect(nf.body.error_code).toBe('ENDPOINT_NOT_FOUND');
  });

  it('artifacts/list validates its input like MLflow', async () => {
    const noRun = await mlflow('get', '/artifacts/list', { path: 'x' });
    expect(noRun.status).toBe(400);
    expect(noRun.body.message).toMatch(/Missing value for required parameter 'run_id'/);
    const missing = await mlflow('get', '/artifacts/list', { run_id: 'f'.repeat(32) });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Run with id=${'f'.repeat(32)} not found` });
  });
});
