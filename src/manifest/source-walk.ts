/**
 * Finds the regular files a manifest entry stands for (SPEC §3 `sources`): a file, everything
 * under a directory, or what a glob matches below its static base. Walks with `lstat`, never
 * descends into symlinked directories or other devices, and counts a symlinked file only when it
 * resolves inside the volume. Anything refused is reported, never thrown.
 */
import path from 'node:path';
import type { FsAdapter } from '../adapters/types.js';
import { confinePath, type ConfinedRoot } from './confine.js';
import { globBase, isGlobPattern, isInside, normalizeRelative } from './path-rules.js';
import { globMatcher } from './glob.js';

/** One regular file found by a walk: its root-relative path (as named, not resolved) and mtime. */
export interface WalkedFile {
  rel: string;
  mtimeNs: bigint;
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

/**
 * Calls `visit` for every regular file that source entry `source` covers.
 * `label` is the entry's JSON path (`caches[0].sources[1]`), used in problem messages.
 *
 * @example
 * await walkSource(ctx, 'docs', 'caches[0].sources[0]', (f) => newest = max(newest, f));
 */
export async function walkSource(ctx: WalkContext, source: string, label: string, visit: (file: WalkedFile) => void): Promise<void> {
  if (isGlobPattern(source)) {
    const matches = globMatcher(normalizeRelative(source));
    await walkEntry(ctx, globBase(source), label, (file) => {
      if (matches(file.rel)) visit(file);
    }, matches);
    return;
  }
  await walkEntry(ctx, source, label, visit, () => true);
}

/**
 * Calls `visit` for every regular file at or under root-relative `rel` (the entry itself may be
 * a symlink, once confined). `accepts` filters files before they are resolved, so a glob only
 * reports problems for files it would have counted.
 */
export async function walkEntry(
  ctx: WalkContext,
  rel: string,
  label: string,
  visit: (file: WalkedFile) => void,
  accepts: (rel: string) => boolean,
): Promise<void> {
  const confined = await confinePath(ctx.fs, ctx.root, rel, label);
  if (!confined.ok) {
    ctx.problems.add(confined.reason);
    return;
  }
  if (isExcluded(ctx, confined.real)) return;
  const stat = await ctx.fs.stat(confined.real);
  if (stat === null) return;
  const relName = normalizeRelative(rel);
  if (stat.kind === 'file' && accepts(relName)) visit({ rel: relName, mtimeNs: stat.mtimeNs });
  if (stat.kind === 'dir') await walkDir(ctx, confined.abs, confined.real, label, visit, accepts);
}

async function walkDir(
  ctx: WalkContext,
  abs: string,
  real: string,
  label: string,
  visit: (file: WalkedFile) => void,
  accepts: (rel: string) => boolean,
): Promise<void> {
  const names = await ctx.fs.readdir(real);
  if (names === null) return;
  for (const name of names) {
    const childAbs = path.join(abs, name);
    const childReal = path.join(real, name);
    if (isExcluded(ctx, childReal)) continue;
    const stat = await ctx.fs.lstat(childReal);
    if (stat === null) continue;
    const rel = path.relative(ctx.root.root, childAbs);
    if (stat.dev !== ctx.root.dev) {
      if (stat.kind === 'dir' || accepts(rel)) ctx.problems.add(`${label} (${JSON.stringify(rel)}): is on another device`);
    } else if (stat.kind === 'dir') {
      await walkDir(ctx, childAbs, childReal, label, visit, accepts);
    } else if (stat.kind === 'file') {
      if (accepts(rel)) visit({ rel, mtimeNs: stat.mtimeNs });
    } else if (stat.kind === 'symlink' && accepts(rel)) {
      await visitSymlink(ctx, rel, label, visit);
    }
  }
}

/** A symlink met during a walk counts only if it is a confined regular file (dirs are not followed). */
async function visitSymlink(ctx: WalkContext, rel: string, label: string, visit: (file: WalkedFile) => void): Promise<void> {
  const confined = await confinePath(ctx.fs, ctx.root, rel, label);
  if (!confined.ok) {
    ctx.problems.add(confined.reason);
    return;
  }
  if (isExcluded(ctx, confined.real)) return;
  const target = await ctx.fs.stat(confined.real);
  if (target?.kind === 'file') visit({ rel, mtimeNs: target.mtimeNs });
}

function isExcluded(ctx: WalkContext, real: string): boolean {
  return ctx.excluded.some((out) => isInside(real, out));
}
