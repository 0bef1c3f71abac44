/**
 * The seams between volwarden's actors and the outside world. Every adapter here has a real
 * implementation and an in-memory twin (`*.memory.ts`) that tests, the simulation and
 * embedders use. Adapters turn OS errors into values or events; they never throw into a machine.
 */

/** What `stat`/`lstat` tell us about one path. Times are nanoseconds (SPEC §3 staleness). */
export interface FileStat {
  kind: 'file' | 'dir' | 'symlink' | 'other';
  mtimeNs: bigint;
  dev: number;
  ino: number;
  uid: number;
  /** Permission bits and file type bits, as `fs.Stats.mode`. */
  mode: number;
  size: number;
}

/** Read-side file system access plus watching. Paths are absolute. */
export interface FsAdapter {
  /** `null` when the path does not exist (or cannot be reached). Does not follow a final symlink. */
  lstat(path: string): Promise<FileStat | null>;
  /** `null` when the path (or the symlink's target) does not exist. Follows symlinks. */
  stat(path: string): Promise<FileStat | null>;
  /** The canonical path with every symlink resolved; `null` when it does not resolve. */
  realpath(path: string): Promise<string | null>;
  /** Entry names of a directory; `null` when it is not a readable directory. */
  readdir(path: string): Promise<string[] | null>;
  /** The target a symlink holds (unresolved); `null` when `path` is no symlink. */
  readlink(path: string): Promise<string | null>;
  /**
   * Opens `path` (following symlinks) without reading it: what is then read through the handle
   * is that file or directory, whatever is renamed or swapped at its path meanwhile (SPEC §3
   * confinement holds across a walk). `null` when it does not exist.
   */
  open(path: string): Promise<FsHandle | null>;
  /**
   * Reads a whole file, refusing past `maxBytes`.
   * Resolves `{ ok: false, reason: 'missing' | 'tooLarge' | 'unreadable', message }` instead of throwing.
   */
  readFile(path: string, maxBytes: number): Promise<ReadResult>;
  /** Writes a file (used by `volwarden init`); rejects with the OS error. */
  writeFile(path: string, data: string, mode?: number): Promise<void>;
  /** Starts watching; see {@link WatchSpec}. */
  watch(spec: WatchSpec, listener: (event: WatchEvent) => void): WatchHandle;
}

/**
 * A file or directory held open (as `openat(2)` holds it): its entries are looked up in *this*
 * directory, so a directory swapped for a symlink after it was opened cannot redirect them.
 * Always `close()` it.
 */
export interface FsHandle {
  /** The stat of the object held (fstat), not of whatever is at its path now. */
  readonly stat: FileStat;
  /** Where the object held lies now (its canonical path), or `null` when unknown or deleted. */
  where(): Promise<string | null>;
  /** Entry names when it is a directory, else `null`. */
  list(): Promise<string[] | null>;
  /** `lstat` of entry `name` of this directory (a symlink there is not followed). */
  lstatAt(name: string): Promise<FileStat | null>;
  /** Opens entry `name` of this directory, never following a symlink there (you get the link). */
  openAt(name: string): Promise<FsHandle | null>;
  close(): Promise<void>;
}

export type ReadResult =
  /** `stat`: the file actually read (fstat of the open handle), so owner checks see no swap race. */
  | { ok: true; data: Buffer; stat?: FileStat }
  | { ok: false; reason: 'missing' | 'tooLarge' | 'unreadable'; message: string };

/**
 * What to watch for one volume. `paths` are absolute files or directories (directories are
 * watched recursively); paths that do not exist yet are watched for creation.
 */
export interface WatchSpec {
  root: string;
  paths: string[];
  /** Changes under these absolute paths are never reported (cache outputs: SPEC §3). */
  ignored: string[];
  /** Files whose mode or owner changes are reported too, not only their content (the manifest: SPEC §9). */
  attributes?: string[];
}

export type WatchEvent =
  /** Something was created, modified or removed at `path` (absolute). */
  | { type: 'changed'; path: string }
  /** The volume root itself disappeared. */
  | { type: 'rootRemoved' }
  /** The watcher is ready: the initial scan finished. */
  | { type: 'ready'; watches: number }
  /** Events may have been lost (watch budget exhausted, queue overflow): the caller must rescan. */
  | { type: 'degraded'; reason: string }
  | { type: 'error'; message: string };

