/**
 * Use-time confinement (SPEC §3): a manifest path that passed the static rules may still leave
 * the volume through a symlink or a mount point. Each use resolves it against the real tree and
 * refuses anything outside the root's realpath or on another device than the root.
 */
import path from 'node:path';
import type { FsAdapter } from '../adapters/types.js';
import { checkRelativePath, isInside } from './path-rules.js';

/** A volume root resolved once per check: its realpath and device. */
export interface ConfinedRoot {
  root: string;
  real: string;
  dev: number;
}

/** On failure, `reason` is the full one-line message and `why` just the tail (`resolves outside the volume root`). */
export type ConfineResult = { ok: true; abs: string; real: string } | { ok: false; reason: string; why: string };

/**
 * Resolves the root's realpath and device; `null` when the root is gone.
 *
 * @example
 * const root = await resolveRoot(fs, '/vol');
 */
export async function resolveRoot(fs: FsAdapter, root: string): Promise<ConfinedRoot | null> {
  const real = await fs.realpath(root);
  if (real === null) return null;
  const stat = await fs.stat(real);
  if (stat === null || stat.kind !== 'dir') return null;
  return { root, real, dev: stat.dev };
}

/**
 * Where root-relative `rel` really points, provided that lies inside the root on its device.
 * `label` is the JSON path used in the reason (`caches[0].sources[1]`). A missing path is judged
 * by its nearest existing ancestor, so an output that does not exist yet can still be confined.
 *
 * @example
 * const r = await confinePath(fs, root, 'link', 'caches[0].sources[1]');
 * if (!r.ok) problems.push(r.reason);  // 'caches[0].sources[1] ("link"): resolves outside the volume root'
 */
export async function confinePath(fs: FsAdapter, root: ConfinedRoot, rel: string, label: string): Promise<ConfineResult> {
  const fail = (why: string): ConfineResult => ({ ok: false, reason: `${label} (${JSON.stringify(rel)}): ${why}`, why });
  const staticProblem = checkRelativePath(rel);
  if (staticProblem !== null) return fail(staticProblem);
  const abs = path.resolve(root.root, rel);
  const resolved = await resolveExisting(fs, abs);
  if (resolved === null) return fail('is a symlink that does not resolve');
  if (!isInside(resolved.real, root.real)) return fail('resolves outside the volume root');
  if (resolved.dev !== root.dev) return fail('is on another device');
  return { ok: true, abs, real: resolved.real };
}

/**
 * Shorthand for one path: resolves the root, then confines `rel`.
 *
 * @example
 * await confine(fs, '/vol', 'cache/out.txt', 'caches[0].output');
 */
export async function confine(fs: FsAdapter, root: string, rel: string, label: string): Promise<ConfineResult> {
  const confined = await resolveRoot(fs, root);
  if (confined === null) {
    const why = 'the volume root cannot be resolved';
    return { ok: false, reason: `${label} (${JSON.stringify(rel)}): ${why}`, why };
  }
  return confinePath(fs, confined, rel, label);
}

/**
 * The real path of `abs` and the device it is (or would be created) on: the path itself when it
 * exists, else its nearest existing ancestor's realpath plus the missing tail. `null` when an
 * existing entry on the way is a symlink that does not resolve (we cannot tell where it points).
 */
async function resolveExisting(fs: FsAdapter, abs: string): Promise<{ real: string; dev: number } | null> {
  let existing = abs;
  const tail: string[] = [];
  while ((await fs.lstat(existing)) === null) {
    const parent = path.dirname(existing);
    if (parent === existing) return null;
    tail.unshift(path.basename(existing));
    existing = parent;
  }
  const real = await fs.realpath(existing);
  if (real === null) return null;
  const stat = await fs.stat(real);
  if (stat === null) return null;
  return { real: path.join(real, ...tail), dev: stat.dev };
}
