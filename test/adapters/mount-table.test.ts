import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createProcMountTable, isNetworkOrPseudoFs, parseMountInfo, parseMountInfoRows,
} from '../../src/adapters/mount-table.js';

const SAMPLE = [
  '26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard',
  '21 26 0:20 / /proc rw,relatime shared:12 - proc proc rw',
  '36 26 8:17 / /media/my\\040usb\\040disk rw,nosuid,nodev shared:1 master:2 - vfat /dev/sdb1 rw,fmask=0022',
  '37 26 8:17 /photos /srv/photos ro,relatime shared:1 - vfat /dev/sdb1 rw,fmask=0022',
  '38 26 0:45 / /mnt/cd ro,relatime - iso9660 /dev/sr0 ro',
  '39 26 0:46 / /mnt/nfs rw,relatime - nfs4 server:/export rw,vers=4.2',
  '40 26 0:47 / /tmp/back\\134slash\\011tab rw - tmpfs tmpfs rw',
  '',
].join('\n');

describe('parseMountInfo', () => {
  it('parses mount points, file system types, sources and read-only flags', () => {
    const entries = parseMountInfo(SAMPLE);
    expect(entries[0]).toEqual({ mountPoint: '/', fsType: 'ext4', source: '/dev/vda', readOnly: false });
    expect(entries.map((e) => e.mountPoint)).toEqual([
      '/', '/proc', '/media/my usb disk', '/srv/photos', '/mnt/cd', '/mnt/nfs', '/tmp/back\\slash\ttab',
    ]);
  });

  it('skips any number of optional fields up to the separator', () => {
    const usb = parseMountInfo(SAMPLE)[2];
    expect(usb).toEqual({ mountPoint: '/media/my usb disk', fsType: 'vfat', source: '/dev/sdb1', readOnly: false });
  });

  it('treats ro in either the mount or the super options as read-only', () => {
    const entries = parseMountInfo(SAMPLE);
    expect(entries.find((e) => e.mountPoint === '/srv/photos')?.readOnly).toBe(true);
    expect(entries.find((e) => e.mountPoint === '/mnt/cd')?.readOnly).toBe(true);
  });

  it('lists a bind mount as its own entry, remembering which subtree it shows', () => {
    const rows = parseMountInfoRows(SAMPLE);
    const bind = rows.find((r) => r.entry.mountPoint === '/srv/photos')!;
    expect(bind).toMatchObject({ device: '8:17', fsRoot: '/photos' });
  });

  it('skips malformed lines instead of throwing', () => {
    expect(parseMountInfo('garbage\n1 2 3\n26 1 254:0 / / rw - ext4 /dev/vda rw\n')).toHaveLength(1);
  });

  it('parses the real /proc/self/mountinfo, which contains /', () => {
    let text: string;
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return; // Not Linux.
    }
    const entries = parseMountInfo(text);
    expect(entries.some((e) => e.mountPoint === '/')).toBe(true);
  });
});

describe('isNetworkOrPseudoFs', () => {
  it('skips network, pseudo and read-only-by-nature file systems', () => {
    for (const fs of ['nfs', 'nfs4', 'cifs', 'smb3', 'fuse.sshfs', '9p', 'ceph', 'glusterfs', 'proc', 'sysfs',
      'devtmpfs', 'cgroup2', 'devpts', 'autofs', 'squashfs']) {
      expect(isNetworkOrPseudoFs(fs), fs).toBe(true);
    }
  });

  it('keeps local writable file systems, tmpfs and overlay included', () => {
    for (const fs of ['ext4', 'xfs', 'btrfs', 'vfat', 'tmpfs', 'overlay']) expect(isNetworkOrPseudoFs(fs), fs).toBe(false);
  });
});

describe('createProcMountTable', () => {
  let dir: string;
  let mountInfoPath: string;
  let byUuidDir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'volwarden-mounts-'));
    mountInfoPath = join(dir, 'mountinfo');
    byUuidDir = join(dir, 'by-uuid');
    mkdirSync(join(dir, 'dev'));
    mkdirSync(byUuidDir);
    writeFileSync(join(dir, 'dev', 'sdb1'), '');
    symlinkSync(join(dir, 'dev', 'sdb1'), join(byUuidDir, '1234-ABCD'));
    symlinkSync(join(dir, 'dev', 'gone'), join(byUuidDir, 'DANGLING'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const line = (id: number, fsRoot: string, mountPoint: string) =>
    `${id} 1 8:17 ${fsRoot} ${mountPoint} rw - ext4 ${join(dir, 'dev', 'sdb1')} rw`;

  it('resolves the UUID of a mounted device, but not for a bind of a subtree', async () => {
    writeFileSync(mountInfoPath, `${line(1, '/', '/media/usb')}\n${line(2, '/sub', '/srv/sub')}\n`);
    const entries = await createProcMountTable({ mountInfoPath, byUuidDir }).list();
    expect(entries[0].uuid).toBe('1234-ABCD');
    expect(entries[1].uuid).toBeUndefined();
  });

  it('lists the real mount table without throwing', async () => {
    if (process.platform !== 'linux') return;
    const entries = await createProcMountTable().list();
    expect(entries.some((e) => e.mountPoint === '/')).toBe(true);
  });

  it('calls onChange when the table changes, and not after close', async () => {
    writeFileSync(mountInfoPath, `${line(1, '/', '/')}\n`);
    let changes = 0;
    const handle = createProcMountTable({ mountInfoPath, byUuidDir, pollMs: 10 }).watch(() => changes++);
    await new Promise((r) => setTimeout(r, 100));
    expect(changes).toBe(0);
    writeFileSync(mountInfoPath, `${line(1, '/', '/')}\n${line(2, '/', '/media/usb')}\n`);
    const deadline = Date.now() + 10_000;
    while (changes === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(changes).toBe(1);
    await handle.close();
    writeFileSync(mountInfoPath, `${line(1, '/', '/')}\n`);
    await new Promise((r) => setTimeout(r, 100));
    expect(changes).toBe(1);
  });

  it('counts a mount made between list() and the start of watching as a change', async () => {
    writeFileSync(mountInfoPath, `${line(1, '/', '/')}\n`);
    const table = createProcMountTable({ mountInfoPath, byUuidDir, pollMs: 10 });
    await table.list();
    writeFileSync(mountInfoPath, `${line(1, '/', '/')}\n${line(2, '/', '/media/usb')}\n`);
    let changes = 0;
    const handle = table.watch(() => changes++);
    await new Promise((r) => setTimeout(r, 100));
    await handle.close();
    expect(changes).toBe(1);
  });
});
