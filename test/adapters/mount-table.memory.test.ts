import { describe, expect, it } from 'vitest';
import { MemoryMountTable } from '../../src/adapters/mount-table.memory.js';
import type { MountEntry } from '../../src/adapters/types.js';

const rootFs: MountEntry = { mountPoint: '/', fsType: 'ext4', source: '/dev/vda', readOnly: false };
const usb: MountEntry = { mountPoint: '/media/usb', fsType: 'vfat', source: '/dev/sdb1', readOnly: false, uuid: '1234-ABCD' };

describe('MemoryMountTable', () => {
  it('lists the initial entries as copies', async () => {
    const table = new MemoryMountTable([rootFs]);
    const listed = await table.list();
    listed[0].readOnly = true;
    expect(await table.list()).toEqual([rootFs]);
  });

  it('tells watchers synchronously about mount, remount, move and unmount', async () => {
    const table = new MemoryMountTable([rootFs]);
    let changes = 0;
    table.watch(() => changes++);

    table.mount(usb);
    expect(changes).toBe(1);
    table.remount('/media/usb', { readOnly: true });
    expect(changes).toBe(2);
    expect(table.snapshot()[1]).toEqual({ ...usb, readOnly: true });
    table.move('/media/usb', '/mnt/usb');
    expect(changes).toBe(3);
    expect(table.snapshot().map((e) => e.mountPoint)).toEqual(['/', '/mnt/usb']);
    expect(table.unmount('/mnt/usb')).toBe(true);
    expect(changes).toBe(4);
    expect(await table.list()).toEqual([rootFs]);
  });

  it('ignores operations on mount points that are not mounted, telling nobody', () => {
    const table = new MemoryMountTable([rootFs]);
    let changes = 0;
    table.watch(() => changes++);
    expect(table.unmount('/nope')).toBe(false);
    expect(table.remount('/nope', { readOnly: true })).toBe(false);
    expect(table.move('/nope', '/x')).toBe(false);
    expect(changes).toBe(0);
  });

  it('moves the mounts beneath a moved mount along with it', () => {
    const table = new MemoryMountTable([rootFs, usb, { ...usb, mountPoint: '/media/usb/inner', uuid: 'INNER' }]);
    table.move('/media/usb', '/srv/usb');
    expect(table.snapshot().map((e) => e.mountPoint)).toEqual(['/', '/srv/usb', '/srv/usb/inner']);
  });

  it('unmounts the topmost of stacked mounts first', () => {
    const table = new MemoryMountTable([rootFs, usb, { ...usb, uuid: 'UPPER' }]);
    table.unmount('/media/usb');
    expect(table.snapshot().filter((e) => e.mountPoint === '/media/usb')).toEqual([usb]);
  });

  it('stops calling a watcher after close', async () => {
    const table = new MemoryMountTable();
    let changes = 0;
    await table.watch(() => changes++).close();
    table.mount(usb);
    expect(changes).toBe(0);
  });
});
