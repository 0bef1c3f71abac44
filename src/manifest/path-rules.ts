/**
 * The static rules every manifest path obeys (SPEC §3: the manifest is untrusted input).
 * These run at parse time, without touching the disk; `confine.ts` re-checks each path
 * against the real tree (symlinks, devices) at use time.
 */
import path from 'node:path';

/** Longest path a manifest may name, in UTF-8 bytes (PATH_MAX on Linux). */
export const MAX_PATH_BYTES = 4096;

/**
 * Why `p` is not an acceptable root-relative path, or `null` when it is.
 * Normalises first, so `a/../b` is fine while `a/../../b` escapes.
 *
 * @example
 * checkRelativePath('cache/out.txt');  // null
 * checkRelativePath('../etc/passwd');  // 'must not escape the volume root'
 */
export function checkRelativePath(p: string): string | null {
  if (p.length === 0) return 'must not be empty';
  if (p.includes('\0')) return 'must not contain NUL';
  if (Buffer.byteLength(p, 'utf8') > MAX_PATH_BYTES) return `must be at most ${MAX_PATH_BYTES} bytes`;
  if (path.posix.isAbsolute(p)) return 'must be a relative path';
  const normal = normalizeRelative(p);
  if (normal === '..' || normal.startsWith('../')) return 'must not escape the volume root';
  return null;
}

/**
 * The canonical form of a root-relative path: no `.` or `..` segments, no trailing slash;
 * `'.'` for the root itself. Only meaningful for paths `checkRelativePath` accepted.
 *
 * @example
 * normalizeRelative('./docs//a/../b/');  // 'docs/b'
 */
export function normalizeRelative(p: string): string {
  const normal = path.posix.normalize(p);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

// Glob syntax lives in glob.ts (bounded-cost matching); re-exported where path rules were asked before.
export { checkGlobPattern, globBase, isGlobPattern } from './glob.js';

/** Whether absolute path `p` is `dir` itself or lies below it. */
export function isInside(p: string, dir: string): boolean {
  if (p === dir) return true;
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return p.startsWith(prefix);
}
