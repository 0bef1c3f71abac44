/**
 * The mount table (SPEC §13 `discoverMounts`, §1 volume ids): /proc/self/mountinfo parsed into
 * rows, filesystem UUIDs found through /dev/disk/by-uuid, and changes noticed by polling (Node
 * cannot wait for the POLLPRI that mountinfo raises on change).
 */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { MountAdapter, MountEntry, WatchHandle } from './types.js';

/** One mountinfo line with the fields the UUID lookup needs besides the public entry. */
export interface MountInfoRow {
  entry: MountEntry;
  /** `major:minor` of the mounted device. */
  device: string;
  /** Which directory of the filesystem is mounted here (`/` unless a bind mount of a subtree). */
  fsRoot: string;
}

export interface ProcMountTableOptions {
  /** How often `watch` re-reads the table (default 1000 ms). */
  pollMs?: number;
  /** Defaults to /proc/self/mountinfo; tests point it at a fixture. */
  mountInfoPath?: string;
  /** Defaults to /dev/disk/by-uuid; tests point it at a directory of symlinks. */
  byUuidDir?: string;
}

// Network file systems (slow, shared, not ours to index) and kernel pseudo file systems.
// tmpfs, ramfs and overlay are local and writable, so they stay eligible.
const SKIPPED_FS_TYPES = new Set([
  'nfs', 'nfs4', 'cifs', 'smb3', 'smbfs', 'sshfs', 'fuse.sshfs', '9p', 'ceph', 'fuse.ceph', 'glusterfs',
  'fuse.glusterfs', 'afs', 'ncpfs', 'lustre', 'fuse.rclone', 'fuse.s3fs', 'davfs', 'fuse.davfs2',
  'proc', 'sysfs', 'devtmpfs', 'cgroup', 'cgroup2', 'devpts', 'mqueue', 'debugfs', 'tracefs',
  'securityfs', 'pstore', 'bpf', 'autofs', 'binfmt_misc', 'configfs', 'fusectl', 'hugetlbfs',
  'efivarfs', 'rpc_pipefs', 'nsfs', 'nfsd', 'selinuxfs', 'squashfs', 'erofs', 'iso9660',
  'fuse.lxcfs', 'fuse.portal', 'fuse.gvfsd-fuse', 'fuse.gcsfuse', 'fuse.juicefs',
]);

/**
 * Whether `discoverMounts` must skip a file system type: network, kernel pseudo, or read-only by nature.
 *
 * @example
 * isNetworkOrPseudoFs('nfs4'); // → true
 * isNetworkOrPseudoFs('ext4'); // → false
 */
export function isNetworkOrPseudoFs(fsType: string): boolean {
  return SKIPPED_FS_TYPES.has(fsType);
}

/**
 * Parses /proc/self/mountinfo text. Malformed lines are skipped, never thrown.
 *
 * @example
 * parseMountInfo('36 35 98:0 / /mnt/my\\040disk rw,noatime shared:1 - ext4 /dev/sdb1 rw\n');
 * // → [{ mountPoint: '/mnt/my disk', fsType: 'ext4', source: '/dev/sdb1', readOnly: false }]
 */
export function parseMountInfo(text: string): MountEntry[] {
  return parseMountInfoRows(text).map((row) => row.entry);
}

/** Like {@link parseMountInfo}, keeping the device number and mounted subtree of each row. */
export function parseMountInfoRows(text: string): MountInfoRow[] {
  const rows: MountInfoRow[] = [];
  for (const line of text.split('\n')) {
    const row = parseLine(line);
    if (row) rows.push(row);
  }
  return rows;
}

