/**
 * Who may have put a socket where it is (SPEC §9, issue 17): a socket is only as trustworthy as
 * the directories above it. As sshd's StrictModes and tmux do, every directory on the way must
 * be owned by us or root and writable by no one else; a sticky world-writable directory (`/tmp`)
 * is acceptable only above the socket's own directory, because in it no one else can rename or
 * remove what we own. Symlinks on the way must be ours or root's, and their targets pass the same
 * rules. The daemon checks before it listens (and creates what is missing, owner-only); clients
 * check before they connect, since Node exposes no SO_PEERCRED to ask the peer who it is.
 */
import { chmod, lstat, mkdir, realpath } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { WardenError } from '../errors.js';

/** Whose sockets and directories to trust: this uid and root (default: our effective uid). */
export interface TrustOptions {
  uid?: number;
}

/** How deep symlinks may chain before we give up (as the kernel's ELOOP limit). */
const MAX_SYMLINKS = 40;

/**
 * Creates the socket's directory and any missing parent (the socket's own directory with
 * `dirMode`, parents 0755, all exactly, whatever the umask), and throws `EPERM` with one line
 * saying what to fix when a directory it did not create could let another user swap the socket.
 *
 * @example
 * await prepareSocketDir('/run/volwarden/private/control.sock', 0o700, '--socket');
 */
export async function prepareSocketDir(socketPath: string, dirMode: number, flag: string, options: TrustOptions = {}): Promise<void> {
  const uid = options.uid ?? effectiveUid();
  const problem = await walk(path.dirname(path.resolve(socketPath)), { uid, create: dirMode, finalIsParent: false, depth: 0 });
  if (problem === NOT_A_DIRECTORY) throw notADirectory(socketPath);
  if (problem !== 'ok' && problem !== 'missing') throw untrustedForDaemon(socketPath, problem, uid, flag);
}

/**
 * The daemon's check before it even probes for a running daemon: the same rules as
 * {@link prepareSocketDir} on what exists, creating nothing. Throws `EPERM`.
 *
 * @example
 * await assertSocketDirTrusted('/tmp/volwarden-1000/private/control.sock', '--socket');
 */
export async function assertSocketDirTrusted(socketPath: string, flag: string, options: TrustOptions = {}): Promise<void> {
  const uid = options.uid ?? effectiveUid();
  const problem = await walk(path.dirname(path.resolve(socketPath)), { uid, finalIsParent: false, depth: 0 });
  if (problem !== 'ok' && problem !== 'missing' && problem !== NOT_A_DIRECTORY) throw untrustedForDaemon(socketPath, problem, uid, flag);
}

/**
 * A client's check before it connects: the socket file must be ours or root's and every directory
 * above it pass the rules above. A path that does not exist passes (the connect then fails as
 * `ECONNREFUSED`). Throws `EPERM` naming what is wrong, so nothing is ever sent to a fake daemon.
 *
 * @example
 * await assertTrustedSocket(process.env.VOLWARDEN_SOCKET ?? '/run/volwarden/private/control.sock');
 */
export async function assertTrustedSocket(socketPath: string, options: TrustOptions = {}): Promise<void> {
  const uid = options.uid ?? effectiveUid();
  const problem = await socketProblem(path.resolve(socketPath), uid, 0);
  // Nothing there (or a file in the way): the connect fails on its own as ECONNREFUSED.
  if (problem === 'ok' || problem === 'missing' || problem === NOT_A_DIRECTORY) return;
  throw new WardenError(
    'EPERM',
    `refusing to use socket ${socketPath}: ${problem}, so another user could have put a fake daemon there; ` +
      `trust needs the socket and every directory above it owned by uid ${uid} or root and not writable by others`,
  );
}

/** A path component that is a file: not a trust question, the OS error (ENOTDIR) says it better. */
const NOT_A_DIRECTORY = 'not a directory';

type Verdict = 'ok' | 'missing' | typeof NOT_A_DIRECTORY | string;

interface Walk {
  uid: number;
  /** Create missing directories; the last one gets this mode (parents 0755). */
  create?: number;
  /** The walk's last directory is itself only a parent (reached through a symlink above the socket's directory). */
  finalIsParent: boolean;
  depth: number;
}

