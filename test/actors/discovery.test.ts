import { describe, expect, it } from 'vitest';
import { createWarden, FakeProcesses, MemoryFs, MemoryMountTable, simulatedClock, type WardenEvent } from '../../src/index.js';

/** Mount discovery (SPEC §13 discoverMounts) with the in-memory mount table. */
const MANIFEST = JSON.stringify({ version: 1, caches: [{ name: 'out', output: 'cache/out.txt', sources: ['src'] }], rebuilder: 'r' });
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

function setup() {
  const clock = simulatedClock(0);
  const fs = new MemoryFs();
  for (const dir of ['/media/usb', '/media/moved', '/mnt/ro', '/mnt/nfs', '/mnt/plain']) {
    fs.writeFile(`${dir}/.volwarden.json`, MANIFEST, { mode: 0o644 });
    fs.writeFile(`${dir}/src/a.txt`, 'a');
    fs.writeFile(`${dir}/cache/out.txt`, 'built');
  }
  fs.remove('/mnt/plain/.volwarden.json');
  const mounts = new MemoryMountTable();
  mounts.mount({ mountPoint: '/', fsType: 'ext4', source: '/dev/vda', readOnly: false });
  mounts.mount({ mountPoint: '/mnt/ro', fsType: 'ext4', source: '/dev/vdc', readOnly: true });
  mounts.mount({ mountPoint: '/mnt/nfs', fsType: 'nfs4', source: 'server:/x', readOnly: false });
  mounts.mount({ mountPoint: '/mnt/plain', fsType: 'ext4', source: '/dev/vdd', readOnly: false });
  mounts.mount({ mountPoint: '/proc', fsType: 'proc', source: 'proc', readOnly: false });
  const warden = createWarden({
    discoverMounts: true,
    settleMs: 10,
    rebuilders: { r: { command: ['/bin/true'] } },
    adapters: { fs, clock, mounts, processes: new FakeProcesses({ clock }) },
  });
  const events: WardenEvent[] = [];
  warden.events$.subscribe((e) => events.push(e));
  return { fs, mounts, warden, events, ids: () => warden.status().volumes.map((v) => `${v.id} ${v.root} ${v.state}`) };
}

describe('mount discovery', () => {
  it('finds local writable mounts with a manifest, skipping read-only, network and pseudo file systems', async () => {
    const t = setup();
    await t.warden.start();
    expect(t.ids()).toEqual([]);
    t.mounts.mount({ mountPoint: '/media/usb', fsType: 'vfat', source: '/dev/sdb1', readOnly: false, uuid: '1234-ABCD' });
    await settle();
    expect(t.ids()).toEqual(['uuid:1234-ABCD /media/usb idle']);
    await t.warden.stop();
  });

  it('makes an unmounted or read-only remounted volume gone, answering its waiters ENOENT', async () => {
    const t = setup();
    t.mounts.mount({ mountPoint: '/media/usb', fsType: 'vfat', source: '/dev/sdb1', readOnly: false, uuid: 'U1' });
    await t.warden.start();
    await settle();
    const lease = await t.warden.lockVolume('uuid:U1');
    const waiter = t.warden.lockVolume('uuid:U1', { wait: true }).catch((e: unknown) => e);
    t.mounts.remount('/media/usb', { readOnly: true });
    await settle();
    expect(await waiter).toMatchObject({ code: 'ENOENT' });
    await expect(lease.lost).resolves.toMatchObject({ code: 'ENOENT' });
    expect(t.ids()).toEqual([]);
    expect(t.events.filter((e) => e.type === 'volume.gone').map((e) => e.volume)).toEqual(['uuid:U1']);
    t.mounts.remount('/media/usb', { readOnly: false });
    await settle();
    expect(t.ids()).toEqual(['uuid:U1 /media/usb idle']);
    t.mounts.unmount('/media/usb');
    await settle();
    expect(t.ids()).toEqual([]);
    await t.warden.stop();
  });

  it('keeps the uuid: id when the filesystem moves to another mount point', async () => {
    const t = setup();
    t.mounts.mount({ mountPoint: '/media/usb', fsType: 'vfat', source: '/dev/sdb1', readOnly: false, uuid: 'U2' });
    await t.warden.start();
    await settle();
    t.mounts.move('/media/usb', '/media/moved');
    await settle();
    expect(t.ids()).toEqual(['uuid:U2 /media/moved idle']);
    await t.warden.stop();
  });

  it('makes one volume of a mount and its bind alias: the lock stays, and unmounting the alias changes nothing', async () => {
    const t = setup();
    t.fs.writeFile('/mnt/alias/.volwarden.json', MANIFEST, { mode: 0o644 });
    const usb = { fsType: 'vfat', source: '/dev/sdb1', readOnly: false, uuid: 'U1', device: '8:17', fsRoot: '/' };
    t.mounts.mount({ mountPoint: '/media/usb', ...usb });
    await t.warden.start();
    await settle();
    const lease = await t.warden.lockVolume('uuid:U1');
    t.mounts.mount({ mountPoint: '/mnt/alias', ...usb });
    await settle();
    expect(t.ids()).toEqual(['uuid:U1 /media/usb idle']);
    expect(t.warden.status('uuid:U1').volumes[0]!.lock.state).toBe('locked');
    t.mounts.unmount('/mnt/alias');
    await settle();
    expect(t.ids()).toEqual(['uuid:U1 /media/usb idle']);
    await lease.release(0);
    expect(t.events.filter((e) => e.type === 'volume.gone')).toEqual([]);
    await t.warden.stop();
  });

  it('keeps a discovered volume and its lock when a reload turns discovery off but lists its root', async () => {
    const t = setup();
    t.mounts.mount({ mountPoint: '/media/usb', fsType: 'vfat', source: '/dev/sdb1', readOnly: false, uuid: 'U1' });
    await t.warden.start();
    await settle();
    const lease = await t.warden.lockVolume('uuid:U1');
    let lost = false;
    void lease.lost.then(() => (lost = true));
    await t.warden.core.reconfigure({ roots: ['/media/usb'], discoverMounts: false, rebuilders: { r: { command: ['/bin/true'] } } });
    await settle();
    expect(lost).toBe(false);
    expect(t.ids()).toEqual(['uuid:U1 /media/usb idle']);
    expect(t.warden.status('uuid:U1').volumes[0]!.lock.state).toBe('locked');
    await lease.release(0);
    await t.warden.stop();
  });
});