export interface WatchHandle {
  close(): Promise<void>;
}

/** How a helper is started (SPEC §9). */
export interface SpawnRequest {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** After this long the helper gets SIGTERM, then SIGKILL `killGraceMs` later. */
  timeoutMs: number;
  killGraceMs: number;
  /** Captured stdout+stderr is truncated past this many bytes. */
  maxOutputBytes: number;
  /**
   * Run as this user and/or group (names or numeric ids) with no new privileges, instead of as
   * the daemon (a rebuilder's `user`/`group`, SPEC §13). A run that cannot switch does not start.
   */
  runAs?: { user?: string; group?: string };
  /**
   * Called once the helper runs, with its pid (also its process group): the caller records it,
   * so a daemon restarted after a crash can stop a helper that outlived its predecessor.
   */
  onStarted?: (pid: number) => void;
}

export interface HelperExit {
  /**
   * The status accounted as the unlock status: the exit code; 128 + signal number when
   * killed by a signal; 124 when timed out; 127 when it could not be started.
   */
  status: number;
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Set when the process could not be started at all (ENOENT, EACCES, ...). */
  spawnError?: string;
  /** Captured output, truncated to `maxOutputBytes`. */
  output: string;
  pid?: number;
}

export interface ProcessAdapter {
  /**
   * Runs a helper to completion. Aborting `signal` (the daemon is stopping, the volume went)
   * sends SIGTERM, then SIGKILL after `killGraceMs`. Never rejects.
   */
  run(request: SpawnRequest, signal: AbortSignal): Promise<HelperExit>;
  /** Whether a process with this pid exists (installer pid files, SPEC §3). */
  isAlive(pid: number): boolean;
  /**
   * What tells the process `pid` apart from a later one that reuses its pid (its start time),
   * or `null` when none runs or it cannot be told.
   */
  identity(pid: number): string | null;
  /**
   * Stops the process group `pid` of a helper an earlier daemon left running: SIGTERM, SIGKILL
   * after `graceMs`. Resolves once nothing of the group is left. Never rejects.
   */
  stopGroup(pid: number, graceMs: number): Promise<void>;
}

/** Time. Compatible with XState's `Clock`, so one object drives both machines and adapters. */
export interface Clock {
  now(): number;
  setTimeout(fn: (...args: any[]) => void, ms: number): any;
  clearTimeout(id: any): void;
}

/** What is persisted per volume (SPEC §4 counters, §5 fencing token). */
export interface VolumeRecord {
  failures: number;
  attempts: number;
  token: number;
  /** The helper running right now, if any: a daemon that crashed left it behind. */
  helper?: { pid: number; identity: string };
}

/** The state directory. Writes are atomic (temp + fsync + rename) and synchronous. */
export interface StateStore {
  load(volumeId: string): VolumeRecord | undefined;
  save(volumeId: string, record: VolumeRecord): void;
}

/** One row of the mount table. */
export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
  readOnly: boolean;
  /** Filesystem UUID when known (from /dev/disk/by-uuid). */
  uuid?: string;
  /**
   * What is mounted: `major:minor` of the device and the directory of that file system shown
   * here (`/` unless a bind of a subtree). Two entries with both equal show the same files
   * (a bind mount, or the same device mounted twice): discovery makes one volume of them.
   */
  device?: string;
  fsRoot?: string;
}

export interface MountAdapter {
  list(): Promise<MountEntry[]>;
  /**
   * Calls `onChange` whenever the mount table may have changed, counted from the caller's last
   * `list()` (a mount between that and the first look is a change).
   */
  watch(onChange: () => void): WatchHandle;
}

/** Everything a warden touches outside itself. */
export interface Adapters {
  fs: FsAdapter;
  processes: ProcessAdapter;
  clock: Clock;
  mounts: MountAdapter;
  /** Undefined: nothing is persisted (SPEC §12). */
  state?: StateStore;
}