async function socketProblem(socketPath: string, uid: number, depth: number): Promise<Verdict> {
  const dirVerdict = await walk(path.dirname(socketPath), { uid, finalIsParent: false, depth });
  if (dirVerdict !== 'ok') return dirVerdict;
  const st = await lstatOrNull(socketPath);
  if (st === null) return 'missing';
  const owner = ownerProblem(st, uid, `socket ${socketPath}`);
  if (owner) return owner;
  if (!st.isSymbolicLink()) return 'ok';
  if (depth >= MAX_SYMLINKS) return `too many symlinks at ${socketPath}`;
  const target = await realpath(socketPath).catch(() => null);
  return target === null ? 'missing' : socketProblem(target, uid, depth + 1);
}

// Walks `dir` from `/` down, one component at a time, so a symlink anywhere on the way is seen.
async function walk(dir: string, how: Walk): Promise<Verdict> {
  const parts = dir.split(path.sep).filter((p) => p !== '');
  const rootVerdict = judge(await lstat('/'), '/', how.uid, parts.length > 0 || how.finalIsParent);
  if (rootVerdict) return rootVerdict;
  let at = '/';
  for (const [i, part] of parts.entries()) {
    at = path.join(at, part);
    const isLast = i === parts.length - 1;
    const asParent = !isLast || how.finalIsParent;
    let st = await lstatOrNull(at);
    if (st === null) {
      if (how.create === undefined) return 'missing';
      if (await makeDir(at, isLast ? how.create : 0o755)) continue;
      st = await lstat(at); // someone else made it first: judge it like any existing one
    }
    if (st.isSymbolicLink()) {
      const owner = ownerProblem(st, how.uid, `symlink ${at}`);
      if (owner) return owner;
      if (how.depth >= MAX_SYMLINKS) return `too many symlinks at ${at}`;
      const target = await realpath(at).catch(() => null);
      if (target === null) return how.create === undefined ? 'missing' : `symlink ${at} points nowhere`;
      const verdict = await walk(target, { uid: how.uid, finalIsParent: asParent, depth: how.depth + 1 });
      if (verdict !== 'ok') return verdict;
      continue;
    }
    const problem = judge(st, at, how.uid, asParent);
    if (problem) return problem;
  }
  return 'ok';
}

// An existing directory: owned by us or root; writable by no one else (sticky is fine above the socket's own directory).
function judge(st: Stats, at: string, uid: number, asParent: boolean): string | null {
  if (!st.isDirectory()) return NOT_A_DIRECTORY;
  const owner = ownerProblem(st, uid, `directory ${at}`);
  if (owner) return owner;
  const writable = st.mode & 0o022;
  if (writable === 0) return null;
  // Sticky: others may add entries but never rename or remove ours, so what we own below it stays ours.
  if (asParent && (st.mode & 0o1000) !== 0) return null;
  const who = (st.mode & 0o002) !== 0 ? 'every user' : 'its group';
  return `directory ${at} is writable by ${who} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
}

function ownerProblem(st: Stats, uid: number, what: string): string | null {
  return st.uid === uid || st.uid === 0 ? null : `${what} is owned by uid ${st.uid}`;
}

// True when we created it (so it is ours, with exactly `mode`); false when it appeared meanwhile.
async function makeDir(at: string, mode: number): Promise<boolean> {
  try {
    await mkdir(at, { mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  // mkdir's mode passes through the umask; the directory must have exactly its mode.
  await chmod(at, mode);
  return true;
}

async function lstatOrNull(at: string): Promise<Stats | null> {
  try {
    return await lstat(at);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
}

// Shaped like the OS error, so the listener reports it as the unusable path it is.
function notADirectory(socketPath: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOTDIR: not a directory, on the way to ${socketPath}`), { code: 'ENOTDIR' });
}

function untrustedForDaemon(socketPath: string, problem: string, uid: number, flag: string): WardenError {
  return new WardenError(
    'EPERM',
    `refusing to listen on ${socketPath}: ${problem}, so another user could swap in their own socket; ` +
      `make it owned by uid ${uid} or root and not group- or world-writable (chmod go-w), or choose another ${flag}`,
  );
}

function effectiveUid(): number {
  return process.geteuid?.() ?? 0;
}
