import type { Db } from '../db/knex.ts';
import { countUsers, createUser } from '../db/users.ts';
import { createProject } from '../db/projects.ts';
import { createToken } from '../db/tokens.ts';
import { isDuplicateKey, isRetryable } from '../db/tx.ts';

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
  try {
    // one transaction: servers started together on an empty database race here, and exactly one creates it all
    return await db.transaction(async (trx) => {
      // user 1 and project 1 on every engine: a Galera cluster's AUTO_INCREMENT would start at the node's offset
      const admin = await createUser(trx, { id: 1, username: 'admin', name: 'Administrator', isAdmin: true });
      const project = await createProject(trx, { id: 1, path: 'default', name: 'Default', ownerId: admin.id });
      const { token } = await createToken(trx, { userId: admin.id, name: 'initial admin token', scopes: ['api'], value: initialToken });
      return { created: true, token, projectId: project.id };
    });
  } catch (err) {
    // another server created the admin first (unique username), or won the race on Galera (certification conflict)
    if ((isDuplicateKey(err) || isRetryable(err)) && (await countUsers(db)) > 0) return { created: false };
    throw err;
  }
}

