import type { Db } from '../db/knex.ts';
import { countUsers, createUser } from '../db/users.ts';
import { createProject } from '../db/projects.ts';
import { createToken } from '../db/tokens.ts';

export interface BootstrapResult {
  created: boolean;
  token?: string;
  projectId?: number;
}

/**
 * On the first start against an empty database: an admin user, project 1 (path `default`) owned by the admin, and an
 * admin token with scope `api` (MLTRACK_INITIAL_TOKEN's value if set). Later starts change nothing.
 */
export async function bootstrap(db: Db, initialToken?: string): Promise<BootstrapResult> {
  if ((await countUsers(db)) > 0) return { created: false };
  const admin = await createUser(db, { username: 'admin', name: 'Administrator', isAdmin: true });
  const project = await createProject(db, { path: 'default', name: 'Default', ownerId: admin.id });
  const { token } = await createToken(db, { userId: admin.id, name: 'initial admin token', scopes: ['api'], value: initialToken });
  return { created: true, token, projectId: project.id };
}

