import { describe, expect, it } from 'vitest';
import {
  createWarden,
  FakeProcesses,
  MemoryFs,
  MemoryMountTable,
  MemoryStateStore,
  simulatedClock,
  type WardenEvent,
} from '../../src/index.js';

/**
 * A whole warden on in-memory adapters and a simulated clock: the same code paths as the
 * daemon, with the file tree, helpers and time under the test's control.
 */
const ROOT = '/vol';
const MANIFEST = {
  version: 1,
  caches: [{ name: 'out', output: 'cache/out.txt', sources: ['src'] }],
  command: ['./build.sh'],
  installerPidFile: 'run/installer.pid',
};

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

function setup(options: { state?: MemoryStateStore; maxFailures?: number; manifest?: object } = {}) {
  const clock = simulatedClock(1_000_000);
  const fs = new MemoryFs({ uid: 1000 });
  fs.writeFile(`${ROOT}/.volwarden.json`, JSON.stringify(options.manifest ?? MANIFEST), { uid: 1000, mode: 0o644 });
  fs.writeFile(`${ROOT}/src/a.txt`, 'alpha');
  const processes = new FakeProcesses({ clock });
  const state = options.state ?? new MemoryStateStore();
  const warden = createWarden({
    roots: [ROOT],
    settleMs: 100,
    daemonUid: 1000,
    ...(options.maxFailures !== undefined ? { maxFailures: options.maxFailures } : {}),
    adapters: { fs, processes, clock, mounts: new MemoryMountTable(), state },
  });
  const events: WardenEvent[] = [];
  warden.events$.subscribe((e) => events.push(e));
  const volume = () => warden.status().volumes[0]!;
  /** Completes the running helper: it writes the output (newer than sources), then exits. */
  const finishHelper = async (status: number) => {
    await settle();
    const run = processes.running[0];
    expect(run, 'a helper is running').toBeDefined();
    if (status === 0) fs.writeFile(`${ROOT}/cache/out.txt`, 'built');
    run!.exit(status);
    await settle();
  };
  return { clock, fs, processes, state, warden, events, volume, finishHelper };
}

/** A built volume whose lock client `a` holds while client `b` waits. */
async function heldWithWaiter() {
  const t = setup();
  await t.warden.start();
  await t.finishHelper(0);
  const lease = await t.warden.lockVolume(ROOT, { owner: 'a' });
  const waiting = t.warden.lockVolume(ROOT, { owner: 'b', wait: true }).catch((e: unknown) => e);
  await settle();
  return { t, lease, waiting };
}

