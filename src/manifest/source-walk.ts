/**
 * Finds the regular files a manifest entry stands for (SPEC §3 `sources`): a file, everything
 * under a directory, or what a glob matches below its static base. Anything refused is reported,
 * never thrown.
 *
 * Confinement holds across the read, not only when a path is resolved: each directory is opened
 * once (an `FsHandle`), checked to lie inside the root on its device, and then read through that
 * handle: its entries are listed and `lstat`ed inside *that* directory and its subdirectories are
 * opened from it without following symlinks. A directory swapped for a symlink to a secret one
 * after it was checked (renameat2 RENAME_EXCHANGE, issue 17) cannot redirect the walk; a
 * directory moved out of the root while it was read is dropped. A symlinked file counts only when
 * the file a handle reached through it lies inside the root.
 */
import path from 'node:path';
import type { FileStat, FsAdapter, FsHandle } from '../adapters/types.js';
import { confinePath, type ConfinedRoot } from './confine.js';
import { compileGlob, couldMatchBelow, matchGlob } from './glob.js';
import { globBase, isGlobPattern, isInside, normalizeRelative } from './path-rules.js';

/** One regular file found by a walk: its root-relative path (as named, not resolved) and its stat. */
export interface WalkedFile {
  rel: string;
  mtimeNs: bigint;
  /** Read through a handle on the file's verified directory (for a symlink: on the file reached). */
  stat: FileStat;
}

/** What a walk needs besides the path: where it may go and what it must skip. */
export interface WalkContext {
  fs: FsAdapter;
  root: ConfinedRoot;
  /** Real paths whose contents never count (cache outputs). */
  excluded: readonly string[];
  /** Collects one-line confinement problems (they go to `status.error`). */
  problems: Set<string>;
}

type Visit = (file: WalkedFile) => void;
type Filter = (rel: string) => boolean;

/**
 * Calls `visit` for every regular file that source entry `source` covers.
 * `label` is the entry's JSON path (`caches[0].sources[1]`), used in problem messages.
 *
 * @example
 * await walkSource(ctx, 'docs', 'caches[0].sources[0]', (f) => newest = max(newest, f.mtimeNs));
 */
export async function walkSource(ctx: WalkContext, source: string, label: string, visit: Visit): Promise<void> {
  if (!isGlobPattern(source)) return walkEntry(ctx, source, label, visit, () => true);
  const glob = compileGlob(normalizeRelative(source));
  const accepts = (rel: string): boolean => matchGlob(glob, rel);
  await walkEntry(ctx, globBase(source), label, visit, accepts, (rel) => couldMatchBelow(glob, rel));
}

/**
 * Calls `visit` for every regular file at or under root-relative `rel` (the entry itself may be
 * a symlink, once confined). `accepts` filters files before a symlink is followed, so a glob only
 * reports problems for files it would have counted; `descends` skips subtrees that cannot match.
 */
export async function walkEntry(ctx: WalkContext, rel: string, label: string, visit: Visit, accepts: Filter, descends: Filter = () => true): Promise<void> {
  const opened = await openConfined(ctx, rel, label, ctx.problems);
  if (opened === null) return;
  const relName = normalizeRelative(rel);
  try {
    const { stat } = opened.handle;
    if (stat.kind === 'file' && accepts(relName)) visit({ rel: relName, mtimeNs: stat.mtimeNs, stat });
    if (stat.kind === 'dir') await walkDir(ctx, opened.handle, opened.real, relName, label, visit, accepts, descends);
  } finally {
    await opened.handle.close();
  }
}

/**
 * The stat of the file or directory root-relative `rel` names, taken through a handle whose
 * place was verified inside the root (`null` when missing or refused). `problems`, when given,
 * collects why it was refused.
 *
 * @example
 * const out = await statInside(ctx, 'cache/out.txt', 'caches[0].output');
 */
export async function statInside(ctx: WalkContext, rel: string, label: string, problems: Set<string> | null = null): Promise<FileStat | null> {
  const opened = await openConfined(ctx, rel, label, problems);
  if (opened === null) return null;
  await opened.handle.close();
  return opened.handle.stat;
}

