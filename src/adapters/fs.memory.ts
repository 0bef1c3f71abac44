/**
 * The in-memory twin of the file-system adapter: a tree of files, directories and symlinks with
 * nanosecond mtimes from a logical clock, owners, modes and devices, plus watchers that hear
 * every mutation synchronously. Model-based tests and the whole-system simulation drive it.
 */
import path from 'node:path';
import type { FileStat, FsAdapter, FsHandle, ReadResult, WatchEvent, WatchHandle, WatchSpec } from './types.js';
import { isInside } from '../manifest/path-rules.js';

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
/** Linux's MAXSYMLINKS: more hops than this is ELOOP. */
const MAX_SYMLINK_HOPS = 40;
const DEFAULT_DEV = 1;

interface NodeMeta {
  ino: number;
  mtimeNs: bigint;
  uid: number;
  /** Permission bits only; the type bits come from `kind`. */
  mode: number;
}
type MemNode =
  | (NodeMeta & { kind: 'file'; data: Buffer })
  | (NodeMeta & { kind: 'dir'; entries: Map<string, MemNode> })
  | (NodeMeta & { kind: 'symlink'; target: string });

interface Watcher {
  spec: WatchSpec;
  listener: (event: WatchEvent) => void;
  closed: boolean;
}

/** Options for the test-side `writeFile`. */
export interface MemoryWriteOptions {
  mtimeNs?: bigint;
  uid?: number;
  mode?: number;
  /** Tell no watcher: the event is lost, as when the watch budget ran out (SPEC §3). */
  unseen?: boolean;
}

export interface MemoryFsOptions {
  /** Owner of nodes created without an explicit `uid` (default 0). */
  uid?: number;
  /** First value of the logical clock, in ns (default 1_000_000_000n). */
  startNs?: bigint;
}

/**
 * An in-memory {@link FsAdapter}. Mutations happen synchronously and notify watchers before
 * they return; `writeFile` also returns a promise so it satisfies the adapter contract.
 *
 * @example
 * const fs = new MemoryFs();
 * fs.writeFile('/vol/src/a.txt', 'hello');          // creates /vol and /vol/src
 * fs.symlink('/etc', '/vol/evil');
 * await fs.realpath('/vol/evil');                    // '/etc' (if it exists), else null
 */
export class MemoryFs implements FsAdapter {
  private readonly rootNode: MemNode;
  private readonly devices = new Map<string, number>();
  private readonly readErrors = new Map<string, string>();
  private readonly watchers = new Set<Watcher>();
  private readonly defaultUid: number;
  private clockNs: bigint;
  private nextIno = 1;
  private handles = 0;

  constructor(options: MemoryFsOptions = {}) {
    this.defaultUid = options.uid ?? 0;
    this.clockNs = options.startNs ?? 1_000_000_000n;
    this.rootNode = this.newDir();
  }

  /** The logical clock: the mtime the next mutation gets. */
  get nowNs(): bigint {
    return this.clockNs;
  }

  /** How many watchers are open (tests check none leak). */
  get openWatchers(): number {
    return this.watchers.size;
  }

  // ---- mutations (test API) ----

