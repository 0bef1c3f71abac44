import { describe, expect, it } from 'vitest';
import { createWarden, FakeProcesses, MemoryFs, MemoryMountTable, simulatedClock, WardenError } from '../../src/index.js';

/** The library API (SPEC §12) on in-memory adapters: one clean volume at /vol. */
const ROOT = '/vol';

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

async function cleanWarden() {
  const clock = simulatedClock(1_000_000);
  const fs = new MemoryFs({ uid: 1000 });
  const manifest = { version: 1, caches: [{ name: 'out', output: 'cache/out.txt', sources: ['src'] }], command: ['./build.sh'] };
  fs.writeFile(`${ROOT}/.volwarden.json`, JSON.stringify(manifest), { uid: 1000, mode: 0o644 });
  fs.writeFile(`${ROOT}/src/a.txt`, 'alpha');
  const processes = new FakeProcesses({ clock });
  const warden = createWarden({ roots: [ROOT], settleMs: 100, daemonUid: 1000, adapters: { fs, processes, clock, mounts: new MemoryMountTable() } });
  await warden.start();
  await settle();
  // The missing cache is built first; once built the volume is idle and unlocked.
  fs.writeFile(`${ROOT}/cache/out.txt`, 'built');
  processes.running[0]!.exit(0);
  await settle();
  expect(warden.status().volumes[0]).toMatchObject({ state: 'idle', lock: { state: 'unlocked' } });
  return warden;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('library lease', () => {
  it('refuses a non-integer release status with EINVAL and stays releasable', async () => {
    const warden = await cleanWarden();
    const lease = await warden.lockVolume(ROOT, { owner: 'backup' });
    for (const status of ['x', 1.5, Number.NaN, Infinity, 2 ** 53]) {
      const err = await lease.release(status as number).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WardenError);
      expect((err as WardenError).code).toBe('EINVAL');
      expect((err as WardenError).message).toMatch(/^release\(status\): status must be an integer/);
    }
    const volume = warden.status().volumes[0]!;
    expect(volume.failures).toBe(0);
    expect(volume.lock.holder).toMatchObject({ name: 'backup' });
    await lease.release(0);
    expect(warden.status().volumes[0]).toMatchObject({ failures: 0, lock: { state: 'unlocked' } });
    await warden.stop();
  });

  it('accepts a negative integer status as a failure, as the socket does', async () => {
    const warden = await cleanWarden();
    const lease = await warden.lockVolume(ROOT);
    await lease.release(-1);
    expect(warden.status().volumes[0]).toMatchObject({ failures: 1, lock: { state: 'unlocked' } });
    await warden.stop();
  });
});

describe('library volume references', () => {
  it('answers EINVAL, not a TypeError, for a volume that is not a string', async () => {
    const warden = await cleanWarden();
    const bad = 42 as unknown as string;
    const errors = [
      await warden.lockVolume(bad).catch((e: unknown) => e),
      await warden.canUnmount(bad).catch((e: unknown) => e),
      thrown(() => warden.status(bad)),
      thrown(() => warden.check(bad)),
      thrown(() => warden.retry(bad)),
    ];
    for (const err of errors) {
      expect(err).toBeInstanceOf(WardenError);
      expect((err as WardenError).code).toBe('EINVAL');
      expect((err as WardenError).message).toMatch(/\(volume\): volume must be a volume id or an absolute root path, got 42$/);
    }
    // Nothing was left behind: the refused call never became a client.
    expect(warden.core.clients.size).toBe(0);
    await warden.stop();
  });
});