describe('warden on in-memory adapters', () => {
  it('builds a missing cache under its own lock, then is idle, ready and clean', async () => {
    const t = setup();
    await t.warden.start();
    await settle();
    expect(t.volume().state).toBe('rebuilding');
    expect(t.volume().lock.holder).toMatchObject({ client: 0, name: 'volwarden' });
    const run = t.processes.running[0]!;
    expect(run.request.cwd).toBe(ROOT);
    expect(run.request.env).toMatchObject({ VOLWARDEN_VOLUME: `path:${ROOT}`, VOLWARDEN_ROOT: ROOT, VOLWARDEN_STALE: 'out' });
    expect(Object.keys(run.request.env).sort()).toEqual(['LANG', 'PATH', 'VOLWARDEN_ROOT', 'VOLWARDEN_STALE', 'VOLWARDEN_VOLUME']);
    await t.finishHelper(0);
    expect(t.volume()).toMatchObject({ state: 'idle', stale: [], failures: 0, attempts: 0, lock: { state: 'unlocked', token: 1 } });
    expect(t.events.map((e) => e.type)).toEqual([
      'volume.appeared', 'rebuild.started', 'lock.granted', 'lock.released', 'rebuild.finished', 'volume.ready',
    ]);
    const ns = t.events.map((e) => e.n);
    expect(ns).toEqual([...ns].sort((a, b) => a - b));
    await t.warden.stop();
  });

  it('coalesces a burst of changes into one rebuild after settleMs', async () => {
    const t = setup();
    await t.warden.start();
    await t.finishHelper(0);
    for (let i = 0; i < 10; i++) {
      t.fs.writeFile(`${ROOT}/src/a.txt`, `v${i}`);
      await settle();
      t.clock.advance(50);
    }
    expect(t.volume().state).toBe('settling');
    t.clock.advance(100);
    await settle();
    expect(t.volume().state).toBe('rebuilding');
    await t.finishHelper(0);
    expect(t.processes.history).toHaveLength(2);
    const changed = t.events.filter((e) => e.type === 'volume.changed');
    expect(changed.length).toBeGreaterThan(0);
    expect(changed[0]).toMatchObject({ paths: ['src/a.txt'] });
    await t.warden.stop();
  });

  it('gives up after maxFailures, and retry clears it', async () => {
    const t = setup({ maxFailures: 2 });
    await t.warden.start();
    await t.finishHelper(1);
    expect(t.volume()).toMatchObject({ state: 'idle', failures: 1 });
    t.fs.writeFile(`${ROOT}/src/a.txt`, 'again');
    await settle();
    t.clock.advance(100);
    await t.finishHelper(1);
    expect(t.volume()).toMatchObject({ state: 'gaveUp', failures: 2 });
    expect(t.events.find((e) => e.type === 'volume.gaveUp')).toMatchObject({ reason: expect.stringContaining('2 consecutive failures') });
    t.fs.writeFile(`${ROOT}/src/a.txt`, 'ignored');
    await settle();
    t.clock.advance(1000);
    await settle();
    expect(t.processes.running).toHaveLength(0);
    t.warden.retry(ROOT);
    await t.finishHelper(0);
    expect(t.volume()).toMatchObject({ state: 'idle', failures: 0, attempts: 0 });
    await t.warden.stop();
  });

  it('is suspended while the installer named by installerPidFile is alive', async () => {
    const t = setup();
    await t.warden.start();
    await t.finishHelper(0);
    t.processes.alive.add(4242);
    t.fs.writeFile(`${ROOT}/run/installer.pid`, '4242\n');
    await settle();
    t.clock.advance(100);
    await settle();
    expect(t.volume().state).toBe('suspended');
    t.fs.writeFile(`${ROOT}/src/a.txt`, 'during install');
    t.clock.advance(3000);
    await settle();
    expect(t.volume().state).toBe('suspended');
    expect(t.processes.running).toHaveLength(0);
    t.processes.alive.delete(4242);
    t.clock.advance(1000);
    await settle();
    t.clock.advance(100);
    await settle();
    expect(t.volume().state).toBe('rebuilding');
    await t.warden.stop();
  });

  it('keeps counters and tokens across a restart from the same state store', async () => {
    const state = new MemoryStateStore();
    const first = setup({ state });
    await first.warden.start();
    await first.finishHelper(7);
    expect(first.volume()).toMatchObject({ failures: 1, lock: { token: 1 } });
    await first.warden.stop();
    const second = setup({ state });
    await second.warden.start();
    await settle();
    expect(second.volume().failures).toBe(1);
    await second.finishHelper(0);
    expect(second.volume()).toMatchObject({ failures: 0, lock: { token: 2 } });
    await second.warden.stop();
  });

  it('reloads an edited manifest in place without dropping the lock holder', async () => {
    const t = setup();
    await t.warden.start();
    await t.finishHelper(0);
    const lease = await t.warden.lockVolume(ROOT, { owner: 'editor' });
    t.fs.writeFile(`${ROOT}/.volwarden.json`, JSON.stringify({ ...MANIFEST, settleMs: 200 }), { uid: 1000, mode: 0o644 });
    await settle();
    expect(t.volume().lock.holder).toMatchObject({ name: 'editor' });
    // The manifest is now newer than the output: the daemon queued for the lock and gets it next.
    expect(t.volume().lock.waiters).toBe(1);
    await lease.release(0);
    expect(t.volume().lock.holder).toMatchObject({ name: 'volwarden' });
    await t.warden.stop();
  });

  it('marks a world-writable manifest with an inline command invalid', async () => {
    const t = setup();
    t.fs.writeFile(`${ROOT}/.volwarden.json`, JSON.stringify(MANIFEST), { uid: 1000, mode: 0o666 });
    await t.warden.start();
    expect(t.volume()).toMatchObject({ state: 'invalid', error: 'untrusted manifest: command requires an owner-only manifest' });
    await t.warden.stop();
  });

  it('reports a removed root as gone, answers its waiters ENOENT and forgets it', async () => {
    const { t, lease, waiting } = await heldWithWaiter();
    t.fs.remove(ROOT);
    expect(await waiting).toMatchObject({ code: 'ENOENT' });
    await expect(lease.lost).resolves.toMatchObject({ code: 'ENOENT' });
    expect(t.warden.status().volumes).toHaveLength(0);
    expect(t.events.at(-1)).toMatchObject({ type: 'volume.gone' });
    await t.warden.stop();
  });

  it('runs two wardens in one process without interference', async () => {
    const a = setup();
    const b = setup();
    await a.warden.start();
    await b.warden.start();
    await a.finishHelper(0);
    expect(a.volume().state).toBe('idle');
    expect(b.volume().state).toBe('rebuilding');
    expect(a.events[0]!.n).toBe(1);
    expect(b.events[0]!.n).toBe(1);
    await a.warden.stop();
    await b.warden.stop();
  });

  it('rescans a degraded volume every 5 s, however long it was idle before', async () => {
    const t = setup();
    await t.warden.start();
    await t.finishHelper(0);
    t.clock.advance(60_000);
    await settle();
    t.fs.degrade(ROOT, 'inotify watch limit reached; rescanning every 5 s');
    await settle();
    expect(t.volume()).toMatchObject({ state: 'idle', error: 'inotify watch limit reached; rescanning every 5 s' });
    // A change the watcher never reports is found by the next rescan.
    t.fs.writeFile(`${ROOT}/src/a.txt`, 'changed, unseen', { unseen: true });
    await settle();
    expect(t.volume().state).toBe('idle');
    t.clock.advance(5000);
    await settle();
    expect(t.volume().state).toBe('rebuilding');
    await t.finishHelper(0);
    await t.warden.stop();
  });

  it('leaves no watcher, helper or mount watch behind when stopped while it is still starting', async () => {
    const t = setup();
    const starting = t.warden.start().catch((e: unknown) => e);
    const stopping = t.warden.stop();
    await Promise.all([starting, stopping]);
    await settle();
    t.clock.advance(60_000);
    await settle();
    expect(t.fs.openWatchers).toBe(0);
    expect(t.processes.running).toEqual([]);
    expect(t.warden.status().daemon.state).toBe('stopped');
  });

  it('stops without calling its volumes gone: leases and waiters hear ECONNRESET, status keeps them', async () => {
    const { t, lease, waiting } = await heldWithWaiter();
    await t.warden.stop();
    await expect(lease.lost).resolves.toMatchObject({ code: 'ECONNRESET' });
    expect(await waiting).toMatchObject({ code: 'ECONNRESET' });
    expect(t.events.map((e) => e.type)).not.toContain('volume.gone');
    expect(t.warden.status()).toMatchObject({ daemon: { state: 'stopped' }, volumes: [{ id: `path:${ROOT}`, state: 'idle' }] });
    for (const late of [t.warden.lockVolume(ROOT), t.warden.lockReboot(), t.warden.canUnmount(ROOT), t.warden.start()]) {
      await expect(late).rejects.toMatchObject({ code: 'ECONNRESET' });
    }
  });
});