  /**
   * Creates or replaces a file (following symlinks), creating missing parent directories.
   * The change happens before this returns; the promise is only for the adapter contract.
   */
  writeFile(filePath: string, data: string | Buffer, options?: number | MemoryWriteOptions): Promise<void> {
    try {
      this.put(filePath, data, typeof options === 'number' ? { mode: options } : (options ?? {}));
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Creates a directory and its missing parents (`mkdir -p`). */
  mkdir(dirPath: string): void {
    this.notify(this.mkdirs(path.posix.resolve(dirPath)));
  }

  /** Creates a symlink at `linkPath` pointing at `target` (absolute or relative to the link). */
  symlink(target: string, linkPath: string): void {
    const abs = path.posix.resolve(linkPath);
    const created = this.mkdirs(path.posix.dirname(abs));
    const parent = this.dirAt(path.posix.dirname(abs));
    const name = path.posix.basename(abs);
    if (parent.entries.has(name)) throw fsError('EEXIST', abs);
    const mtimeNs = this.stamp();
    parent.entries.set(name, { kind: 'symlink', target, ...this.meta(mtimeNs, undefined, 0o777) });
    parent.mtimeNs = mtimeNs;
    this.notify([...created, abs]);
  }

  /** Removes a path and everything under it (`rm -rf`; a symlink itself, not its target). No-op if missing. */
  remove(target: string): void {
    const abs = path.posix.resolve(target);
    if (abs === '/') throw fsError('EBUSY', abs);
    const parent = this.lookup(path.posix.dirname(abs), true);
    const name = path.posix.basename(abs);
    if (parent?.node.kind !== 'dir' || !parent.node.entries.has(name)) return;
    const parentDir = parent.node;
    const removedPaths = listTree(parentDir.entries.get(name)!, path.posix.join(parent.real, name));
    parentDir.entries.delete(name);
    parentDir.mtimeNs = this.stamp();
    this.notify(removedPaths, path.posix.join(parent.real, name));
  }

  /** Sets a file's mtime (the next clock tick when omitted), creating an empty file if missing. */
  touch(target: string, mtimeNs?: bigint): void {
    const found = this.lookup(path.posix.resolve(target), true);
    if (found === null) {
      this.put(target, '', { mtimeNs });
      return;
    }
    found.node.mtimeNs = this.stamp(mtimeNs);
    this.notify([found.real]);
  }

  /**
   * Swaps two paths atomically, as renameat2(RENAME_EXCHANGE) does: the attack a walk must
   * survive (a source directory swapped for a symlink to a secret one mid-read).
   */
  exchange(a: string, b: string): void {
    const [pa, pb] = [a, b].map((p) => this.lookup(path.posix.dirname(path.posix.resolve(p)), true));
    const [na, nb] = [a, b].map((p) => path.posix.basename(path.posix.resolve(p)));
    if (pa?.node.kind !== 'dir' || pb?.node.kind !== 'dir') throw fsError('ENOENT', a);
    const [ea, eb] = [pa.node.entries.get(na), pb.node.entries.get(nb)];
    if (ea === undefined || eb === undefined) throw fsError('ENOENT', ea === undefined ? a : b);
    pa.node.entries.set(na, eb);
    pb.node.entries.set(nb, ea);
    this.notify([path.posix.join(pa.real, na), path.posix.join(pb.real, nb)]);
  }

  /** Sets the owner and/or permission bits of a path (a final symlink itself is not followed). */
  setOwner(target: string, owner: { uid?: number; mode?: number }): void {
    const found = this.lookup(path.posix.resolve(target), false);
    if (found === null) throw fsError('ENOENT', target);
    if (owner.uid !== undefined) found.node.uid = owner.uid;
    if (owner.mode !== undefined) found.node.mode = owner.mode;
    this.notify([found.real]);
  }

  /** How many handles from `open` are not closed yet (tests check none leak). */
  get openHandles(): number {
    return this.handles;
  }

  /** Everything at or below `dirPath` (by real path) reports device `dev`: a mount point. */
  setDevice(dirPath: string, dev: number): void {
    this.devices.set(path.posix.resolve(dirPath), dev);
  }

  /** Makes `readFile` of this path fail as unreadable (`null` clears it): EACCES, EIO, ... */
  setReadError(filePath: string, message: string | null): void {
    if (message === null) this.readErrors.delete(path.posix.resolve(filePath));
    else this.readErrors.set(path.posix.resolve(filePath), message);
  }

  /** Tells the watchers of `root` that events were lost (the watch budget ran out). */
  degrade(root: string, reason: string): void {
    this.deliver((w) => (w.spec.root === path.posix.resolve(root) ? { type: 'degraded', reason } : null));
  }

  // ---- FsAdapter ----

  lstat(p: string): Promise<FileStat | null> {
    return Promise.resolve(this.statOf(p, false));
  }

  stat(p: string): Promise<FileStat | null> {
    return Promise.resolve(this.statOf(p, true));
  }

  realpath(p: string): Promise<string | null> {
    return Promise.resolve(this.lookup(absolute(p), true)?.real ?? null);
  }

  readdir(p: string): Promise<string[] | null> {
    const found = this.lookup(absolute(p), true);
    if (found?.node.kind !== 'dir') return Promise.resolve(null);
    return Promise.resolve([...found.node.entries.keys()].sort());
  }

  readlink(p: string): Promise<string | null> {
    const found = this.lookup(absolute(p), false);
    return Promise.resolve(found?.node.kind === 'symlink' ? found.node.target : null);
  }

  open(p: string): Promise<FsHandle | null> {
    const found = this.lookup(absolute(p), true);
    return Promise.resolve(found === null ? null : this.handleOf(found.node, found.real));
  }

  readFile(p: string, maxBytes: number): Promise<ReadResult> {
    const abs = path.posix.resolve(p);
    const found = this.lookup(absolute(p), true);
    if (found === null) return Promise.resolve({ ok: false, reason: 'missing', message: `ENOENT: no such file: ${abs}` });
    const readError = this.readErrors.get(abs) ?? this.readErrors.get(found.real);
    if (readError !== undefined) return Promise.resolve({ ok: false, reason: 'unreadable', message: readError });
    if (found.node.kind !== 'file') {
      return Promise.resolve({ ok: false, reason: 'unreadable', message: `EISDIR: not a regular file: ${abs}` });
    }
    if (found.node.data.length > maxBytes) {
      return Promise.resolve({ ok: false, reason: 'tooLarge', message: `${abs} is larger than ${maxBytes} bytes` });
    }
    return Promise.resolve({ ok: true, data: Buffer.from(found.node.data), stat: this.toStat(found.node, found.real) });
  }

  watch(spec: WatchSpec, listener: (event: WatchEvent) => void): WatchHandle {
    const watcher: Watcher = { spec, listener, closed: false };
    this.watchers.add(watcher);
    queueMicrotask(() => {
      if (!watcher.closed) listener({ type: 'ready', watches: spec.paths.length });
    });
    return {
      close: () => {
        watcher.closed = true;
        this.watchers.delete(watcher);
        return Promise.resolve();
      },
    };
  }

  // ---- internals ----

  /** A handle holds the node itself: lookups through it ignore whatever its path names later. */
  private handleOf(node: MemNode, openedAt: string): FsHandle {
    this.handles++;
    let closed = false;
    const where = (): string | null => this.pathOf(node);
    const childAt = (name: string): { child: MemNode; real: string } | null => {
      if (node.kind !== 'dir' || name === '.' || name === '..' || name.includes('/')) return null;
      const child = node.entries.get(name);
      return child === undefined ? null : { child, real: path.posix.join(where() ?? openedAt, name) };
    };
    return {
      stat: this.toStat(node, openedAt),
      where: () => Promise.resolve(where()),
      list: () => Promise.resolve(node.kind === 'dir' ? [...node.entries.keys()].sort() : null),
      lstatAt: (name) => {
        const at = childAt(name);
        return Promise.resolve(at === null ? null : this.toStat(at.child, at.real));
      },
      openAt: (name) => {
        const at = childAt(name);
        return Promise.resolve(at === null ? null : this.handleOf(at.child, at.real));
      },
      close: () => {
        if (!closed) this.handles--;
        closed = true;
        return Promise.resolve();
      },
    };
  }

  /** The path of `node` in the tree now (not through symlinks), or `null` once it was removed. */
  private pathOf(target: MemNode): string | null {
    const stack: Array<{ node: MemNode; at: string }> = [{ node: this.rootNode, at: '/' }];
    while (stack.length > 0) {
      const { node, at } = stack.pop()!;
      if (node === target) return at;
      if (node.kind === 'dir') for (const [name, child] of node.entries) stack.push({ node: child, at: path.posix.join(at, name) });
    }
    return null;
  }

  private put(filePath: string, data: string | Buffer, opts: MemoryWriteOptions): void {
    const abs = this.targetOf(path.posix.resolve(filePath));
    const created = this.mkdirs(path.posix.dirname(abs));
    const parent = this.dirAt(path.posix.dirname(abs));
    const name = path.posix.basename(abs);
    const existing = parent.entries.get(name);
    if (existing?.kind === 'dir') throw fsError('EISDIR', abs);
    const mtimeNs = this.stamp(opts.mtimeNs);
    const buffer = Buffer.from(data);
    if (existing?.kind === 'file') {
      existing.data = buffer;
      existing.mtimeNs = mtimeNs;
      if (opts.uid !== undefined) existing.uid = opts.uid;
      if (opts.mode !== undefined) existing.mode = opts.mode;
    } else {
      parent.entries.set(name, { kind: 'file', data: buffer, ...this.meta(mtimeNs, opts.uid, opts.mode ?? 0o644) });
      parent.mtimeNs = mtimeNs;
    }
    if (!opts.unseen) this.notify([...created, abs]);
  }

  private statOf(p: string, follow: boolean): FileStat | null {
    const found = this.lookup(absolute(p), follow);
    return found === null ? null : this.toStat(found.node, found.real);
  }

  private toStat(node: MemNode, real: string): FileStat {
    const typeBits = node.kind === 'file' ? S_IFREG : node.kind === 'dir' ? S_IFDIR : S_IFLNK;
    const size = node.kind === 'file' ? node.data.length : node.kind === 'dir' ? 4096 : Buffer.byteLength(node.target);
    return { kind: node.kind, mtimeNs: node.mtimeNs, dev: this.deviceOf(real), ino: node.ino, uid: node.uid, mode: typeBits | node.mode, size };
  }

  private deviceOf(real: string): number {
    let best: string | null = null;
    for (const mount of this.devices.keys()) {
      if (isInside(real, mount) && (best === null || mount.length > best.length)) best = mount;
    }
    return best === null ? DEFAULT_DEV : this.devices.get(best)!;
  }

  /**
   * Walks `abs` component by component as the kernel does: symlinks in the middle are always
   * followed, the last one only when `followLast`; `..` goes to the physical parent.
   */
  private lookup(abs: string, followLast: boolean, hops = { n: 0 }): { node: MemNode; real: string } | null {
    const parts = abs.split('/').filter((s) => s !== '' && s !== '.');
    let node: MemNode = this.rootNode;
    let real = '/';
    for (let i = 0; i < parts.length; i++) {
      const name = parts[i];
      if (name === '..') {
        real = path.posix.dirname(real);
        node = this.lookup(real, false, hops)!.node;
        continue;
      }
      if (node.kind !== 'dir') return null;
      const child = node.entries.get(name);
      if (child === undefined) return null;
      const childPath = path.posix.join(real, name);
      if (child.kind === 'symlink' && (i < parts.length - 1 || followLast)) {
        if (++hops.n > MAX_SYMLINK_HOPS) return null;
        const resolved = this.lookup(path.posix.resolve(real, child.target), true, hops);
        if (resolved === null) return null;
        ({ node, real } = resolved);
      } else {
        node = child;
        real = childPath;
      }
    }
    return { node, real };
  }

  /** The path a write to `abs` lands on: its parent resolved, and a final symlink followed. */
  private targetOf(abs: string): string {
    const parent = this.lookup(path.posix.dirname(abs), true);
    const base = parent === null ? abs : path.posix.join(parent.real, path.posix.basename(abs));
    const final = this.lookup(base, false);
    if (final?.node.kind !== 'symlink') return base;
    const followed = this.lookup(base, true);
    if (followed !== null) return followed.real;
    return path.posix.resolve(path.posix.dirname(base), final.node.target);
  }

  /** `mkdir -p`; returns the directories it created, outermost first. */
  private mkdirs(abs: string): string[] {
    const created: string[] = [];
    let dir = this.rootNode as Extract<MemNode, { kind: 'dir' }>;
    let real = '/';
    for (const name of abs.split('/').filter((s) => s !== '')) {
      const next = path.posix.join(real, name);
      const child = dir.entries.get(name);
      if (child === undefined) {
        const made = this.newDir();
        dir.entries.set(name, made);
        dir.mtimeNs = made.mtimeNs;
        created.push(next);
        dir = made;
        real = next;
        continue;
      }
      const found = this.lookup(next, true);
      if (found?.node.kind !== 'dir') throw fsError('ENOTDIR', next);
      dir = found.node;
      real = found.real;
    }
    return created;
  }

  private dirAt(abs: string): Extract<MemNode, { kind: 'dir' }> {
    const found = this.lookup(abs, true);
    if (found?.node.kind !== 'dir') throw fsError('ENOTDIR', abs);
    return found.node;
  }

  private newDir(): Extract<MemNode, { kind: 'dir' }> {
    return { kind: 'dir', entries: new Map(), ...this.meta(this.stamp(), undefined, 0o755) };
  }

  private meta(mtimeNs: bigint, uid: number | undefined, mode: number): NodeMeta {
    return { ino: this.nextIno++, mtimeNs, uid: uid ?? this.defaultUid, mode };
  }

  /** The next logical instant, or `given` (moving the clock past it so later writes stay newer). */
  private stamp(given?: bigint): bigint {
    if (given !== undefined) {
      if (given >= this.clockNs) this.clockNs = given + 1n;
      return given;
    }
    return this.clockNs++;
  }

  /** Delivers `changed` for each path to the watchers covering it, and `rootRemoved` to those whose root went. */
  private notify(paths: string[], removed?: string): void {
    this.deliver((w) => {
      if (removed !== undefined && isInside(w.spec.root, removed)) return { type: 'rootRemoved' };
      return null;
    });
    for (const p of paths) {
      this.deliver((w) => {
        if (removed !== undefined && isInside(w.spec.root, removed)) return null;
        return covers(w.spec, p) ? { type: 'changed', path: p } : null;
      });
    }
  }

  private deliver(eventFor: (w: Watcher) => WatchEvent | null): void {
    for (const watcher of [...this.watchers]) {
      if (watcher.closed) continue;
      const event = eventFor(watcher);
      if (event !== null) watcher.listener(event);
    }
  }
}

/** Whether a watch spec hears about `p`: at or under a watched path and not under an ignored one. */
function covers(spec: WatchSpec, p: string): boolean {
  if (spec.ignored.some((ignored) => isInside(p, ignored))) return false;
  return spec.paths.some((watched) => isInside(p, watched));
}

/** Every path in a subtree, deepest first (the order `rm -rf` unlinks them). */
function listTree(node: MemNode, at: string): string[] {
  if (node.kind !== 'dir') return [at];
  const below = [...node.entries].flatMap(([name, child]) => listTree(child, path.posix.join(at, name)));
  return [...below, at];
}

/** Absolute without lexical `..` folding: lookups resolve `..` physically, as the kernel does. */
function absolute(p: string): string {
  return path.posix.isAbsolute(p) ? p : path.posix.resolve(p);
}

function fsError(code: string, p: string): Error & { code: string } {
  return Object.assign(new Error(`${code}: ${p}`), { code });
}
