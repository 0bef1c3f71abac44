/**
 * The static rules every manifest path obeys (SPEC §3: the manifest is untrusted input).
 * These run at parse time, without touching the disk; `confine.ts` re-checks each path
 * against the real tree (symlinks, devices) at use time.
 */
import path from 'node:path';
import picomatch from 'picomatch';

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

/** Whether a source names a glob pattern rather than a literal path (SPEC §3 `sources`). */
export function isGlobPattern(p: string): boolean {
  return picomatch.scan(p).isGlob;
}

/**
 * Why a source glob is unusable, or `null`. Negated patterns are refused: a source says what a
 * cache is built from, and "everything except" is not a set we can walk.
 */
export function checkGlobPattern(p: string): string | null {
  const scanned = picomatch.scan(p);
  if (scanned.negated) return 'must not be a negated pattern';
  try {
    picomatch.makeRe(p);
  } catch {
    return 'is not a valid glob pattern';
  }
  return null;
}

/** The directory (root-relative, `'.'` for the root) a glob can only match below. */
export function globBase(p: string): string {
  const base = picomatch.scan(p).base;
  return base === '' ? '.' : normalizeRelative(base);
}

/** Whether absolute path `p` is `dir` itself or lies below it. */
export function isInside(p: string, dir: string): boolean {
  if (p === dir) return true;
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return p.startsWith(prefix);
}
