import { describe, expect, it } from 'vitest';
import { simulatedClock } from '../../src/adapters/clock.js';
import { MemoryFs } from '../../src/adapters/fs.memory.js';
import { MemoryMountTable } from '../../src/adapters/mount-table.memory.js';
import { FakeProcesses } from '../../src/adapters/processes.memory.js';
import { MemoryStateStore } from '../../src/adapters/state-store.memory.js';
import { createWarden } from '../../src/actors/library.js';
import { WardenError } from '../../src/errors.js';
import type { WardenEvent } from '../../src/protocol/events.js';

// The reboot lock (SPEC §6) through a whole warden on in-memory adapters: two clean volumes, an
// in-process rebuild the test finishes by hand, and a simulated clock.

const ROOTS = ['/a', '/b'];
const SETTLE_MS = 100;
// `command` is never run: the in-process `rebuild` replaces it (SPEC §12).
const MANIFEST = { version: 1, caches: [{ name: 'out', output: 'cache/out.txt', sources: ['src'] }], command: ['./build.sh'] };

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

/** The error code a promise rejects with, or 'OK'. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'OK';
  } catch (err) {
    return err instanceof WardenError ? err.code : String(err);
  }
}

/** A file tree whose reads can be held up, to put other requests in the middle of an examination. */
class GatedFs extends MemoryFs {
  private gate: Promise<void> | null = null;
  private ungate: () => void = () => {};

  /** From now on every stat waits until the returned function is called. */
  hold(): () => void {
    this.gate = new Promise<void>((resolve) => {
      this.ungate = () => {
        this.gate = null;
        resolve();
      };
    });
    return () => this.ungate();
  }

  override async stat(p: string) {
    if (this.gate) await this.gate;
    return super.stat(p);
  }

  override async lstat(p: string) {
    if (this.gate) await this.gate;
    return super.lstat(p);
  }
}

async function setup(options: { limits?: { maxWaiters?: number } } = {}) {
  const clock = simulatedClock(1_000_000);
  const fs = new GatedFs({ uid: 1000 });
  for (const root of ROOTS) {
    // The output is written last: its mtime is the newest, so every cache starts clean.
    fs.writeFile(`${root}/.volwarden.json`, JSON.stringify(MANIFEST), { uid: 1000, mode: 0o644 });
    fs.writeFile(`${root}/src/a.txt`, 'alpha');
    fs.writeFile(`${root}/cache/out.txt`, 'built');
  }
  const rebuilds: Array<{ root: string; finish(status: number): Promise<void> }> = [];
  const warden = createWarden({
    roots: ROOTS,
    settleMs: SETTLE_MS,
    daemonUid: 1000,
    rebuild: (volume) =>
      new Promise<number>((resolve) => {
        rebuilds.push({
          root: volume.root,
          finish: async (status) => {
            if (status === 0) fs.writeFile(`${volume.root}/cache/out.txt`, 'rebuilt');
            resolve(status);
            await settle();
          },
        });
      }),
    adapters: { fs, processes: new FakeProcesses({ clock }), clock, mounts: new MemoryMountTable(), state: new MemoryStateStore() },
    ...(options.limits ? { limits: options.limits } : {}),
  });
  const events: WardenEvent[] = [];
  warden.events$.subscribe((e) => events.push(e));
  await warden.start();
  await settle();
  const stateOf = (root: string) => warden.status(root).volumes[0]!.state;
  expect(ROOTS.map(stateOf)).toEqual(['idle', 'idle']);
  /** Edits a source and lets the settle timer pass. */
  const touchSource = async (root: string) => {
    fs.writeFile(`${root}/src/a.txt`, `changed at ${clock.now()}`);
    await settle();
    clock.advance(SETTLE_MS + 1);
    await settle();
  };
  return { clock, fs, warden, events, rebuilds, stateOf, touchSource };
}

