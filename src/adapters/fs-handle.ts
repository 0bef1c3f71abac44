/**
 * Pinned handles for the real file system (`FsHandle`): a file or directory opened with O_PATH,
 * then looked into through `/proc/self/fd/N`, which the kernel resolves to the object held, not to
 * whatever its path names now. That is `openat(2)`/`fstatat(2)` for Node, which has neither: a
 * walk that opened `src/sub` keeps reading `src/sub` even if it is swapped for a symlink to a
 * secret directory (renameat2 RENAME_EXCHANGE) mid-read (issue 17).
 */
import { constants, promises as fsp } from 'node:fs';
import { toFileStat } from './file-stat.js';
import type { FileStat, FsHandle } from './types.js';

/**
 * Linux's O_PATH (Node does not export it): the handle pins the object without opening it for
 * reading, so no read permission is needed and a FIFO or device is never really opened.
 */
const O_PATH: number = (constants as Record<string, number>).O_PATH ?? (process.platform === 'linux' ? 0o10000000 : constants.O_RDONLY);
const DELETED = ' (deleted)';

/**
 * Opens `p` as an {@link FsHandle}; `follow: false` pins a final symlink itself (O_NOFOLLOW).
 * `null` when it does not exist or cannot be reached.
 *
 * @example
 * const dir = await openPinned('/vol/src', true);
 * for (const name of (await dir?.list()) ?? []) await dir!.lstatAt(name);
 * await dir?.close();
 */
export async function openPinned(p: string, follow: boolean): Promise<FsHandle | null> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(p, O_PATH | (follow ? 0 : constants.O_NOFOLLOW));
  } catch {
    return null;
  }
  try {
    return new PinnedHandle(handle, toFileStat(await handle.stat({ bigint: true })));
  } catch {
    await handle.close().catch(() => undefined);
    return null;
  }
}

class PinnedHandle implements FsHandle {
  private readonly self: string;

  constructor(
    private readonly handle: fsp.FileHandle,
    readonly stat: FileStat,
  ) {
    this.self = `/proc/self/fd/${handle.fd}`;
  }

  async where(): Promise<string | null> {
    const at = await fsp.readlink(this.self).catch(() => null);
    if (at === null || !at.startsWith('/')) return null;
    if (!at.endsWith(DELETED)) return at;
    // The kernel marks a removed object with this suffix; a name that really ends so is still there.
    const there = await fsp.lstat(at, { bigint: true }).catch(() => null);
    return there !== null && Number(there.dev) === this.stat.dev && Number(there.ino) === this.stat.ino ? at : null;
  }

  list(): Promise<string[] | null> {
    if (this.stat.kind !== 'dir') return Promise.resolve(null);
    return fsp.readdir(this.self).then((names) => names.sort(), () => null);
  }

  async lstatAt(name: string): Promise<FileStat | null> {
    if (!isEntryName(name)) return null;
    return fsp.lstat(`${this.self}/${name}`, { bigint: true }).then(toFileStat, () => null);
  }

  openAt(name: string): Promise<FsHandle | null> {
    if (!isEntryName(name)) return Promise.resolve(null);
    return openPinned(`${this.self}/${name}`, false);
  }

  close(): Promise<void> {
    return this.handle.close().catch(() => undefined);
  }
}

/** One entry of a directory: never `.`, `..` or a path (which would leave the directory held). */
function isEntryName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}