// Format (proc(5)): id parent major:minor root mount-point mount-options [optional...] - fstype source super-options
function parseLine(line: string): MountInfoRow | undefined {
  const fields = line.split(' ');
  const separator = fields.indexOf('-', 6);
  if (separator < 0 || fields.length < separator + 4) return undefined;
  const [, , device, fsRoot, mountPoint, mountOptions] = fields;
  const [fsType, source, superOptions] = fields.slice(separator + 1);
  if (!/^\d+:\d+$/.test(device) || !mountPoint.startsWith('/')) return undefined;
  // A read-only bind of a writable file system is ro in the per-mount options only.
  const readOnly = hasOption(mountOptions, 'ro') || hasOption(superOptions, 'ro');
  return {
    entry: { mountPoint: unescapeOctal(mountPoint), fsType: unescapeOctal(fsType), source: unescapeOctal(source), readOnly },
    device,
    fsRoot: unescapeOctal(fsRoot),
  };
}

function hasOption(options: string, option: string): boolean {
  return options.split(',').includes(option);
}

/** The kernel writes space, tab, newline and backslash as `\040`, `\011`, `\012`, `\134`. */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * The real mount table.
 *
 * @example
 * const mounts = createProcMountTable();
 * const handle = mounts.watch(async () => rescan(await mounts.list()));
 */
export function createProcMountTable(options: ProcMountTableOptions = {}): MountAdapter {
  const mountInfoPath = options.mountInfoPath ?? '/proc/self/mountinfo';
  const byUuidDir = options.byUuidDir ?? '/dev/disk/by-uuid';
  const pollMs = options.pollMs ?? 1000;
  let listed: string | undefined;

  return {
    async list() {
      const text = await readFile(mountInfoPath, 'utf8');
      listed = text;
      const rows = parseMountInfoRows(text);
      const uuids = await readUuids(byUuidDir);
      const entries: MountEntry[] = [];
      for (const row of rows) {
        // Only a mount of the whole file system stands for its UUID; a bind of a subtree does not.
        const uuid = row.fsRoot === '/' ? await uuidOf(row, uuids) : undefined;
        const entry = { ...row.entry, device: row.device, fsRoot: row.fsRoot };
        entries.push(uuid === undefined ? entry : { ...entry, uuid });
      }
      return entries;
    },
    watch(onChange) {
      // What the caller last listed is the baseline: a mount made since then is a change.
      return pollForChanges(mountInfoPath, pollMs, onChange, listed);
    },
  };
}

interface UuidIndex {
  byDevice: Map<string, string>;
  byPath: Map<string, string>;
}

async function readUuids(dir: string): Promise<UuidIndex> {
  const index: UuidIndex = { byDevice: new Map(), byPath: new Map() };
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return index; // No udev (containers): no UUIDs, volumes get path ids.
  }
  for (const name of names) {
    try {
      const target = await realpath(join(dir, name));
      index.byPath.set(target, name);
      const info = await stat(target, { bigint: true });
      if (info.isBlockDevice()) index.byDevice.set(deviceString(info.rdev), name);
    } catch {
      // A dangling link (device just removed): skip it.
    }
  }
  return index;
}

async function uuidOf(row: MountInfoRow, uuids: UuidIndex): Promise<string | undefined> {
  const byDevice = uuids.byDevice.get(row.device);
  if (byDevice !== undefined) return byDevice;
  if (!row.entry.source.startsWith('/')) return undefined; // `proc`, `tmpfs`, `server:/export`: no device node.
  try {
    return uuids.byPath.get(await realpath(row.entry.source));
  } catch {
    return undefined;
  }
}

/** glibc's `major()`/`minor()` for a Linux dev_t. */
function deviceString(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n);
  const minor = (dev & 0xffn) | ((dev >> 12n) & 0xffffff00n);
  return `${major}:${minor}`;
}

function pollForChanges(path: string, pollMs: number, onChange: () => void, baseline: string | undefined): WatchHandle {
  let last = baseline;
  let closed = false;
  let reading = false;

  const poll = async (): Promise<void> => {
    if (reading || closed) return;
    reading = true;
    try {
      const text = await readFile(path, 'utf8').catch(() => '');
      if (closed) return;
      // Without a list() before, the first read is the baseline.
      const changed = last !== undefined && text !== last;
      last = text;
      if (changed) onChange();
    } finally {
      reading = false;
    }
  };

  void poll();
  const timer = setInterval(() => void poll(), pollMs);
  return {
    async close() {
      closed = true;
      clearInterval(timer);
    },
  };
}
