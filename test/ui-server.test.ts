import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { revokeToken, createToken } from '../db/tokens.ts';
import { getUserByUsername } from '../db/users.ts';
import { setPassword } from '../db/sessions.ts';
import { removeMember } from '../db/projects.ts';

/** Serving the web UI, signing in with a session cookie, same-origin proof, and ranged artifact downloads. */

const UI = { 'X-Mltrack-UI': '1' };
const cookieOf = (res: { headers: Record<string, unknown> }) => String((res.headers['set-cookie'] as string[])[0]).split(';')[0]!;

describe.each(DB_KINDS)('web UI server side (%s)', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(kind);
  });
  afterAll(() => s?.close());

  it('serves index.html at / and at the project MLflow path, never cached; hashed assets for a year', async () => {
    for (const path of ['/', `/api/v4/projects/${s.project.id}/ml/mlflow/`, `/api/v4/projects/${encodeURIComponent(s.project.path)}/ml/mlflow/`]) {
      const res = await s.request.get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers['content-type']).toMatch(/text\/html/);
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.text).toContain('<div id="root"></div>');
    }
    const root = await s.request.get('/');
    expect(root.text).toContain('<meta name="mltrack-project" content="1" />');
    const byPath = await s.request.get(`/api/v4/projects/${encodeURIComponent(s.project.path)}/ml/mlflow/`);
    expect(byPath.text).toContain(`<meta name="mltrack-project" content="${s.project.path}" />`);
    const asset = /src="(\/assets\/index-[^"]+\.js)"/.exec(root.text)![1]!;
    const a = await s.request.get(asset);
    expect(a.status).toBe(200);
    expect(a.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await s.request.get('/assets/missing-123.js')).status).toBe(404);
    const bare = await s.request.get(`/api/v4/projects/${s.project.id}/ml/mlflow`);
    expect(bare.status).toBe(301);
    expect(bare.headers.location).toBe(`/api/v4/projects/${s.project.id}/ml/mlflow/`);
  });

  it('no API path falls through to the UI', async () => {
    for (const path of [`/api/v4/projects/${s.project.id}/ml/mlflow/api/2.0/mlflow/nope`, '/api/2.0/mlflow/nope', `/api/v4/projects/${s.project.id}/ml/mlflow/x`, '/anything', '/api/v4/trpc/nope']) {
      const res = await s.request.get(path).set('Authorization', `Bearer ${s.tokens.write}`);
      expect(res.headers['content-type'], path).toMatch(/json/);
      expect(res.status, path).toBeGreaterThanOrEqual(400);
    }
  });

  it('token sign-in sets an HttpOnly SameSite=Strict cookie; the session reads the API; sign-out ends it', async () => {
    const bad = await s.request.post('/api/v4/ui/session').set(UI).send({ token: 'nope' });
    expect(bad.status).toBe(401);
    expect(bad.headers['set-cookie']).toBeUndefined();
    const res = await s.request.post('/api/v4/ui/session').set(UI).send({ token: s.tokens.write });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ user: { username: 'developer', isAdmin: false }, scopes: ['api', 'read_api'] });
    const set = String(res.headers['set-cookie']);
    expect(set).toMatch(/^mltrack_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    const cookie = cookieOf(res);
    // stored only as a digest
    const rows = await s.t.db('ui_sessions').select('session_digest');
    expect(rows.map((r) => r.session_digest)).not.toContain(cookie.split('=')[1]);
    const me = await s.request.get('/api/v4/ui/session').set('Cookie', cookie);
    expect(me.body.user.username).toBe('developer');
    const exps = await s.request.get(`${s.mlflow()}/experiments/list`).set('Cookie', cookie);
    expect(exps.status).toBe(200);
    const out = await s.request.delete('/api/v4/ui/session').set('Cookie', cookie).set(UI);
    expect(out.status).toBe(200);
    expect(String(out.headers['set-cookie'])).toMatch(/mltrack_session=; .*Max-Age=0/);
    const after = await s.request.get(`${s.mlflow()}/experiments/list`).set('Cookie', cookie);
    expect(after.status).toBe(401);
  });

  it('a cookie-authenticated write needs the UI header or a same-origin Origin', async () => {
    const cookie = cookieOf(await s.request.post('/api/v4/ui/session').set(UI).send({ token: s.tokens.write }));
    const url = `${s.mlflow()}/experiments/create`;
    const crossSite = await s.request.post(url).set('Cookie', cookie).set('Origin', 'https://evil.example').send({ name: 'csrf' });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body.error_code).toBe('PERMISSION_DENIED');
    const noProof = await s.request.post(url).set('Cookie', cookie).send({ name: 'csrf' });
    expect(noProof.status).toBe(403);
    const sameOrigin = await s.request.post(url).set('Cookie', cookie).set('Origin', s.baseUrl).send({ name: 'ok-origin' });
    expect(sameOrigin.status).toBe(200);
    const header = await s.request.post(url).set('Cookie', cookie).set(UI).send({ name: 'ok-header' });
    expect(header.status).toBe(200);
    // sign-in itself needs the proof too (no login CSRF)
    expect((await s.request.post('/api/v4/ui/session').send({ token: s.tokens.write })).status).toBe(403);
  });

  it('revoking the token ends its session at once; losing membership closes the project', async () => {
    const made = await createToken(s.t.db, { userId: (await getUserByUsername(s.t.db, 'developer'))!.id, name: 'ui', scopes: ['api'] });
    const cookie = cookieOf(await s.request.post('/api/v4/ui/session').set(UI).send({ token: made.token }));
    expect((await s.request.get('/api/v4/ui/session').set('Cookie', cookie)).status).toBe(200);
    await revokeToken(s.t.db, made.row.id);
    expect((await s.request.get('/api/v4/ui/session').set('Cookie', cookie)).status).toBe(401);
    expect((await s.request.get(`${s.mlflow()}/experiments/list`).set('Cookie', cookie)).status).toBe(401);

    const guest = cookieOf(await s.request.post('/api/v4/ui/session').set(UI).send({ token: s.tokens.guest }));
    expect((await s.request.get(`${s.mlflow()}/experiments/list`).set('Cookie', guest)).status).toBe(200);
    const write = await s.request.post(`${s.mlflow()}/experiments/create`).set('Cookie', guest).set(UI).send({ name: 'guest-write' });
    expect(write.status).toBe(403);
    await removeMember(s.t.db, s.project.id, (await getUserByUsername(s.t.db, 'guest'))!.id);
    const gone = await s.request.get(`${s.mlflow()}/experiments/list`).set('Cookie', guest);
    expect(gone.status).toBe(404);
  });

  it('username and password sign-in (scrypt digest); wrong password refused', async () => {
    const u = (await getUserByUsername(s.t.db, 'reporter'))!;
    await setPassword(s.t.db, u.id, 'correct horse battery');
    const row = await s.t.db('users').where({ id: u.id }).first('password_digest');
    expect(row.password_digest).toMatch(/^scrypt\$32768\$8\$3\$[\w-]{22}\$[\w-]{43}$/);
    expect((await s.request.post('/api/v4/ui/session').set(UI).send({ username: 'reporter', password: 'wrong' })).status).toBe(401);
    expect((await s.request.post('/api/v4/ui/session').set(UI).send({ username: 'nobody', password: 'x' })).status).toBe(401);
    const ok = await s.request.post('/api/v4/ui/session').set(UI).send({ username: 'reporter', password: 'correct horse battery' });
    expect(ok.status).toBe(200);
    expect(ok.body.user.username).toBe('reporter');
  });

  it('Secure cookie when PUBLIC_URL is https', async () => {
    const h = await startServer(kind, { PUBLIC_URL: 'https://ml.example.com' });
    try {
      const res = await h.request.post('/api/v4/ui/session').set(UI).send({ token: h.tokens.write });
      expect(String(res.headers['set-cookie'])).toMatch(/; Secure$/);
    } finally {
      await h.close();
    }
  });

  it('the artifact proxy answers Range requests', async () => {
    const auth = { Authorization: `Bearer ${s.tokens.write}` };
    const run = await s.request.post(`${s.mlflow()}/runs/create`).set(auth).send({ experiment_id: '0' });
    const root = String(run.body.run.info.artifact_uri).replace('mlflow-artifacts:/', '');
    const url = `/api/v4/projects/${s.project.id}/ml/mlflow/api/2.0/mlflow-artifacts/artifacts/${root}/log.txt`;
    expect((await s.request.put(url).set(auth).set('Content-Type', 'application/octet-stream').send(Buffer.from('0123456789'))).status).toBe(200);
    const part = await s.request.get(url).set(auth).set('Range', 'bytes=2-5').buffer(true).parse((r, cb) => { let d = ''; r.on('data', (c) => (d += c)); r.on('end', () => cb(null, d)); });
    expect(part.status).toBe(206);
    expect(part.body).toBe('2345');
    expect(part.headers['content-range']).toBe('bytes 2-5/10');
    const tail = await s.request.get(url).set(auth).set('Range', 'bytes=-3').buffer(true).parse((r, cb) => { let d = ''; r.on('data', (c) => (d += c)); r.on('end', () => cb(null, d)); });
    expect(tail.body).toBe('789');
    expect((await s.request.get(url).set(auth).set('Range', 'bytes=20-')).status).toBe(416);
    const whole = await s.request.get(url).set(auth);
    expect(whole.status).toBe(200);
    expect(whole.headers['accept-ranges']).toBe('bytes');
  });
});
