import { readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createWarden, type WardenHandle } from '../../src/index.js';
import { eventually, makeVolume } from './helpers.js';

describe('warden on a real volume', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function start(roots: string[], extra: Parameters<typeof createWarden>[0] = {}): WardenHandle {
    const warden = createWarden({ roots, settleMs: 50, ...extra });
    cleanups.push(() => warden.stop());
    return warden;
  }

  it('builds a missing cache at start and reports idle with lastRebuild', async () => {
    const vol = makeVolume();
    cleanups.push(vol.cleanup);
    const warden = start([vol.root]);
    await warden.start();
    const status = await eventually(() => warden.status().volumes[0]!, (v) => v.state === 'idle' && v.lastRebuild !== null);
    expect(status.lastRebuild!.status).toBe(0);
    expect(status.stale).toEqual([]);
    expect(status.id).toBe(`path:${vol.root}`);
    expect(readFileSync(path.join(vol.root, 'cache/out.txt'), 'utf8')).toBe('alpha\n');
    expect(status.lock.token).toBe(1);
  });

  it('coalesces many writes into one rebuild after settling', async () => {
    const vol = makeVolume();
    cleanups.push(vol.cleanup);
    const warden = start([vol.root], { settleMs: 300 });
    await warden.start();
    await eventually(() => warden.status().volumes[0]!, (v) => v.state === 'idle' && v.lastRebuild !== null);
    for (let i = 0; i < 20; i++) appendFileSync(path.join(vol.root, 'src', 'a.txt'), `line ${i}\n`);
    await eventually(() => warden.status().volumes[0]!, (v) => v.state === 'idle' && v.lock.token === 2, 20_000);
    await new Promise((r) => setTimeout(r, 600));
    const runs = readFileSync(path.join(vol.root, 'cache/runs.log'), 'utf8').trim().split('\n');
    expect(runs).toHaveLength(2);
    expect(readFileSync(path.join(vol.root, 'cache/out.txt'), 'utf8')).toContain('line 19');
  });

  it('puts an invalid manifest in invalid with the JSON path, and recovers when fixed', async () => {
    const vol = makeVolume({ manifest: { version: 1, caches: [{ name: 'out', output: '/etc/passwd', sources: ['src'] }], command: ['./build.sh'] } });
    cleanups.push(vol.cleanup);
    const warden = start([vol.root]);
    await warden.start();
    const bad = await eventually(() => warden.status().volumes[0]!, (v) => v.state === 'invalid');
    expect(bad.error).toMatch(/^caches\[0\]\.output: /);
    writeFileSync(path.join(vol.root, '.volwarden.json'), JSON.stringify({ version: 1, caches: [{ name: 'out', output: 'cache/out.txt', sources: ['src'] }], command: ['./build.sh'] }));
    await eventually(() => warden.status().volumes[0]!, (v) => v.state === 'idle' && v.lastRebuild?.status === 0);
  });
});
