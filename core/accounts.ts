/**
 * The rules for account names, shared by the admin procedures and the admin CLI (one implementation): usernames
 * and project paths as GitLab allows them, roles as GitLab's access levels. Each check throws MLflow's
 * INVALID_PARAMETER_VALUE with a message that says what is allowed.
 */
import { invalidParam } from './errors.ts';

/** GitLab's access levels. */
export const ACCESS = { guest: 10, reporter: 20, developer: 30, maintainer: 40, owner: 50 } as const;
export type RoleName = keyof typeof ACCESS;
export const ROLE_NAMES = Object.keys(ACCESS) as [RoleName, ...RoleName[]];

const USERNAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;
const PROJECT_PATH_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/;
export const MAX_PROJECT_PATH_LENGTH = 255;

export function validateUsername(username: string): void {
  if (!USERNAME_RE.test(username)) {
    throw invalidParam(`Invalid username '${username}': 1 to 255 letters, digits, '_', '.' or '-', not starting with '.' or '-'.`);
  }
}

/** A path of segments like `group/project`; never only digits, which would read as a project id in URLs. */
export function validateProjectPath(path: string): void {
  if (path.length > MAX_PROJECT_PATH_LENGTH || !PROJECT_PATH_RE.test(path)) {
    throw invalidParam(
      `Invalid project path '${path}': segments of letters, digits, '_', '.' or '-' separated by '/', ` +
        `at most ${MAX_PROJECT_PATH_LENGTH} characters (e.g. group/project).`,
    );
  }
  if (/^\d+$/.test(path)) throw invalidParam('A project path cannot be only digits (it would read as an id).');
}