async function walkDir(
  ctx: WalkContext,
  dir: FsHandle,
  real: string,
  relDir: string,
  label: string,
  visit: Visit,
  accepts: Filter,
  descends: Filter,
): Promise<void> {
  const names = await dir.list();
  if (names === null) return;
  const entries: Array<{ name: string; rel: string; real: string; stat: FileStat }> = [];
  for (const name of names) {
    const childReal = path.join(real, name);
    if (isExcluded(ctx, childReal)) continue;
    const stat = await dir.lstatAt(name);
    if (stat !== null) entries.push({ name, rel: relDir === '.' ? name : `${relDir}/${name}`, real: childReal, stat });
  }
  // Identity across the read: the directory held must still lie inside the root (not moved out).
  const now = await dir.where();
  if (now === null || !isInside(now, ctx.root.real)) return;
  for (const entry of entries) {
    const { stat, rel } = entry;
    if (stat.dev !== ctx.root.dev) {
      if (stat.kind === 'dir' || accepts(rel)) ctx.problems.add(`${label} (${JSON.stringify(rel)}): is on another device`);
    } else if (stat.kind === 'dir') {
      if (descends(rel)) await walkChildDir(ctx, dir, entry, label, visit, accepts, descends);
    } else if (stat.kind === 'file') {
      if (accepts(rel)) visit({ rel, mtimeNs: stat.mtimeNs, stat });
    } else if (stat.kind === 'symlink' && accepts(rel)) {
      await visitSymlink(ctx, rel, label, visit);
    }
  }
}

/** Opens a subdirectory from its parent's handle (a symlink swapped in is not followed) and walks it. */
async function walkChildDir(
  ctx: WalkContext,
  parent: FsHandle,
  entry: { name: string; rel: string; real: string; stat: FileStat },
  label: string,
  visit: Visit,
  accepts: Filter,
  descends: Filter,
): Promise<void> {
  const child = await parent.openAt(entry.name);
  if (child === null) return;
  try {
    // Replaced since its lstat (by anything, a symlink included): the watcher reports that change.
    const same = child.stat.kind === 'dir' && child.stat.dev === entry.stat.dev && child.stat.ino === entry.stat.ino;
    if (same) await walkDir(ctx, child, entry.real, entry.rel, label, visit, accepts, descends);
  } finally {
    await child.close();
  }
}

/** A symlink met during a walk counts only if it is a confined regular file (dirs are not followed). */
async function visitSymlink(ctx: WalkContext, rel: string, label: string, visit: Visit): Promise<void> {
  const opened = await openConfined(ctx, rel, label, ctx.problems);
  if (opened === null) return;
  await opened.handle.close();
  const { stat } = opened.handle;
  if (stat.kind === 'file') visit({ rel, mtimeNs: stat.mtimeNs, stat });
}

/**
 * Opens root-relative `rel` (following symlinks) and checks where the object opened really lies:
 * inside the root, on its device, not excluded. Checking the handle, not the path, is what makes
 * the answer hold for everything later read through it.
 */
async function openConfined(
  ctx: WalkContext,
  rel: string,
  label: string,
  problems: Set<string> | null,
): Promise<{ handle: FsHandle; real: string } | null> {
  const refuse = (why: string): null => {
    problems?.add(`${label} (${JSON.stringify(rel)}): ${why}`);
    return null;
  };
  const confined = await confinePath(ctx.fs, ctx.root, rel, label);
  if (!confined.ok) return refuse(confined.why);
  if (isExcluded(ctx, confined.real)) return null;
  const handle = await ctx.fs.open(confined.real);
  if (handle === null) return null;
  const where = await handle.where();
  const why = where === null
    ? (await ctx.fs.lstat(confined.real)) === null ? null : 'cannot be verified in place (is /proc mounted?)'
    : !isInside(where, ctx.root.real) ? 'resolves outside the volume root'
      : handle.stat.dev !== ctx.root.dev ? 'is on another device' : null;
  if (where === null || why !== null || isExcluded(ctx, where)) {
    await handle.close();
    return why === null ? null : refuse(why);
  }
  return { handle, real: where };
}

function isExcluded(ctx: WalkContext, real: string): boolean {
  return ctx.excluded.some((out) => isInside(real, out));
}
