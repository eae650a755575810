// The admin CLI: npm run admin -- <command> [options]. Runs directly against the configured database.
import { parseArgs } from 'node:util';
import { loadConfig } from '../core/config.ts';
import { createDb, type Db } from '../db/knex.ts';
import { migrateLatest } from '../db/migrate.ts';
import { createUser, getUserByUsername, listUsers } from '../db/users.ts';
import { createProject, getProject, getProjectByPath, listMembers, listProjects, removeMember, setMember } from '../db/projects.ts';
import { createToken, listTokens, revokeToken, SCOPES, type Scope } from '../db/tokens.ts';
import { setPassword } from '../db/sessions.ts';
import { ACCESS, validateProjectPath, validateUsername, type RoleName } from '../core/accounts.ts';

const HELP = `mltrack admin CLI

  npm run admin -- user create --username NAME [--name "Full Name"] [--email E] [--admin]
  npm run admin -- user list
  npm run admin -- user password --user USERNAME     (reads the password from MLTRACK_PASSWORD or the first line of stdin)
  npm run admin -- project create --path group/project [--name N] [--visibility private|public] --owner USERNAME
  npm run admin -- project list
  npm run admin -- member add --project ID_OR_PATH --user USERNAME --role guest|reporter|developer|maintainer|owner
  npm run admin -- member remove --project ID_OR_PATH --user USERNAME
  npm run admin -- member list --project ID_OR_PATH
  npm run admin -- token create --user USERNAME --name NAME [--scopes api,read_api] [--expires YYYY-MM-DD]
  npm run admin -- token list [--user USERNAME]
  npm run admin -- token revoke --id ID

Uses DATABASE_URL / DATA_DIR like the server. A token is printed once; only its digest is stored.`;

class UsageError extends Error {}

/** One of the shared account rules (core/accounts.ts), its message prefixed with the option it checked. */
function check(option: string, rule: (v: string) => void, value: string | undefined): string {
  if (!value) throw new UsageError(`${option} is required`);
  try {
    rule(value);
  } catch (err) {
    throw new UsageError(`${option}: ${(err as Error).message}`);
  }
  return value;
}

async function userId(db: Db, username: string | undefined): Promise<number> {
  if (!username) throw new UsageError('--user is required');
  const u = await getUserByUsername(db, username);
  if (!u) throw new UsageError(`no user ${username}`);
  return u.id;
}

async function projectId(db: Db, ref: string | undefined): Promise<number> {
  if (!ref) throw new UsageError('--project is required');
  const p = /^\d+$/.test(ref) ? await getProject(db, Number(ref)) : await getProjectByPath(db, ref);
  if (!p) throw new UsageError(`no project ${ref}`);
  return p.id;
}

/** The new password: MLTRACK_PASSWORD, else the first line of stdin (never a command-line argument: shell history). */
async function readSecret(): Promise<string> {
  if (process.env.MLTRACK_PASSWORD) return process.env.MLTRACK_PASSWORD;
  if (process.stdin.isTTY) process.stderr.write('New password (input is shown; pipe it in to hide it): ');
  let data = '';
  for await (const chunk of process.stdin) {
    data += chunk;
    if (data.includes('\n')) break;
  }
  return data.split(/\r?\n/)[0] ?? '';
}