/** A second warden on the first one's files, processes, clock and state: a daemon restarted after a crash. */
function successor(first: ReturnType<typeof setup>, roots: string[]) {
  return createWarden({
    roots,
    settleMs: 100,
    daemonUid: 1000,
    adapters: { fs: first.fs, processes: first.processes, clock: first.clock, mounts: new MemoryMountTable(), state: first.state },
  });
}

describe('a helper left by a daemon that crashed', () => {
  it('is stopped by the next warden on the same state before that volume rebuilds again', async () => {
    const first = setup();
    await first.warden.start();
    await settle();
    const orphan = first.processes.running[0]!;
    expect(first.state.load(`path:${ROOT}`)!.helper).toMatchObject({ pid: orphan.pid });
    // The first warden is never stopped (SIGKILL): the helper runs on, recorded in the state.
    const next = successor(first, [ROOT]);
    const starting = next.start();
    await settle();
    expect(orphan.signals).toEqual(['SIGTERM']);
    expect(orphan.done).toBe(true);
    await starting;
    await settle();
    expect(first.processes.running).toHaveLength(1);
    expect(first.processes.running[0]).not.toBe(orphan);
    await next.stop();
  });
});

describe('a helper left by a daemon that crashed, on a volume added later', () => {
  it('holds the lock itself until that helper is gone: clients queue behind it or hear EBUSY', async () => {
    const first = setup();
    await first.warden.start();
    await settle();
    const orphan = first.processes.running[0]!;
    orphan.hang(); // ignores SIGTERM: only the SIGKILL 10 s later ends it
    const next = successor(first, []);
    await next.start();
    // The root arrives with a reload, after start: the warden is running, no EAGAIN holds callers back.
    void next.core.setRoots([ROOT]);
    await settle();
    let granted = false;
    const lease = next.lockVolume(ROOT, { wait: true, owner: 'late' }).then((l) => {
      granted = true;
      return l;
    });
    await settle();
    expect(orphan.signals).toEqual(['SIGTERM']);
    expect(granted).toBe(false);
    expect(next.status(ROOT).volumes[0]!.lock).toMatchObject({ state: 'locked', holder: { name: 'volwarden' }, waiters: 1 });
    await expect(next.lockVolume(ROOT, { owner: 'impatient' })).rejects.toMatchObject({ code: 'EBUSY' });
    first.clock.advance(10_000);
    await settle();
    expect(orphan.done).toBe(true);
    expect(granted).toBe(true);
    await (await lease).release(0);
    await next.stop();
  });
});

