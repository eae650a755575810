import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';

/**
 * server/app.ts's direct dispatch of `/api/v4/projects/<id>/ml/mlflow/api/2.0/mlflow/<path>` (no express router) must
 * answer exactly as the express mounts do. An URL-encoded project path (`group%2Fname`) still takes the mounts, so
 * each request here is sent both ways and the answers compared byte for byte.
 */
describe.each(DB_KINDS)('direct dispatch of the project REST API (%s)', (kind) => {
  let s: TestServer;
  let runId: string;
  beforeAll(async () => {
    s = await startServer(kind);
    const created = await s.request.post(s.mlflow() + '/runs/create').set(auth()).send({ experiment_id: '0', run_name: 'seen both ways' });
    runId = created.body.run.info.run_id;
  });
  afterAll(async () => s?.close());

  const auth = (token?: string) => ({ Authorization: `Bearer ${token ?? s.tokens.write}` });
  const bothWays = () => [s.mlflow(), s.mlflow(s.project.path)];
  const same = (a: { status: number; text: string; headers: Record<string, string> }, b: typeof a) => {
    expect(a.status).toBe(b.status);
    // ENDPOINT_NOT_FOUND names the URL as sent
    expect(a.text).toBe(b.text.replace(encodeURIComponent(s.project.path), String(s.project.id)));
    expect(a.headers['content-type']).toBe(b.headers['content-type']);
  };

  it('the mounts still serve an encoded project path (the comparison below is not one path against itself)', () => {
    expect(s.mlflow(s.project.path)).toContain('%2F');
  });

  it('answers reads, writes and every kind of error as the express mounts do', async () => {
    const cases: [string, (base: string) => Promise<any>][] = [
      ['get', (b) => s.request.get(b + '/runs/get').set(auth()).query({ run_id: runId })],
      ['get, upper case and trailing slash', (b) => s.request.get(b.replace('/mlflow', '/MLflow') + '/Runs/Get/').set(auth()).query({ run_id: runId })],
      ['private_token in the query', (b) => s.request.get(b + '/runs/get').query({ run_id: runId, private_token: s.tokens.write })],
      ['missing run', (b) => s.request.get(b + '/runs/get').set(auth()).query({ run_id: 'f'.repeat(32) })],
      ['no token', (b) => s.request.get(b + '/runs/get').query({ run_id: runId })],
      ['revoked token', (b) => s.request.get(b + '/runs/get').set(auth(s.tokens.revoked)).query({ run_id: runId })],
      ['not a member', (b) => s.request.get(b + '/runs/get').set(auth(s.tokens.stranger)).query({ run_id: runId })],
      ['read-only token writing', (b) => s.request.post(b + '/runs/update').set(auth(s.tokens.read)).send({ run_id: runId, status: 'RUNNING' })],
      ['malformed JSON', (b) => s.request.post(b + '/runs/update').set(auth()).set('Content-Type', 'application/json').send('{"run_id":')],
      ['wrong content type', (b) => s.request.post(b + '/runs/update').set(auth()).set('Content-Type', 'text/plain').send('{}')],
      ['invalid input', (b) => s.request.post(b + '/runs/update').set(auth()).send({ run_id: runId, status: 'NOPE' })],
      ['a write', (b) => s.request.post(b + '/runs/set-tag').set(auth()).send({ run_id: runId, key: 'k', value: 'v' })],
      ['unknown endpoint', (b) => s.request.post(b + '/runs/no-such-thing').set(auth()).send({})],
      ['unknown endpoint, no token', (b) => s.request.post(b + '/runs/no-such-thing').send({})],
      ['wrong method', (b) => s.request.get(b + '/runs/create').set(auth())],
      ['templated path', (b) => s.request.get(b + '/logged-models/m-none').set(auth())],
    ];
    for (const [name, send] of cases) {
      const [direct, mounted] = bothWays();
      const a = await send(direct!);
      const b = await send(mounted!);
      try {
        same(a, b);
      } catch (err) {
        throw new Error(`${name}: ${(err as Error).message}`);
      }
    }
  });

  it("JSON answers carry express's headers, Content-Length in bytes, and no ETag", async () => {
    const tagged = await s.request.post(s.mlflow() + '/runs/set-tag').set(auth()).send({ run_id: runId, key: 'ü', value: 'é€' });
    expect(tagged.status).toBe(200);
    const res = await s.request.get(s.mlflow() + '/runs/get').set(auth()).query({ run_id: runId });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
    expect(res.text).toContain('é€');
    expect(res.headers.etag).toBeUndefined();
    const missing = await s.request.get(s.mlflow() + '/runs/get').set(auth()).query({ run_id: 'ä' });
    expect(missing.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Number(missing.headers['content-length'])).toBe(Buffer.byteLength(missing.text));
    expect(missing.body.error_code).toBeDefined();
  });

  it("the project of the URL is not an input field: a body's own `id` stays what the client sent", async () => {
    const res = await s.request.post(s.mlflow() + '/runs/create').set(auth()).send({ experiment_id: '0', id: 'x', run_name: 'with id' });
    expect(res.status).toBe(200);
    expect(res.body.run.info.run_name).toBe('with id');
    expect(res.body.run.info.experiment_id).toBe('0');
  });
});
