import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createProcMountTable } from '../../src/adapters/mount-table.js';
import { createWarden, type WardenEvent } from '../../src/index.js';
import { eventually } from '../integration/helpers.js';

/**
 * `discoverMounts` (SPEC §13) on the real mount table: tmpfs file systems mounted, remounted
 * read-only and unmounted while the warden runs. Needs root and a kernel that lets us mount tmpfs.
 */
const MANIFEST = { version: 1, caches: [{ name: 'out', output: 'cache/out.txt', sources: ['src'] }], command: ['/bin/true'] };

function mount(...args: string[]): void {
  execFileSync('mount', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function unmount(dir: string, lazy = false): void {
  try {
    execFileSync('umount', lazy ? ['-l', dir] : [dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch {
    // Not mounted (any more).
  }
}

// Decided once, up front, so the suite is skipped with a reason rather than failing half-way.
function whyNotMount(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not running as root';
  const probe = mkdtempSync(join(tmpdir(), 'vw-mount-probe-'));
  try {
    mount('-t', 'tmpfs', '-o', 'size=64k', 'volwarden-probe', probe);
    unmount(probe);
    return undefined;
  } catch (err) {
    return `mount -t tmpfs failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

const POLL_MS = 100;
/** Real time for the mount-table poller to read the table a few times. */
const pollerTicks = () => new Promise((resolve) => setTimeout(resolve, POLL_MS * 4));

const skipReason = whyNotMount();
if (skipReason) console.warn(`skipping real mount discovery tests: ${skipReason}`);

describe.skipIf(skipReason !== undefined)('mount discovery on the real mount table', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vw-mounts-'));
  const target = join(tmp, 'usb');
  mkdirSync(target);
  const id = `path:${target}`;
  const events: WardenEvent[] = [];
  const warden = createWarden({
    discoverMounts: true,
    settleMs: 50,
    rebuild: async (volume) => {
      writeFileSync(join(volume.root, 'cache', 'out.txt'), 'built\n');
      return 0;
    },
    adapters: { mounts: createProcMountTable({ pollMs: POLL_MS }) },
  });
  warden.events$.subscribe((e) => events.push(e));
  const ids = () => warden.status().volumes.filter((v) => v.root.startsWith(tmp)).map((v) => `${v.id} ${v.state}`);

  afterAll(async () => {
    await warden.stop();
    unmount(target, true);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('makes a tmpfs a volume once a manifest is written onto it, with no other mount-table change', async () => {
    await warden.start();
    expect(ids()).toEqual([]);
    // Straight after start: the poller's baseline read counts as a change, so even a mount made
    // before it has read the table is seen.
    mount('-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'volwarden-test', target);
    // A fresh tmpfs is empty: the manifest is written after the warden has seen the mount.
    await pollerTicks();
    expect(ids()).toEqual([]);
    mkdirSync(join(target, 'src'));
    mkdirSync(join(target, 'cache'));
    writeFileSync(join(target, 'src', 'a.txt'), 'alpha\n');
    // No other mount-table change: the manifest appearing on the mounted file system is enough.
    writeFileSync(join(target, '.volwarden.json'), JSON.stringify(MANIFEST), { mode: 0o644 });
    await eventually(ids, (v) => v.includes(`${id} idle`));
    expect(events.find((e) => e.type === 'volume.appeared' && e.volume === id)).toBeDefined();
  });

  it('drops the volume when it is remounted read-only, and takes it back when writable again', async () => {
    mount('-o', 'remount,ro', target);
    await eventually(ids, (v) => v.length === 0);
    expect(events.filter((e) => e.type === 'volume.gone').map((e) => e.volume)).toEqual([id]);
    mount('-o', 'remount,rw', target);
    await eventually(ids, (v) => v.includes(`${id} idle`));
  });

  it('makes an unmounted volume gone: the holder loses its lock and waiters get ENOENT', async () => {
    const lease = await warden.lockVolume(id, { owner: 'holder' });
    const waiter = warden.lockVolume(id, { wait: true, owner: 'waiter' }).catch((err: unknown) => err);
    await eventually(() => warden.status(id).volumes[0]?.lock.waiters, (n) => n === 1);
    unmount(target);
    expect(await waiter).toMatchObject({ code: 'ENOENT' });
    await expect(lease.lost).resolves.toMatchObject({ code: 'ENOENT' });
    await eventually(ids, (v) => v.length === 0);
    expect(events.filter((e) => e.type === 'volume.gone').map((e) => e.volume)).toEqual([id, id]);
  });

});
