/**
 * Runs a helper as another user/group with no new privileges (issue 17): the argv is prefixed
 * with util-linux's `setpriv --no-new-privs --reuid --regid --init-groups|--clear-groups`.
 * Node's `spawn({ uid, gid })` could switch ids (libuv also drops supplementary groups) but cannot
 * set no_new_privs, so a setuid program the helper runs could regain privileges: without setpriv,
 * such a helper does not start. Switching away from root also empties the capability sets (the
 * kernel clears them on setresuid without SECBIT_KEEP_CAPS); no_new_privs keeps file
 * capabilities and setuid bits from handing them back.
 */
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';

export type RunAs = { user?: string; group?: string };
export type RunAsArgv = { ok: true; argv: string[] } | { ok: false; error: string };

/**
 * The argv that runs `argv` as `runAs`, found with the helper's `PATH` (where setpriv lives).
 *
 * @example
 * await runAsArgv({ user: 'nobody' }, ['./build.sh'], '/usr/bin:/bin');
 * // { ok: true, argv: ['/usr/bin/setpriv', '--no-new-privs', '--reuid=65534', '--regid=65534', '--init-groups', '--', './build.sh'] }
 */
export async function runAsArgv(runAs: RunAs, argv: string[], searchPath: string): Promise<RunAsArgv> {
  const setpriv = await findExecutable('setpriv', searchPath);
  if (setpriv === null) {
    return { ok: false, error: 'setpriv (util-linux) is needed to run a helper as another user with no new privileges: install util-linux' };
  }
  const user = runAs.user === undefined ? null : await lookupUser(runAs.user);
  if (runAs.user !== undefined && user === null) return { ok: false, error: `no such user ${JSON.stringify(runAs.user)}` };
  const gid = runAs.group === undefined ? user?.gid : await lookupGroup(runAs.group);
  if (runAs.group !== undefined && gid === undefined) return { ok: false, error: `no such group ${JSON.stringify(runAs.group)}` };
  if (gid === undefined) return { ok: false, error: `user ${JSON.stringify(runAs.user)} has no passwd entry: name its group too` };
  const ids = [...(user === null ? [] : [`--reuid=${user.uid}`]), `--regid=${gid}`];
  // A named user gets its supplementary groups (as login does); otherwise none are kept.
  const groups = user?.named ? '--init-groups' : '--clear-groups';
  return { ok: true, argv: [setpriv, '--no-new-privs', ...ids, groups, '--', ...argv] };
}

/** uid and primary gid of a user name (NSS, via getent) or a bare numeric uid. */
async function lookupUser(user: string): Promise<{ uid: number; gid: number | undefined; named: boolean } | null> {
  const entry = await getent('passwd', user);
  if (entry !== null) return { uid: Number(entry[2]), gid: Number(entry[3]), named: true };
  return /^\d+$/.test(user) ? { uid: Number(user), gid: undefined, named: false } : null;
}

async function lookupGroup(group: string): Promise<number | undefined> {
  const entry = await getent('group', group);
  if (entry !== null) return Number(entry[2]);
  return /^\d+$/.test(group) ? Number(group) : undefined;
}

/** The fields of one `getent DATABASE KEY` line, or `null` when there is none. */
function getent(database: 'passwd' | 'group', key: string): Promise<string[] | null> {
  return new Promise((resolve) => {
    execFile('getent', [database, key], { timeout: 10_000 }, (err, stdout) => {
      const line = err ? '' : stdout.split('\n')[0] ?? '';
      const fields = line.split(':');
      resolve(fields.length >= 4 && /^\d+$/.test(fields[2]) ? fields : null);
    });
  });
}

async function findExecutable(name: string, searchPath: string): Promise<string | null> {
  for (const dir of searchPath.split(':')) {
    if (!path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, name);
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  return null;
}
