import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import supertest from 'supertest';
import { createApp } from '../../server/app.ts';
import { answerParserErrors, httpServer } from '../../server/http.ts';
import { loadConfig } from '../../core/config.ts';
import { bootstrap } from '../../server/bootstrap.ts';
import { createUser } from '../../db/users.ts';
import { createProject, setMember } from '../../db/projects.ts';
import { createToken } from '../../db/tokens.ts';
import { ACCESS } from '../../core/accounts.ts';
import { freshDb, type DbKind, type TestDb } from './db.ts';

export interface TestServer {
  kind: DbKind;
  t: TestDb;
  baseUrl: string;
  request: ReturnType<typeof supertest>;
  /** tokens by role, as in GitLab's request spec */
  tokens: {
    admin: string;
    /** developer in `project` and `another`: api + read_api */
    write: string;
    /** developer, read_api only */
    read: string;
    /** a user who is no member of `project` */
    stranger: string;
    /** reporter in `project` (may read, not write) */
    reporter: string;
    /** guest in `project` */
    guest: string;
    expired: string;
    revoked: string;
  };
  /** the private project the developer works in, and another one they are also a member of */
  project: { id: number; path: string };
  another: { id: number; path: string };
  /** a public project owned by the admin */
  publicProject: { id: number; path: string };
  /** MLflow base path of a project: /api/v4/projects/<id>/ml/mlflow/api/2.0/mlflow */
  mlflow(project?: { id: number } | string): string;
  /** A new private project (owned by the admin) with the developer as a member: experiment numbers start afresh. */
  developerProject(path: string): Promise<{ id: number; path: string }>;
  close(): Promise<void>;
}

export async function startServer(kind: DbKind, env: Record<string, string> = {}): Promise<TestServer> {
  const t = await freshDb(kind);
  const config = loadConfig({ DATA_DIR: t.dataDir, ...env });
  const db = t.db;
  const boot = await bootstrap(db, 'admin-token');
  const dev = await createUser(db, { username: 'developer' });
  const other = await createUser(db, { username: 'stranger' });
  const rep = await createUser(db, { username: 'reporter' });
  const gst = await createUser(db, { username: 'guest' });
  const project = await createProject(db, { path: 'group/project', ownerId: 1 });
  const another = await createProject(db, { path: 'group/another', ownerId: 1 });
  const publicProject = await createProject(db, { path: 'open/public', ownerId: 1, visibility: 'public' });
  await setMember(db, project.id, dev.id, ACCESS.developer);
  await setMember(db, another.id, dev.id, ACCESS.developer);
  await setMember(db, project.id, rep.id, ACCESS.reporter);
  await setMember(db, project.id, gst.id, ACCESS.guest);
  const tok = async (userId: number, scopes: ('api' | 'read_api')[], extra: { expiresAt?: number } = {}) =>
    (await createToken(db, { userId, name: 't', scopes, ...extra })).token;
  const revoked = await createToken(db, { userId: dev.id, name: 'revoked', scopes: ['api'] });
  const { revokeToken } = await import('../../db/tokens.ts');
  await revokeToken(db, revoked.row.id);
  const tokens = {
    admin: boot.token!,
    write: await tok(dev.id, ['api', 'read_api']),
    read: await tok(dev.id, ['read_api']),
    stranger: await tok(other.id, ['api']),
    reporter: await tok(rep.id, ['api']),
    guest: await tok(gst.id, ['api']),
    expired: await tok(dev.id, ['api'], { expiresAt: Date.now() - 1000 }),
    revoked: revoked.token,
  };
  const app = createApp({ db, config });
  const server: Server = await new Promise((resolve) => {
    const s = httpServer(app).listen(0, '127.0.0.1', () => resolve(s));
  });
  answerParserErrors(server);
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    kind,
    t,
    baseUrl,
    request: supertest(baseUrl),
    tokens,
    project: { id: project.id, path: project.path },
    another: { id: another.id, path: another.path },
    publicProject: { id: publicProject.id, path: publicProject.path },
    mlflow(p = project) {
      const id = typeof p === 'string' ? encodeURIComponent(p) : String(p.id);
      return `/api/v4/projects/${id}/ml/mlflow/api/2.0/mlflow`;
    },
    async developerProject(path: string) {
      const p = await createProject(db, { path, ownerId: 1 });
      await setMember(db, p.id, dev.id, ACCESS.developer);
      return { id: p.id, path: p.path };
    },
    async close() {
      await new Promise((r) => server.close(r));
      await t.drop();
    },
  };
}