describe('in-process rebuild (SPEC §12 rebuild)', () => {
  function inProcess(rebuild: (signal: AbortSignal) => Promise<number>, manifest: object = { ...MANIFEST, timeoutSec: 2 }) {
    const clock = simulatedClock(1_000_000);
    const fs = new MemoryFs({ uid: 1000 });
    fs.writeFile(`${ROOT}/.volwarden.json`, JSON.stringify(manifest), { uid: 1000, mode: 0o644 });
    fs.writeFile(`${ROOT}/src/a.txt`, 'alpha');
    const warden = createWarden({
      roots: [ROOT],
      daemonUid: 1000,
      rebuild: (_volume, _stale, signal) => rebuild(signal),
      adapters: { fs, processes: new FakeProcesses({ clock }), clock, mounts: new MemoryMountTable(), state: new MemoryStateStore() },
    });
    return { clock, warden, volume: () => warden.status().volumes[0]! };
  }

  it('aborts its signal at timeoutSec and counts status 124 as a failure', async () => {
    let aborted: unknown;
    const t = inProcess((signal) => new Promise((resolve) => signal.addEventListener('abort', () => {
      aborted = signal.reason;
      resolve(0);
    })));
    await t.warden.start();
    await settle();
    expect(t.volume().state).toBe('rebuilding');
    t.clock.advance(2000);
    await settle();
    expect(aborted).toMatchObject({ code: 'ETIMEDOUT' });
    expect(t.volume()).toMatchObject({ failures: 1, lastRebuild: { status: 124 } });
    await t.warden.stop();
  });

  it('is abandoned 10 s after its abort when it ignores the signal, so neither it nor stop() hangs', async () => {
    const t = inProcess(() => new Promise<number>(() => {}));
    await t.warden.start();
    await settle();
    t.clock.advance(2000);
    await settle();
    expect(t.volume().state).toBe('rebuilding');
    t.clock.advance(10_000);
    await settle();
    expect(t.volume()).toMatchObject({ failures: 1, lastRebuild: { status: 124 } });
    const hung = inProcess(() => new Promise<number>(() => {}), MANIFEST);
    await hung.warden.start();
    await settle();
    let stopped = false;
    const stopping = hung.warden.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    hung.clock.advance(10_000);
    await stopping;
    await t.warden.stop();
  });

  it('counts a result that is not an integer as status 1', async () => {
    const t = inProcess(async () => undefined as unknown as number);
    await t.warden.start();
    await settle();
    expect(t.volume()).toMatchObject({ failures: 1, lastRebuild: { status: 1 } });
    await t.warden.stop();
  });
});
