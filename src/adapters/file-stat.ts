/** Node's bigint stats in the adapter's shape (nanosecond mtimes, SPEC §3). */
import type { BigIntStats } from 'node:fs';
import type { FileStat } from './types.js';

/**
 * Maps Node's bigint stats to a {@link FileStat}.
 *
 * @example
 * toFileStat(await fsp.lstat('/vol/a', { bigint: true }));  // { kind: 'file', mtimeNs: 1712…n, … }
 */
export function toFileStat(st: BigIntStats): FileStat {
  const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
  return {
    kind,
    mtimeNs: st.mtimeNs,
    dev: Number(st.dev),
    ino: Number(st.ino),
    uid: Number(st.uid),
    mode: Number(st.mode),
    size: Number(st.size),
  };
}
