/**
 * The trust rule of SPEC §9 extended from the manifest to what it runs (issue 17): a helper's
 * executable, and every directory the kernel walks to reach it, must be owner-only — owned by
 * root or the daemon's user and not writable by group or others — as sshd's StrictModes asks of
 * `authorized_keys`. Otherwise whoever can write `tools/` swaps the script and runs code as the
 * daemon. The walk follows the path as the kernel would: a symlink on the way is trusted only
 * because the directory holding it is, and its target is walked in turn. Directories from the
 * volume root down are checked for a helper inside the volume (the root is the admin's choice),
 * from `/` down for one outside it. A sticky directory (like /tmp) may be crossed: others cannot
 * rename or remove what it holds. Because nobody else can change anything checked, the answer
 * still holds when the helper is executed right after (it is checked again before every run).
 */
import path from 'node:path';
import type { FileStat, FsAdapter } from '../adapters/types.js';
import { isInside } from './path-rules.js';

/** What the check needs to know besides the file system. */
export interface HelperTrustOptions {
  /** The volume root (the helper's cwd). */
  root: string;
  /** Besides root (uid 0), the one owner a trusted file may have. */
  daemonUid: number;
  /** The `PATH` the helper gets, to find a bare command name as `spawn` will. */
  searchPath: string;
}

const GROUP_OR_WORLD_WRITABLE = 0o022;
const STICKY = 0o1000;
const ANY_EXECUTE = 0o111;
/** Linux's MAXSYMLINKS. */
const MAX_HOPS = 40;

/**
 * Why `argv0` must not be run, as one line saying what to fix; `null` when it may (or when it
 * does not exist: starting it then fails as "not found", counted like any helper that cannot start).
 *
 * @example
 * await vetHelper(fs, './tools/build.sh', { root: '/vol', daemonUid: 0, searchPath: '/usr/bin:/bin' });
 * // 'tools is owned by uid 65534, not by root or the daemon's user: chown it, or keep the helper in an owner-only directory'
 */
export async function vetHelper(fs: FsAdapter, argv0: string, options: HelperTrustOptions): Promise<string | null> {
  const executable = argv0.includes('/') ? path.resolve(options.root, argv0) : await findInPath(fs, argv0, options.searchPath);
  if (executable === null) return null;
  return vetPath(fs, executable, options, 0);
}

async function vetPath(fs: FsAdapter, target: string, options: HelperTrustOptions, hops: number): Promise<string | null> {
  if (hops > MAX_HOPS) return `${shown(target, options)} goes through more than ${MAX_HOPS} symlinks`;
  const anchor = isInside(target, options.root) ? options.root : '/';
  const anchorStat = await fs.lstat(anchor);
  if (anchorStat === null) return null;
  const anchorProblem = untrustedDir(anchor, anchorStat, options);
  if (anchorProblem !== null) return anchorProblem;
  const names = path.relative(anchor, target).split('/').filter((n) => n !== '');
  let dir = anchor;
  for (const [i, name] of names.entries()) {
    const at = path.join(dir, name);
    const stat = await fs.lstat(at);
    if (stat === null) return null;
    if (stat.kind === 'symlink') {
      const link = await fs.readlink(at);
      if (link === null) return null;
      return vetPath(fs, path.resolve(dir, link, ...names.slice(i + 1)), options, hops + 1);
    }
    const last = i === names.length - 1;
    const problem = last ? untrustedFile(at, stat, options) : untrustedDir(at, stat, options);
    if (problem !== null) return problem;
    dir = at;
  }
  return null;
}

function untrustedDir(at: string, stat: FileStat, options: HelperTrustOptions): string | null {
  if (stat.kind !== 'dir') return null; // Not a directory: the exec fails as ENOTDIR, like any missing helper.
  const owner = untrustedOwner(at, stat, options);
  if (owner !== null) return owner;
  if ((stat.mode & GROUP_OR_WORLD_WRITABLE) !== 0 && (stat.mode & STICKY) === 0) {
    return `${shown(at, options)} is writable by group or others: run chmod go-w on it, or keep the helper in an owner-only directory`;
  }
  return null;
}

function untrustedFile(at: string, stat: FileStat, options: HelperTrustOptions): string | null {
  const owner = untrustedOwner(at, stat, options);
  if (owner !== null) return owner;
  if ((stat.mode & GROUP_OR_WORLD_WRITABLE) !== 0) return `${shown(at, options)} is writable by group or others: run chmod go-w on it`;
  return null;
}

function untrustedOwner(at: string, stat: FileStat, options: HelperTrustOptions): string | null {
  if (stat.uid === 0 || stat.uid === options.daemonUid) return null;
  return `${shown(at, options)} is owned by uid ${stat.uid}, not by root or the daemon's user: chown it, or keep the helper in an owner-only directory`;
}

/** The first executable regular file named `name` in `searchPath`, as `execvp` finds it. */
async function findInPath(fs: FsAdapter, name: string, searchPath: string): Promise<string | null> {
  for (const dir of searchPath.split(':')) {
    if (!path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, name);
    const stat = await fs.stat(candidate);
    if (stat?.kind === 'file' && (stat.mode & ANY_EXECUTE) !== 0) return candidate;
  }
  return null;
}

/** Paths inside the volume are shown relative to it (as the manifest names them), others absolute. */
function shown(at: string, options: HelperTrustOptions): string {
  if (at === options.root) return `the volume root ${at}`;
  return isInside(at, options.root) ? path.relative(options.root, at) : at;
}