describe('reboot lock through the warden', () => {
  it('is granted at once when every volume is clean and unlocked', async () => {
    const t = await setup();
    const lease = await t.warden.lockReboot({ owner: 'shutdown' });
    expect(t.warden.status().reboot).toMatchObject({ state: 'held', holder: { name: 'shutdown' } });
    expect(t.events.filter((e) => e.type === 'reboot.locked')).toHaveLength(1);
    await lease.release();
    expect(t.warden.status().reboot).toEqual({ state: 'free' });
    await t.warden.stop();
  });

  it('answers EBUSY with busyVolume when a volume is locked', async () => {
    const t = await setup();
    const lease = await t.warden.lockVolume('/b', { owner: 'backup' });
    const err = await t.warden.lockReboot().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WardenError);
    expect(err).toMatchObject({ code: 'EBUSY', busyVolume: 'path:/b' });
    expect(t.warden.status().reboot).toEqual({ state: 'free' });
    await lease.release(0);
    await t.warden.stop();
  });

  it('answers EBUSY for a stale volume and starts its rebuild', async () => {
    const t = await setup();
    t.fs.writeFile('/a/src/a.txt', 'newer than the output');
    expect(await codeOf(t.warden.lockReboot())).toBe('EBUSY');
    await settle();
    expect(t.rebuilds.map((r) => r.root)).toEqual(['/a']);
    await t.rebuilds[0]!.finish(0);
    expect(t.stateOf('/a')).toBe('idle');
    expect(await codeOf(t.warden.lockReboot())).toBe('OK');
    await t.warden.stop();
  });

  it('makes a waiting caller the single waiter, granted when the holder releases; a second waiter gets EBUSY', async () => {
    const t = await setup();
    const lease = await t.warden.lockVolume('/a', { owner: 'helper' });
    let granted = false;
    const waiting = t.warden.lockReboot({ wait: true, owner: 'shutdown' }).then((l) => {
      granted = true;
      return l;
    });
    await settle();
    expect(t.warden.status().reboot).toMatchObject({ state: 'waiting', waiter: { name: 'shutdown' } });
    const second = await t.warden.lockReboot({ wait: true, owner: 'late' }).catch((e: unknown) => e);
    expect(second).toMatchObject({ code: 'EBUSY', busyVolume: 'path:/a' });
    expect(granted).toBe(false);

    await lease.release(0);
    await settle();
    expect(granted).toBe(true);
    expect(t.warden.status().reboot).toMatchObject({ state: 'held', holder: { name: 'shutdown' } });
    await (await waiting).release();
    await t.warden.stop();
  });

  it('answers EALREADY while held, and volume locks get ENOLCK', async () => {
    const t = await setup();
    const lease = await t.warden.lockReboot({ owner: 'shutdown' });
    expect(await codeOf(t.warden.lockReboot())).toBe('EALREADY');
    expect(await codeOf(t.warden.lockReboot({ wait: true }))).toBe('EALREADY');
    expect(await codeOf(t.warden.lockVolume('/a'))).toBe('ENOLCK');
    expect(await codeOf(t.warden.lockVolume('/b', { wait: true }))).toBe('ENOLCK');
    await lease.release();
    expect(await codeOf(t.warden.lockVolume('/a').then((l) => l.release()))).toBe('OK');
    await t.warden.stop();
  });

  it('is released when its holder dies', async () => {
    const t = await setup();
    const holder = t.warden.core.libraryClient('shutdown');
    await t.warden.core.lockReboot(holder, false);
    expect(t.warden.status().reboot.state).toBe('held');
    t.warden.core.clients.died(holder.id);
    expect(t.warden.status().reboot).toEqual({ state: 'free' });
    expect(await codeOf(t.warden.lockVolume('/a').then((l) => l.release()))).toBe('OK');
    await t.warden.stop();
  });

  it('forgets a waiter that dies, so the next caller may wait', async () => {
    const t = await setup();
    const lease = await t.warden.lockVolume('/a');
    const waiter = t.warden.core.libraryClient('first');
    const first = codeOf(t.warden.core.lockReboot(waiter, true));
    await settle();
    t.warden.core.clients.died(waiter.id);
    expect(t.warden.status().reboot).toEqual({ state: 'free' });
    const next = t.warden.lockReboot({ wait: true, owner: 'second' });
    await settle();
    expect(t.warden.status().reboot).toMatchObject({ state: 'waiting', waiter: { name: 'second' } });
    await lease.release(0);
    await (await next).release();
    // The dead waiter never gets a reply.
    const raced = await Promise.race([first, settle().then(() => 'no reply')]);
    expect(raced).toBe('no reply');
    await t.warden.stop();
  });

  it('starts no automatic rebuild while held, and rebuilds the stale volume after release', async () => {
    const t = await setup();
    const lease = await t.warden.lockReboot({ owner: 'shutdown' });
    await t.touchSource('/a');
    t.clock.advance(10 * SETTLE_MS);
    await settle();
    expect(t.rebuilds).toEqual([]);
    expect(t.warden.status('/a').volumes[0]).toMatchObject({ state: 'idle', stale: [{ name: 'out' }] });

    await lease.release();
    await settle();
    expect(t.rebuilds.map((r) => r.root)).toEqual(['/a']);
    expect(t.stateOf('/a')).toBe('rebuilding');
    await t.rebuilds[0]!.finish(0);
    expect(t.warden.status('/a').volumes[0]).toMatchObject({ state: 'idle', stale: [] });
    expect(t.stateOf('/b')).toBe('idle');
    await t.warden.stop();
  });

  it('grants a waiter once a stale volume has been rebuilt', async () => {
    const t = await setup();
    t.fs.writeFile('/b/src/a.txt', 'newer');
    let granted = false;
    const waiting = t.warden.lockReboot({ wait: true }).then((l) => {
      granted = true;
      return l;
    });
    await settle();
    expect(t.warden.status().reboot.state).toBe('waiting');
    expect(t.rebuilds.map((r) => r.root)).toEqual(['/b']);
    await t.rebuilds[0]!.finish(0);
    await settle();
    expect(granted).toBe(true);
    await (await waiting).release();
    await t.warden.stop();
  });

  it('refuses the reboot lock when a volume was locked while the others were still being examined', async () => {
    const t = await setup();
    const release = t.fs.hold();
    const reboot = codeOf(t.warden.lockReboot({ owner: 'shutdown' }));
    await settle();
    // /a has been looked at and found unlocked; it is locked before the examination ends.
    const lease = await t.warden.lockVolume('/a', { owner: 'late helper' });
    release();
    expect(await reboot).toBe('EBUSY');
    expect(t.warden.status().reboot).toEqual({ state: 'free' });
    expect(t.warden.status('/a').volumes[0]!.lock.state).toBe('locked');
    await lease.release(0);
    await t.warden.stop();
  });

  it('grants a waiter whose busy volume was released while the volumes were still being examined', async () => {
    const t = await setup();
    const lease = await t.warden.lockVolume('/a', { owner: 'helper' });
    const release = t.fs.hold();
    let granted = false;
    const waiting = t.warden.lockReboot({ wait: true, owner: 'shutdown' }).then((l) => {
      granted = true;
      return l;
    });
    await settle();
    // The release happens while the examination (which found /a locked) is still reading /b.
    await lease.release(0);
    release();
    await settle();
    expect(granted).toBe(true);
    expect(t.warden.status().reboot).toMatchObject({ state: 'held', holder: { name: 'shutdown' } });
    await (await waiting).release();
    await t.warden.stop();
  });

  it('examines volumes only once they have loaded when asked during start', async () => {
    const clock = simulatedClock(1_000_000);
    const fs = new MemoryFs({ uid: 1000 });
    fs.writeFile('/a/.volwarden.json', JSON.stringify(MANIFEST), { uid: 1000, mode: 0o644 });
    fs.writeFile('/a/src/a.txt', 'alpha');
    const rebuilds: string[] = [];
    const warden = createWarden({
      roots: ['/a'],
      daemonUid: 1000,
      rebuild: async (volume) => {
        rebuilds.push(volume.root);
        return 0;
      },
      adapters: { fs, processes: new FakeProcesses({ clock }), clock, mounts: new MemoryMountTable(), state: new MemoryStateStore() },
    });
    const started = warden.start();
    expect(warden.status().daemon.state).toBe('starting');
    // The output is missing: the volume is stale, so the reboot lock must not be granted.
    const err = await warden.lockReboot({ owner: 'shutdown' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EBUSY', busyVolume: 'path:/a' });
    await started;
    await settle();
    expect(rebuilds).toEqual(['/a']);
    await warden.stop();
  });
});

describe('the daemon\'s own rebuild and maxWaiters', () => {
  it('queues the daemon-mode rebuild even when maxWaiters clients already wait, so the volume never sticks in checking', async () => {
    const t = await setup({ limits: { maxWaiters: 1 } });
    const holder = await t.warden.lockVolume('/a', { owner: 'holder' });
    const waiter = t.warden.lockVolume('/a', { wait: true, owner: 'waiter' });
    await settle();
    expect(await codeOf(t.warden.lockVolume('/a', { wait: true, owner: 'third' }))).toBe('ENOBUFS');
    await t.touchSource('/a');
    expect(t.stateOf('/a')).toBe('checking');
    expect(t.warden.status('/a').volumes[0]!.lock.waiters).toBe(2);
    await holder.release(0);
    await (await waiter).release(0);
    await settle();
    expect(t.rebuilds.map((r) => r.root)).toEqual(['/a']);
    await t.rebuilds[0]!.finish(0);
    expect(t.warden.status('/a').volumes[0]).toMatchObject({ state: 'idle', stale: [] });
    await t.warden.stop();
  });
});
