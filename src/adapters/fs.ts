/**
 * The real file-system adapter: `fs.promises` with bigint stats (nanosecond mtimes, SPEC §3).
 * Missing paths are values (`null`, `{ ok: false }`), never exceptions; watching is chokidar's
 * (`fs-watch.ts`) unless the caller supplies its own.
 */
import { constants, promises as fsp, type BigIntStats } from 'node:fs';
import { toFileStat } from './file-stat.js';
import { openPinned } from './fs-handle.js';
import { watchWithChokidar } from './fs-watch.js';
import type { FileStat, FsAdapter, ReadResult } from './types.js';

export interface NodeFsOptions {
  /** Replaces the chokidar watcher (e.g. with a polling one, or a fake in tests). */
  watch?: FsAdapter['watch'];
}

/**
 * Creates the file-system adapter backed by the real disk.
 *
 * @example
 * const fs = createNodeFs();
 * const stat = await fs.stat('/vol/cache/out.txt');  // { kind: 'file', mtimeNs: 1712...123n, ... } or null
 */
export function createNodeFs(options: NodeFsOptions = {}): FsAdapter {
  return {
    lstat: (p) => statOrNull(() => fsp.lstat(p, { bigint: true })),
    stat: (p) => statOrNull(() => fsp.stat(p, { bigint: true })),
    realpath: (p) => fsp.realpath(p).catch(() => null),
    readdir: (p) => fsp.readdir(p).then((names) => names.sort(), () => null),
    readlink: (p) => fsp.readlink(p).catch(() => null),
    open: (p) => openPinned(p, true),
    readFile: readBounded,
    writeFile: (p, data, mode) => fsp.writeFile(p, data, mode === undefined ? undefined : { mode }),
    watch: options.watch ?? watchWithChokidar,
  };
}

export { toFileStat };

async function statOrNull(call: () => Promise<BigIntStats>): Promise<FileStat | null> {
  try {
    return toFileStat(await call());
  } catch {
    return null;
  }
}

/**
 * Reads at most `maxBytes` (+1 to detect overflow) through one handle, and returns the handle's
 * own stat so callers judge the file they actually read. Opened non-blocking: a FIFO planted
 * where a manifest should be must not hang a thread.
 */
async function readBounded(p: string, maxBytes: number): Promise<ReadResult> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(p, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'unreadable';
    return { ok: false, reason, message: (err as Error).message };
  }
  try {
    const stat = toFileStat(await handle.stat({ bigint: true }));
    if (stat.kind !== 'file') return { ok: false, reason: 'unreadable', message: `not a regular file: ${p}` };
    if (stat.size > maxBytes) return { ok: false, reason: 'tooLarge', message: `${p} is larger than ${maxBytes} bytes` };
    const data = await readUpTo(handle, maxBytes + 1);
    if (data.length > maxBytes) return { ok: false, reason: 'tooLarge', message: `${p} is larger than ${maxBytes} bytes` };
    return { ok: true, data, stat };
  } catch (err) {
    return { ok: false, reason: 'unreadable', message: (err as Error).message };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Reads until end of file or `limit` bytes, whichever comes first (the size may change meanwhile). */
async function readUpTo(handle: fsp.FileHandle, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  while (total < limit) {
    const chunk = Buffer.alloc(Math.min(64 * 1024, limit - total));
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
    if (bytesRead === 0) break;
    chunks.push(chunk.subarray(0, bytesRead));
    total += bytesRead;
  }
  return Buffer.concat(chunks, total);
}
