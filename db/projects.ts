import type { Db } from './knex.ts';
import type { DbProjectMemberRow, DbProjectRow, ExperimentNumber } from './tables.ts';
import { withTransaction } from './tx.ts';
import { insertExperiment } from './experiments.ts';

export interface ProjectRow {
  id: number;
  path: string;
  name: string;
  visibility: 'private' | 'public';
  created_at: number;
}

type ProjectColumns = Pick<DbProjectRow, 'id' | 'path' | 'name' | 'visibility' | 'created_at'>;
const toProject = (r: ProjectColumns): ProjectRow => ({
  id: r.id,
  path: r.path,
  name: r.name,
  visibility: r.visibility as ProjectRow['visibility'],
  created_at: Number(r.created_at),
});

/**
 * Creates a project with its owner and MLflow's experiment "0" ("Default"), which MLflow clients use when no
 * experiment is chosen.
 */
export async function createProject(
  db: Db,
  /** `id` is chosen only by bootstrap: project 1 on every engine (AUTO_INCREMENT steps by 3 on Galera) */
  p: { id?: number; path: string; name?: string; visibility?: 'private' | 'public'; ownerId: number },
): Promise<ProjectRow> {
  return withTransaction(db, async (trx) => {
    const now = Date.now();
    const [id] = await trx<DbProjectRow>('projects').insert({
      ...(p.id !== undefined ? { id: p.id } : {}),
      path: p.path,
      name: p.name ?? p.path.split('/').pop()!,
      visibility: p.visibility ?? 'private',
      last_experiment_iid: 0,
      created_at: now,
    });
    const projectId = p.id ?? Number(id);
    await trx<DbProjectMemberRow>('project_members').insert({ project_id: projectId, user_id: p.ownerId, access_level: 50 });
    await insertExperiment(trx, { projectId, number: 0 as ExperimentNumber, name: 'Default', creatorId: p.ownerId });
    return toProject((await trx<DbProjectRow>('projects').where({ id: projectId }).first())!);
  });
}

export async function listProjects(db: Db): Promise<ProjectRow[]> {
  return (await db<DbProjectRow>('projects').orderBy('id')).map(toProject);
}

export async function getProject(db: Db, id: number): Promise<ProjectRow | undefined> {
  const r = await db<DbProjectRow>('projects').where({ id }).first();
  return r ? toProject(r) : undefined;
}

export async function getProjectByPath(db: Db, path: string): Promise<ProjectRow | undefined> {
  const r = await db<DbProjectRow>('projects').where({ path }).first();
  return r ? toProject(r) : undefined;
}

/** `:id` as a project id (number) or full path (string); undefined when it can name no project. */
export function projectKey(idOrPath: string): number | string | undefined {
  if (!/^\d+$/.test(idOrPath)) return idOrPath;
  // only the canonical decimal names a project: "01" names none (a path cannot be all digits either)
  if (!/^(0|[1-9]\d*)$/.test(idOrPath)) return undefined;
  const n = Number(idOrPath);
  if (!Number.isSafeInteger(n) || n > 2147483647) return undefined;
  return n;
}

/**
 * Resolves `:id` (a numeric id or a full path) and the user's access level in one query.
 * Returns undefined when there is no such project.
 */
export async function findProjectForUser(
  db: Db,
  idOrPath: string,
  userId: number,
): Promise<(ProjectRow & { access_level: number }) | undefined> {
  const q = db('projects as p')
    .leftJoin('project_members as m', function () {
      this.on('m.project_id', '=', 'p.id').andOn('m.user_id', '=', db.raw('?', [userId]));
    })
    .first('p.id', 'p.path', 'p.name', 'p.visibility', 'p.created_at', 'm.access_level');
  const key = projectKey(idOrPath);
  if (key === undefined) return undefined;
  if (typeof key === 'number') q.where('p.id', key);
  else q.where('p.path', idOrPath);
  const r: (ProjectColumns & { access_level: number | null }) | undefined = await q;
  return r ? { ...toProject(r), access_level: r.access_level ?? 0 } : undefined;
}

export async function setMember(db: Db, projectId: number, userId: number, accessLevel: number): Promise<void> {
  await db<DbProjectMemberRow>('project_members')
    .insert({ project_id: projectId, user_id: userId, access_level: accessLevel })
    .onConflict(['project_id', 'user_id'])
    .merge(['access_level']);
}

export async function removeMember(db: Db, projectId: number, userId: number): Promise<boolean> {
  return (await db<DbProjectMemberRow>('project_members').where({ project_id: projectId, user_id: userId }).del()) > 0;
}

export async function listMembers(db: Db, projectId: number): Promise<{ user_id: number; username: string; access_level: number }[]> {
  return db('project_members as m')
    .join('users as u', 'u.id', 'm.user_id')
    .where('m.project_id', projectId)
    .orderBy('u.id')
    .select('m.user_id', 'u.username', 'm.access_level');
}
