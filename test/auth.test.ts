import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { createProject } from '../db/projects.ts';
import { getUserByUsername } from '../db/users.ts';

/**
 * Who may do what: tokens (how they are sent, expiry, revocation, scopes) and project roles, over every
 * experiments/runs endpoint, with projects addressed by id and by URL-encoded path.
 */

type Project = { id: number; path: string };
type Role = 'write' | 'read' | 'stranger' | 'reporter' | 'guest' | 'admin';

const UNAUTHENTICATED = 'Authentication required: send a personal access token (Authorization: Bearer <token>).';
const PROJECT_NOT_FOUND = { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Project not found' };

describe.each(DB_KINDS)('authentication and access (%s)', (kind) => {
  let s: TestServer;
  /** a private project owned by the stranger: the admin is no member of it */
  let strangers: Project;
  /** a run in each project, created by someone allowed to */
  const runs = new Map<number, string>();
  let seq = 0;

  beforeAll(async () => {
    s = await startServer(kind);
    const stranger = await getUserByUsername(s.t.db, 'stranger');
    const p = await createProject(s.t.db, { path: 'strangers/own', ownerId: stranger!.id });
    strangers = { id: p.id, path: p.path };
    for (const [project, token] of [
      [s.project, s.tokens.admin],
      [s.another, s.tokens.admin],
      [s.publicProject, s.tokens.admin],
      [strangers, s.tokens.stranger],
    ] as const) {
      const res = await s.request.post(s.mlflow(project) + '/runs/create').set('Authorization', `Bearer ${token}`).send({});
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      runs.set(project.id, res.body.run.info.run_id);
    }
  });
  afterAll(async () => s?.close());

  const base = (p: Project | string, by: 'id' | 'path' = 'id') =>
    typeof p === 'string' ? s.mlflow(p) : by === 'id' ? s.mlflow(p) : s.mlflow(p.path);

  /** Every read endpoint, for one project. */
  const reads = (p: Project) => [
    ['/experiments/list', {}],
    ['/experiments/get', { experiment_id: '0' }],
    ['/experiments/get-by-name', { experiment_name: 'Default' }],
    ['/runs/get', { run_id: runs.get(p.id)! }],
  ] as const;

  /** Every write endpoint, for one project; bodies are fresh on each call. */
  const writes = (p: Project): [string, Record<string, unknown>][] => {
    const run_id = runs.get(p.id)!;
    const n = ++seq;
    return [
      ['/experiments/create', { name: `auth-${n}` }],
      ['/runs/create', { experiment_id: '0', run_name: `auth-${n}` }],
      ['/runs/update', { run_id, status: 'RUNNING' }],
      ['/runs/log-metric', { run_id, key: 'm', value: n, timestamp: n }],
      ['/runs/log-parameter', { run_id, key: `p${n}`, value: 'v' }],
      ['/runs/log-batch', { run_id, metrics: [{ key: 'b', value: n, timestamp: n }], params: [{ key: `bp${n}`, value: 'v' }] }],
    ];
  };

  const getAs = (token: string | undefined, url: string, query: Record<string, string>) => {
    const r = s.request.get(url).query(query);
    return token ? r.set('Authorization', `Bearer ${token}`) : r;
  };
  const postAs = (token: string | undefined, url: string, body: Record<string, unknown>) => {
    const r = s.request.post(url).send(body);
    return token ? r.set('Authorization', `Bearer ${token}`) : r;
  };

  function expectError(res: { status: number; body: any }, status: number, code: string) {
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(Object.keys(res.body).sort()).toEqual(['error_code', 'message']);
    expect(res.body.error_code).toBe(code);
    expect(typeof res.body.message).toBe('string');
  }

  async function canRead(role: Role, p: Project, by: 'id' | 'path') {
    for (const [path, query] of reads(p)) {
      const res = await getAs(s.tokens[role], base(p, by) + path, query);
      expect(res.status, `${role} GET ${path} on ${p.path} by ${by}: ${JSON.stringify(res.body)}`).toBe(200);
    }
  }

  async function cannotSee(role: Role, p: Project, by: 'id' | 'path') {
    for (const [path, query] of reads(p)) {
      const res = await getAs(s.tokens[role], base(p, by) + path, query);
      expect(res.status, `${role} GET ${path}`).toBe(404);
      expect(res.body).toEqual(PROJECT_NOT_FOUND);
    }
    for (const [path, body] of writes(p)) {
      const res = await postAs(s.tokens[role], base(p, by) + path, body);
      // the project is resolved before the operation's scope is checked: an invisible project is 404 for every token
      expect(res.status, `${role} POST ${path}`).toBe(404);
      expect(res.body).toEqual(PROJECT_NOT_FOUND);
    }
  }

  async function canWrite(role: Role, p: Project, by: 'id' | 'path') {
    for (const [path, body] of writes(p)) {
      const res = await postAs(s.tokens[role], base(p, by) + path, body);
      expect(res.status, `${role} POST ${path} on ${p.path} by ${by}: ${JSON.stringify(res.body)}`).toBe(200);
    }
  }

  async function cannotWrite(role: Role, p: Project, by: 'id' | 'path') {
    for (const [path, body] of writes(p)) {
      const res = await postAs(s.tokens[role], base(p, by) + path, body);
      expectError(res, 403, 'PERMISSION_DENIED');
      if (path === '/experiments/create') {
        const check = await getAs(adminFor(p), base(p) + '/experiments/get-by-name', { experiment_name: body.name as string });
        expect(check.status, 'a refused create must not create').toBe(404);
      }
      if (path === '/runs/log-parameter') {
        const run = await s.t.db('runs').where({ run_uuid: body.run_id }).first('id');
        expect(await s.t.db('params').where({ run_id: run.id, key: body.key }).first()).toBeUndefined();
      }
    }
  }
  /** a token that can read project p (for checks) */
  const adminFor = (p: Project) => (p.id === strangers.id ? s.tokens.stranger : s.tokens.admin);

  // ---------------------------------------------------------------------------------------------------------
  describe('tokens', () => {
    it('no token → 401 UNAUTHENTICATED, on reads and writes, before anything else', async () => {
      for (const [path, query] of reads(s.project)) {
        const res = await getAs(undefined, base(s.project) + path, query);
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ error_code: 'UNAUTHENTICATED', message: UNAUTHENTICATED });
      }
      for (const [path, body] of writes(s.project)) {
        const res = await postAs(undefined, base(s.project) + path, body);
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ error_code: 'UNAUTHENTICATED', message: UNAUTHENTICATED });
      }
      // even for a project that does not exist, or a malformed request
      expect((await getAs(undefined, base('no/such') + '/experiments/list', {})).status).toBe(401);
      expect((await postAs(undefined, base(s.project) + '/experiments/create', {})).status).toBe(401);
      // empty credentials are no credentials
      const empty = await s.request.get(base(s.project) + '/experiments/list').set('Authorization', 'Bearer ');
      expect(empty.status).toBe(401);
      const emptyHeader = await s.request.get(base(s.project) + '/experiments/list').set('PRIVATE-TOKEN', '');
      expect(emptyHeader.status).toBe(401);
    });

    it('unknown, expired and revoked tokens → 401 with the reason', async () => {
      const cases: [string, string][] = [
        ['mltpat-not-a-real-token', 'Invalid access token.'],
        [s.tokens.expired, 'Token is expired. You can either do re-authorization or token refresh.'],
        [s.tokens.revoked, 'Token was revoked. You have to re-authorize from the user.'],
      ];
      for (const [token, message] of cases) {
        const r1 = await getAs(token, base(s.project) + '/experiments/list', {});
        expect(r1.status).toBe(401);
        expect(r1.body).toEqual({ error_code: 'UNAUTHENTICATED', message });
        const r2 = await postAs(token, base(s.project) + '/experiments/create', { name: 'never' });
        expect(r2.status).toBe(401);
        expect(r2.body).toEqual({ error_code: 'UNAUTHENTICATED', message });
      }
      expect((await getAs(s.tokens.admin, base(s.project) + '/experiments/get-by-name', { experiment_name: 'never' })).status).toBe(404);
    });

    it('a token works as Bearer, PRIVATE-TOKEN header, ?private_token, and Basic password', async () => {
      const url = base(s.project) + '/experiments/list';
      const t = s.tokens.write;
      const ways = [
        s.request.get(url).set('Authorization', `Bearer ${t}`),
        s.request.get(url).set('Authorization', `bearer ${t}`),
        s.request.get(url).set('PRIVATE-TOKEN', t),
        s.request.get(url).query({ private_token: t }),
        s.request.get(url).set('Authorization', `Basic ${Buffer.from(`developer:${t}`).toString('base64')}`),
      ];
      for (const req of ways) {
        const res = await req;
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body.experiments.map((e: any) => e.name)).toContain('Default');
      }
      // writes too; private_token in the query is not taken for a request field
      const w1 = await s.request.post(base(s.project) + '/experiments/create').set('PRIVATE-TOKEN', t).send({ name: 'by header' });
      expect(w1.status).toBe(200);
      const w2 = await s.request.post(base(s.project) + '/experiments/create').query({ private_token: t }).send({ name: 'by query' });
      expect(w2.status).toBe(200);
      const g = await s.request.get(base(s.project) + '/experiments/get-by-name').query({ experiment_name: 'by query', private_token: t });
      expect(g.status).toBe(200);
      expect(g.body.experiment.experiment_id).toBe(w2.body.experiment_id);
    });

    it('a read_api token: every GET works, every write → 403 PERMISSION_DENIED and nothing is written', async () => {
      await canRead('read', s.project, 'id');
      await canRead('read', s.project, 'path');
      await cannotWrite('read', s.project, 'id');
      await cannotWrite('read', s.project, 'path');
    });

    it('a read_api token may search: MLflow clients send runs/search and experiments/search as POST', async () => {
      const t = s.tokens.read;
      const exps = await s.request.post(base(s.project) + '/experiments/search').set('Authorization', `Bearer ${t}`).send({ max_results: 10 });
      expect(exps.status).toBe(200);
      expect(exps.body.experiments.map((e: { name: string }) => e.name)).toContain('Default');
      const runs = await s.request.post(base(s.project) + '/runs/search').set('Authorization', `Bearer ${t}`).send({ experiment_ids: ['0'] });
      expect(runs.status).toBe(200);
      expect(runs.body.error_code).toBeUndefined();
      expect(Array.isArray(runs.body.runs ?? [])).toBe(true);
      const write = await s.request.post(base(s.project) + '/runs/create').set('Authorization', `Bearer ${t}`).send({ experiment_id: '0' });
      expect(write.status).toBe(403);
      expect(write.body.error_code).toBe('PERMISSION_DENIED');
    });
  });

  // ---------------------------------------------------------------------------------------------------------
  describe('project roles', () => {
    for (const by of ['id', 'path'] as const) {
      it(`developer reads and writes (by ${by})`, async () => {
        await canRead('write', s.project, by);
        await canWrite('write', s.project, by);
        await canWrite('write', s.another, by);
      });

      it(`reporter and guest read but cannot write (by ${by})`, async () => {
        for (const role of ['reporter', 'guest'] as const) {
          await canRead(role, s.project, by);
          await cannotWrite(role, s.project, by);
        }
      });

      it(`a stranger does not see a private project: 404 exactly like a missing project (by ${by})`, async () => {
        await cannotSee('stranger', s.project, by);
        await cannotSee('reporter', s.another, by); // a member of another project only
        await cannotSee('read', strangers, by);
        await cannotSee('write', strangers, by);
      });

      it(`anyone may read a public project, but not write to it (by ${by})`, async () => {
        for (const role of ['stranger', 'write', 'reporter', 'read'] as const) {
          await canRead(role, s.publicProject, by);
          await cannotWrite(role, s.publicProject, by);
        }
      });

      it(`an admin reads and writes everywhere, member or not (by ${by})`, async () => {
        for (const p of [s.project, s.publicProject, strangers]) {
          await canRead('admin', p, by);
          await canWrite('admin', p, by);
        }
      });
    }

    it('the owner of a project may write to it', async () => {
      const res = await postAs(s.tokens.stranger, base(strangers) + '/experiments/create', { name: 'mine' });
      expect(res.status).toBe(200);
    });

    it('a project that does not exist → 404 with the same body, by id or path', async () => {
      for (const id of ['999999', '0', '-1', '99999999999999999999', 'no%2Fsuch', 'nosuch', 'group%2Fproject%2Fdeeper']) {
        const r1 = await getAs(s.tokens.admin, `/api/v4/projects/${id}/ml/mlflow/api/2.0/mlflow/experiments/list`, {});
        expect(r1.status, id).toBe(404);
        expect(r1.body).toEqual(PROJECT_NOT_FOUND);
        const r2 = await postAs(s.tokens.write, `/api/v4/projects/${id}/ml/mlflow/api/2.0/mlflow/experiments/create`, { name: 'x' });
        expect(r2.status, id).toBe(404);
        expect(r2.body).toEqual(PROJECT_NOT_FOUND);
      }
      // the stranger's 404 on a private project is byte for byte the missing project's 404
      const hidden = await getAs(s.tokens.stranger, base(s.project) + '/experiments/list', {});
      const missing = await getAs(s.tokens.stranger, '/api/v4/projects/999999/ml/mlflow/api/2.0/mlflow/experiments/list', {});
      expect(hidden.status).toBe(404);
      expect(hidden.text).toBe(missing.text);
      expect(hidden.headers['content-type']).toBe(missing.headers['content-type']);
    });

    it('the path is matched exactly (case-sensitive, no partial match)', async () => {
      for (const path of ['GROUP/project', 'group/Project', 'group/projec', 'group/project ', 'group']) {
        const res = await getAs(s.tokens.admin, base(path) + '/experiments/list', {});
        expect(res.status, path).toBe(404);
      }
    });

    it('the root mount /api/2.0/mlflow serves the configured root project with the same rules', async () => {
      const ok = await getAs(s.tokens.admin, '/api/2.0/mlflow/experiments/list', {});
      expect(ok.status).toBe(200);
      expect(ok.body.experiments.map((e: any) => e.name)).toEqual(['Default']);
      const hidden = await getAs(s.tokens.write, '/api/2.0/mlflow/experiments/list', {});
      expect(hidden.status).toBe(404);
      expect(hidden.body).toEqual(PROJECT_NOT_FOUND);
      expect((await getAs(undefined, '/api/2.0/mlflow/experiments/list', {})).status).toBe(401);
    });
  });
});
