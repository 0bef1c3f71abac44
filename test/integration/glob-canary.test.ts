import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createWarden, type WardenHandle } from '../../src/index.js';
import { eventually, makeVolume } from './helpers.js';

/**
 * Issue 17, finding 1: one volume's source pattern froze the daemon's event loop (picomatch's
 * backtracking RegExp), so a lock on *another* volume went unanswered for seconds. A canary
 * locks that other volume; the test waits on its reply and on the hostile volume's own outcome.
 */
describe('a hostile source glob on one volume', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function volumes(hostileSource: string): { hostile: string; canary: string; warden: WardenHandle } {
    const hostile = makeVolume({ manifest: { version: 1, caches: [{ name: 'out', output: 'cache/out.txt', sources: [hostileSource] }], command: ['./build.sh'] } });
    const canary = makeVolume();
    cleanups.push(hostile.cleanup, canary.cleanup);
    // 64 characters against 14 stars: C(64, 14) ≈ 5·10^13 backtracking paths for picomatch's RegExp.
    mkdirSync(path.join(hostile.root, 'src', 'deep'), { recursive: true });
    writeFileSync(path.join(hostile.root, 'src', 'a'.repeat(64)), 'x');
    const warden = createWarden({ roots: [hostile.root, canary.root], settleMs: 0, rebuild: async () => 0 });
    cleanups.push(() => warden.stop());
    return { hostile: hostile.root, canary: canary.root, warden };
  }

  async function canaryLocks(warden: WardenHandle, root: string): Promise<number> {
    const lease = await warden.lockVolume(root, { wait: true, owner: 'canary' });
    await lease.release(0);
    return lease.token;
  }

  it('is matched in linear time: its check finishes and a lock on another volume is answered', async () => {
    const { hostile, canary, warden } = volumes(`src/${'*a'.repeat(14)}b`);
    const hostileRebuilt = firstValueFrom(warden.events$.pipe(filter((e) => e.type === 'rebuild.finished' && e.volume === `path:${hostile}`)));
    await warden.start();
    expect(await canaryLocks(warden, canary)).toBeGreaterThan(0);
    await hostileRebuilt;
    expect(warden.status(hostile).volumes[0]!.error).toBeUndefined();
  }, 60_000);

  it('is refused when it nests extglobs: the volume is invalid with the JSON path, the canary is answered', async () => {
    const { hostile, canary, warden } = volumes(`src/${'*(a)'.repeat(14)}b`);
    await warden.start();
    expect(await canaryLocks(warden, canary)).toBeGreaterThan(0);
    const volume = await eventually(() => warden.status(hostile).volumes[0]!, (v) => v.state === 'invalid');
    expect(volume.error).toMatch(/^caches\[0\]\.sources\[0\]: must not use the extglob "\*\(…\)": its matching can take exponential time/);
  }, 60_000);
});
