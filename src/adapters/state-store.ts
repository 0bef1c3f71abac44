/**
 * The state directory (SPEC §4 counters, §5 fencing tokens, §13): one small JSON file per
 * volume, replaced atomically and synchronously so a crash at any instant leaves either the
 * old record or the new one — never a torn file that would reset a fencing token.
 */
import { createHash } from 'node:crypto';
import {
  closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { isProcessAlive } from './processes.js';
import type { StateStore, VolumeRecord } from './types.js';
import { copyRecord } from './volume-record.js';

/** A state store that can also list what it holds (startup, `status`). */
export interface FileStateStore extends StateStore {
  /** Every readable record, keyed by volume id; torn or foreign files are skipped. */
  loadAll(): Map<string, VolumeRecord>;
  /** The directory the records live in. */
  readonly directory: string;
}

export interface FileStateStoreOptions {
  /**
   * Where a failed `save` goes. Without it `save` throws the OS error; with it `save` never
   * throws, so a full disk cannot crash the machine that saves.
   */
  onError?: (error: Error) => void;
}

interface StoredRecord extends VolumeRecord {
  volumeId: string;
}

const TMP_MARK = '.tmp-';

/**
 * Opens (creating with mode 0700 if missing) the state directory `dir`.
 * Throws the OS error when the directory cannot be created.
 *
 * @example
 * const state = createFileStateStore('/var/lib/volwarden');
 * state.save('path:/data', { failures: 0, attempts: 1, token: 42 });
 * state.load('path:/data'); // → { failures: 0, attempts: 1, token: 42 }
 */
export function createFileStateStore(dir: string, options: FileStateStoreOptions = {}): FileStateStore {
  const volumesDir = join(dir, 'volumes');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  mkdirSync(volumesDir, { recursive: true, mode: 0o700 });
  removeAbandonedTempFiles(volumesDir);

  return {
    directory: dir,
    load(volumeId) {
      return readRecord(join(volumesDir, recordFileName(volumeId)), volumeId);
    },
    save(volumeId, record) {
      try {
        const stored: StoredRecord = { volumeId, ...copyRecord(record) };
        writeAtomically(volumesDir, recordFileName(volumeId), `${JSON.stringify(stored)}\n`);
      } catch (err) {
        if (!options.onError) throw err;
        options.onError(err as Error);
      }
    },
    loadAll() {
      const records = new Map<string, VolumeRecord>();
      for (const name of listDir(volumesDir)) {
        if (!name.endsWith('.json')) continue;
        const stored = readRecord(join(volumesDir, name));
        if (stored) records.set(stored.volumeId, copyRecord(stored));
      }
      return records;
    },
  };
}

/**
 * A file name that is safe for any volume id (ids hold `/` and `:`) and still readable:
 * a hash prefix for uniqueness plus a sanitized tail for people looking at the directory.
 */
export function recordFileName(volumeId: string): string {
  const hash = createHash('sha256').update(volumeId).digest('hex').slice(0, 16);
  const tail = volumeId.slice(-48).replace(/[^A-Za-z0-9._-]/g, '_');
  return `${hash}-${tail}.json`;
}

/** Write to a temp file, fsync it, rename it over the target, fsync the directory. */
function writeAtomically(dir: string, name: string, data: string): void {
  const target = join(dir, name);
  const temp = `${target}${TMP_MARK}${process.pid}`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, target);
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** Reads one record; anything unreadable, torn or not ours is `undefined` (the caller starts fresh). */
function readRecord(path: string): StoredRecord | undefined;
function readRecord(path: string, volumeId: string): VolumeRecord | undefined;
function readRecord(path: string, volumeId?: string): StoredRecord | VolumeRecord | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
  if (!isStoredRecord(parsed)) return undefined;
  if (volumeId === undefined) return parsed;
  if (parsed.volumeId !== volumeId) return undefined;
  return copyRecord(parsed);
}

function isStoredRecord(value: unknown): value is StoredRecord {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.volumeId === 'string' && isCount(v.failures) && isCount(v.attempts) && isCount(v.token) && isHelper(v.helper);
}

function isHelper(value: unknown): value is VolumeRecord['helper'] {
  if (value === undefined) return true;
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return isCount(v.pid) && typeof v.identity === 'string';
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** A crash between write and rename leaves `name.tmp-<pid>`; drop those whose writer is gone. */
function removeAbandonedTempFiles(dir: string): void {
  for (const name of listDir(dir)) {
    const mark = name.lastIndexOf(TMP_MARK);
    if (mark < 0) continue;
    const pid = Number(name.slice(mark + TMP_MARK.length));
    if (pid === process.pid || !isProcessAlive(pid)) {
      try {
        unlinkSync(join(dir, name));
      } catch {
        // Someone else removed it first: fine.
      }
    }
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
