/**
 * Volume ids (SPEC §10): stable across remounts at another place when the file system has a
 * UUID (`uuid:<uuid>`), otherwise the volume's absolute root (`path:<root>`).
 */
import { WardenError } from '../errors.js';
import type { MountEntry } from './types.js';

/**
 * The id of the volume rooted at `root`, given the current mount table.
 * Throws `WardenError('EINVAL')` for a relative root.
 *
 * @example
 * volumeIdFor('/media/usb/', [{ mountPoint: '/media/usb', uuid: '1234-ABCD', fsType: 'vfat', source: '/dev/sdb1', readOnly: false }]);
 * // → 'uuid:1234-ABCD'
 * volumeIdFor('/srv/data', []); // → 'path:/srv/data'
 */
export function volumeIdFor(root: string, mounts: MountEntry[]): string {
  const normalized = normalizeRoot(root);
  // The last entry for a mount point is the topmost, the one the path resolves to.
  for (let i = mounts.length - 1; i >= 0; i--) {
    const entry = mounts[i];
    if (normalizeRoot(entry.mountPoint) !== normalized) continue;
    return entry.uuid ? `uuid:${entry.uuid}` : `path:${normalized}`;
  }
  return `path:${normalized}`;
}

/**
 * An absolute path with `.`, `..`, repeated and trailing slashes removed (no file system access).
 *
 * @example
 * normalizeRoot('/data//vol/./x/../'); // → '/data/vol'
 */
export function normalizeRoot(root: string): string {
  if (!root.startsWith('/')) throw new WardenError('EINVAL', `volume root must be an absolute path: ${root}`);
  const parts: string[] = [];
  for (const part of root.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}