export async function runAdmin(db: Db, argv: string[], out: (line: string) => void, secret?: () => Promise<string>): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      username: { type: 'string' }, name: { type: 'string' }, email: { type: 'string' }, admin: { type: 'boolean' },
      path: { type: 'string' }, visibility: { type: 'string' }, owner: { type: 'string' }, project: { type: 'string' },
      user: { type: 'string' }, role: { type: 'string' }, scopes: { type: 'string' }, expires: { type: 'string' },
      id: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  const [noun, verb] = positionals;
  if (values.help || !noun) return out(HELP);
  const cmd = `${noun} ${verb ?? ''}`.trim();
  switch (cmd) {
    case 'user create': {
      const username = check('--username', validateUsername, values.username);
      const u = await createUser(db, { username, name: values.name, email: values.email, isAdmin: values.admin });
      return out(`created user ${u.username} (id ${u.id}${u.is_admin ? ', admin' : ''})`);
    }
    case 'user password': {
      const uid = await userId(db, values.user);
      const password = await (secret ?? readSecret)();
      if (!password || password.length < 8) throw new UsageError('the password needs at least 8 characters (MLTRACK_PASSWORD or stdin)');
      await setPassword(db, uid, password);
      // the password itself is never printed or logged
      return out(`password set for ${values.user}; sign in to the web UI with it`);
    }
    case 'user list':
      for (const u of await listUsers(db)) out(`${u.id}\t${u.username}\t${u.is_admin ? 'admin' : ''}`);
      return;
    case 'project create': {
      const path = check('--path', validateProjectPath, values.path);
      const vis = (values.visibility ?? 'private') as 'private' | 'public';
      if (vis !== 'private' && vis !== 'public') throw new UsageError('--visibility is private or public');
      const p = await createProject(db, { path, name: values.name, visibility: vis, ownerId: await userId(db, values.owner ?? 'admin') });
      return out(`created project ${p.path} (id ${p.id}, ${p.visibility}); tracking URI path: /api/v4/projects/${p.id}/ml/mlflow`);
    }
    case 'project list':
      for (const p of await listProjects(db)) out(`${p.id}\t${p.path}\t${p.visibility}`);
      return;
    case 'member add': {
      const role = values.role as RoleName;
      if (!(role in ACCESS)) throw new UsageError(`--role is one of ${Object.keys(ACCESS).join(', ')}`);
      const pid = await projectId(db, values.project);
      const uid = await userId(db, values.user);
      await setMember(db, pid, uid, ACCESS[role]);
      return out(`${values.user} is ${role} of project ${pid}`);
    }
    case 'member remove': {
      const pid = await projectId(db, values.project);
      const removed = await removeMember(db, pid, await userId(db, values.user));
      return out(removed ? `${values.user} is no longer a member of project ${pid}` : `${values.user} was not a member of project ${pid}`);
    }
    case 'member list': {
      const names = Object.fromEntries(Object.entries(ACCESS).map(([k, v]) => [v, k]));
      for (const m of await listMembers(db, await projectId(db, values.project))) out(`${m.user_id}\t${m.username}\t${names[m.access_level] ?? m.access_level}`);
      return;
    }
    case 'token create': {
      const scopes = (values.scopes ?? 'api').split(',').map((s) => s.trim()).filter(Boolean);
      if (!scopes.length || scopes.some((s) => !SCOPES.includes(s as Scope))) throw new UsageError('--scopes is a list of api, read_api');
      if (!values.name) throw new UsageError('--name is required');
      let expiresAt: number | undefined;
      if (values.expires) {
        expiresAt = Date.parse(values.expires);
        if (Number.isNaN(expiresAt)) throw new UsageError('--expires is a date, e.g. 2027-01-31');
      }
      const { token, row } = await createToken(db, { userId: await userId(db, values.user), name: values.name, scopes: scopes as Scope[], expiresAt });
      out(`token id ${row.id} (${row.scopes.join(',')}) — shown once:`);
      return out(token);
    }
    case 'token list': {
      const uid = values.user ? await userId(db, values.user) : undefined;
      for (const t of await listTokens(db, uid)) {
        const state = t.revoked_at ? 'revoked' : t.expires_at && t.expires_at <= Date.now() ? 'expired' : 'active';
        const used = t.last_used_at ? new Date(t.last_used_at).toISOString() : 'never';
        out(`${t.id}\tuser ${t.user_id}\t${t.name}\t${t.scopes.join(',')}\t${state}\tlast used ${used}`);
      }
      return;
    }
    case 'token revoke': {
      const id = Number(values.id);
      if (!Number.isInteger(id)) throw new UsageError('--id is required');
      return out((await revokeToken(db, id)) ? `revoked token ${id}` : `token ${id} not found or already revoked`);
    }
    default:
      throw new UsageError(`unknown command: ${cmd}\n\n${HELP}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const config = loadConfig();
  const db = createDb(config.databaseUrl, config.dataDir);
  try {
    await migrateLatest(db);
    await runAdmin(db, process.argv.slice(2), (l) => console.log(l));
  } catch (err) {
    console.error(err instanceof UsageError ? err.message : err);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  } finally {
    await db.destroy();
  }
}
