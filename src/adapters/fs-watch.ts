/**
 * File watching for one volume (SPEC §3, §4) on chokidar. chokidar has no globs since v4, so a
 * volume is watched from the root's parent directory down, with a filter that keeps only the
 * watched paths and the directories on the way to them: a path that does not exist yet is seen
 * when it is created, the root's own removal is seen, and nothing else costs a watch.
 * Lost events (watch budget exhausted) become one `degraded` event the caller answers by rescanning.
 */
import { lstatSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { watch as chokidarWatch, type FSWatcher } from 'chokidar';
import type { WatchEvent, WatchHandle, WatchSpec } from './types.js';

const MAX_USER_WATCHES = '/proc/sys/fs/inotify/max_user_watches';
const MAX_USER_INSTANCES = '/proc/sys/fs/inotify/max_user_instances';

/**
 * The system's inotify watch limit, for the startup log line (SPEC §3 "watch budget"); `null` off Linux.
 *
 * @example
 * log.info(`using ${used} inotify watches of ${await inotifyWatchLimit() ?? 'unknown'}`);
 */
export async function inotifyWatchLimit(): Promise<number | null> {
  try {
    return parseLimit(await readFile(MAX_USER_WATCHES, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Watches one volume's paths and reports what happens to them as {@link WatchEvent}s.
 *
 * @example
 * const handle = watchWithChokidar(
 *   { root: '/data', paths: ['/data/.volwarden.json', '/data/docs'], ignored: ['/data/cache/docs.idx'] },
 *   (event) => actor.send({ type: 'fs.' + event.type, ...event }),
 * );
 * await handle.close();
 */
export function watchWithChokidar(spec: WatchSpec, listener: (event: WatchEvent) => void): WatchHandle {
  const scope = watchScope(spec);
  let closed = false;
  let rootPresent = statSync(scope.root, { throwIfNoEntry: false }) !== undefined;
  let degraded = false;
  let ready = false;
  const owners = new OwnerModes((spec.attributes ?? []).map((p) => resolve(p)));

  const emit = (event: WatchEvent): void => {
    if (!closed) listener(event);
  };

  const watcher: FSWatcher = chokidarWatch(anchorsFor(scope), {
    ignoreInitial: true,
    // Never follow links: a manifest-controlled symlink to `/` must not make us watch the world.
    followSymlinks: false,
    // Editor-swap filtering would hide sources named `*~`; the warden settles changes itself.
    atomic: false,
    ignored: (path: string) => !scope.isInteresting(resolve(path)),
  });

  watcher.on('all', (event, rawPath) => {
    const path = resolve(rawPath);
    if (event === 'unlinkDir' && isWithin(scope.root, path)) {
      if (rootPresent) {
        rootPresent = false;
        emit({ type: 'rootRemoved' });
      }
      return;
    }
    if (event === 'addDir' && path === scope.root) rootPresent = true;
    // chokidar reports every symlink as `add` while it first scans, ignoreInitial or not: noise,
    // and a manifest that is a symlink would reload for ever (each reload watches anew).
    if (!ready && event === 'add' && isSymlink(path)) return;
    if (event === 'change') owners.update(path);
    if (scope.isReported(path)) emit({ type: 'changed', path });
  });

  // chokidar drops a mode or owner change once the file has been read since its last write
  // (atime > mtime). For the manifest that change matters: `chmod 600` is how an untrusted
  // manifest is fixed (SPEC §9).
  watcher.on('raw', (eventType, filename, details) => {
    const watchedPath = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
    if (!ready || eventType !== 'change' || typeof watchedPath !== 'string') return;
    const watched = resolve(watchedPath);
    const path = owners.has(watched) ? watched : resolve(watched, filename);
    if (owners.has(path) && owners.update(path) && scope.isReported(path)) emit({ type: 'changed', path });
  });

  watcher.on('ready', () => {
    ready = true;
    owners.recordAll();
    emit({ type: 'ready', watches: countWatches(watcher) });
  });

  watcher.on('error', (error: unknown) => {
    const event = watchErrorEvent(error);
    if (event.type !== 'degraded') return emit(event);
    // One report is enough: the caller rescans from now on, repeated ENOSPCs add nothing.
    if (degraded) return;
    degraded = true;
    emit(event);
  });

  return {
    async close() {
      closed = true;
      await watcher.close();
    },
  };
}

/** The mode and owner of each `attributes` file, to tell a real attribute change from noise. */
class OwnerModes {
  private readonly known = new Map<string, string>();
  private readonly paths: Set<string>;

  constructor(paths: string[]) {
    this.paths = new Set(paths);
  }

  has(path: string): boolean {
    return this.paths.has(path);
  }

  recordAll(): void {
    for (const path of this.paths) this.update(path);
  }

  /** Records the file's mode and owner; true when they differ from what was recorded before. */
  update(path: string): boolean {
    if (!this.paths.has(path)) return false;
    const stat = statSync(path, { throwIfNoEntry: false });
    const now = stat === undefined ? '' : `${stat.mode}:${stat.uid}:${stat.gid}`;
    const before = this.known.get(path);
    this.known.set(path, now);
    return before !== undefined && before !== now;
  }
}

function isSymlink(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() ?? false;
}

/** What one volume's watcher cares about, with every path absolute and normalised. */
interface WatchScope {
  root: string;
  wanted: string[];
  /** Reported when changed: inside a watched path and not inside an ignored output. */
  isReported(path: string): boolean;
  /** Worth a watch: reported, or a directory on the way to the root or a watched path. */
  isInteresting(path: string): boolean;
}

function watchScope(spec: WatchSpec): WatchScope {
  const root = resolve(spec.root);
  const wanted = spec.paths.map((path) => resolve(path));
  const ignored = spec.ignored.map((path) => resolve(path));
  const isOutput = (path: string): boolean => ignored.some((output) => isWithin(path, output));
  const isWanted = (path: string): boolean => wanted.some((target) => isWithin(path, target));
  const isOnTheWay = (path: string): boolean =>
    isWithin(root, path) || wanted.some((target) => isWithin(target, path));
  return {
    root,
    wanted,
    isReported: (path) => isWanted(path) && !isOutput(path),
    isInteresting: (path) => !isOutput(path) && (isWanted(path) || isOnTheWay(path)),
  };
}

/**
 * Where chokidar starts: the nearest existing directory above the root (so the root's removal
 * and re-creation are seen) and above every watched path outside the root.
 */
function anchorsFor(scope: WatchScope): string[] {
  const anchors = new Set<string>([nearestExistingDir(dirname(scope.root))]);
  for (const target of scope.wanted) {
    if (!isWithin(target, scope.root)) anchors.add(nearestExistingDir(dirname(target)));
  }
  return [...anchors];
}

function nearestExistingDir(path: string): string {
  for (let dir = path; ; dir = dirname(dir)) {
    if (statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return dir;
    if (dir === dirname(dir)) return dir;
  }
}

/** `path` is `dir` itself or lies below it. */
function isWithin(path: string, dir: string): boolean {
  if (path === dir) return true;
  return path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** Every path chokidar tracks costs one inotify watch (it watches files one by one, too). */
function countWatches(watcher: FSWatcher): number {
  const paths = new Set<string>();
  for (const [dir, items] of Object.entries(watcher.getWatched())) {
    for (const item of items) paths.add(join(dir, item));
  }
  return paths.size;
}

/**
 * A watcher error as an event: `degraded` (with a one-line reason) when events may have been
 * lost — watch budget exhausted, queue overflow — so the caller rescans; otherwise `error`.
 *
 * @example
 * watchErrorEvent(Object.assign(new Error('watch ENOSPC'), { code: 'ENOSPC' }));
 * // → { type: 'degraded', reason: 'inotify watch limit reached (fs.inotify.max_user_watches=8192); rescanning every 5 s' }
 */
export function watchErrorEvent(error: unknown): Extract<WatchEvent, { type: 'degraded' | 'error' }> {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ENOSPC') {
    const limit = readLimitSync(MAX_USER_WATCHES);
    return { type: 'degraded', reason: `inotify watch limit reached (fs.inotify.max_user_watches=${limit}); rescanning every 5 s` };
  }
  if (code === 'EMFILE') {
    const limit = readLimitSync(MAX_USER_INSTANCES);
    return {
      type: 'degraded',
      reason: `inotify instance or open file limit reached (fs.inotify.max_user_instances=${limit}); rescanning every 5 s`,
    };
  }
  if (/overflow/i.test(message)) return { type: 'degraded', reason: 'inotify event queue overflowed; rescanning every 5 s' };
  return { type: 'error', message };
}

function readLimitSync(path: string): string {
  try {
    return String(parseLimit(readFileSync(path, 'utf8')) ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

function parseLimit(text: string): number | null {
  const value = Number.parseInt(text.trim(), 10);
  return Number.isFinite(value) ? value : null;
}
