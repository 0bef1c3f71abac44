import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeFs } from '../../src/adapters/fs.js';
import { MemoryFs } from '../../src/adapters/fs.memory.js';
import type { FsAdapter, FsHandle } from '../../src/adapters/types.js';
import { parseManifest, type Manifest } from '../../src/manifest/schema.js';
import { checkStaleness } from '../../src/manifest/staleness.js';

const T = 1_700_000_000_000_000_000n;
const parsed = parseManifest(JSON.stringify({ version: 1, caches: [{ name: 'out', output: 'cache/out.txt', sources: ['src'] }], rebuilder: 'r' }));
const manifest = (parsed as { manifest: Manifest }).manifest;

/**
 * The adapter, except that the first time the walk looks at entry `name` (by path, or through a
 * directory handle) `swap` runs right after: the attacker's exchange, at the worst moment.
 */
function swapAfterFirstLook(fs: FsAdapter, name: string, swap: () => void): FsAdapter {
  let fired = false;
  const fire = (seen: string): void => {
    if (seen !== name || fired) return;
    fired = true;
    swap();
  };
  const wrap = (h: FsHandle): FsHandle => ({
    stat: h.stat,
    where: () => h.where(),
    list: () => h.list(),
    close: () => h.close(),
    lstatAt: async (n) => {
      const stat = await h.lstatAt(n);
      fire(n);
      return stat;
    },
    openAt: async (n) => {
      const child = await h.openAt(n);
      return child && wrap(child);
    },
  });
  return {
    lstat: async (p) => {
      const stat = await fs.lstat(p);
      fire(path.basename(p));
      return stat;
    },
    stat: (p) => fs.stat(p),
    realpath: (p) => fs.realpath(p),
    readdir: (p) => fs.readdir(p),
    readlink: (p) => fs.readlink(p),
    readFile: (p, max) => fs.readFile(p, max),
    writeFile: (p, d, m) => fs.writeFile(p, d, m),
    watch: (spec, l) => fs.watch(spec, l),
    open: async (p) => {
      const h = await fs.open(p);
      return h && wrap(h);
    },
  };
}

const leaks = (report: { stale: Array<{ reason: string }>; problems: string[] }): string[] =>
  [...report.stale.map((s) => s.reason), ...report.problems].filter((line) => line.includes('SECRET'));

describe('walking sources while a directory is swapped for a symlink', () => {
  it('never names a file of the secret directory (in-memory twin, exchange mid-walk)', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/secret/TOPSECRET.txt', 's', { mtimeNs: T + 100n });
    await fs.writeFile('/vol/src/sub/a.txt', 'a', { mtimeNs: T - 100n });
    await fs.writeFile('/vol/cache/out.txt', 'o', { mtimeNs: T });
    fs.symlink('/secret', '/vol/src/link');
    const racing = swapAfterFirstLook(fs, 'sub', () => fs.exchange('/vol/src/sub', '/vol/src/link'));
    const report = await checkStaleness(racing, '/vol', manifest, T - 1n);
    expect(leaks(report)).toEqual([]);
    expect(report.stale).toEqual([]);
    expect(fs.openHandles).toBe(0);
  });

  it('follows the directory it opened, not its old path, when it is moved within the volume', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/src/sub/new.txt', 'n', { mtimeNs: T + 5n });
    await fs.writeFile('/vol/cache/out.txt', 'o', { mtimeNs: T });
    fs.mkdir('/vol/src/other');
    const racing = swapAfterFirstLook(fs, 'sub', () => fs.exchange('/vol/src/sub', '/vol/src/other'));
    const report = await checkStaleness(racing, '/vol', manifest, T - 1n);
    // Swapped for another directory of the volume after its lstat: skipped this time (the watcher reports the change).
    expect(report.stale).toEqual([]);
    expect(fs.openHandles).toBe(0);
  });

  describe('on a real disk', () => {
    let dir: string;
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    function arrange(): { root: string; secret: string } {
      dir = mkdtempSync(path.join(tmpdir(), 'vw-swap-'));
      const root = path.join(dir, 'vol');
      const secret = path.join(dir, 'secret');
      mkdirSync(path.join(root, 'src', 'sub'), { recursive: true });
      mkdirSync(path.join(root, 'cache'));
      mkdirSync(secret);
      writeFileSync(path.join(root, 'src', 'sub', 'a.txt'), 'a');
      writeFileSync(path.join(root, 'cache', 'out.txt'), 'o');
      writeFileSync(path.join(secret, 'TOPSECRET.txt'), 's');
      const now = Date.now() / 1000;
      utimesSync(path.join(root, 'src', 'sub', 'a.txt'), now - 100, now - 100);
      utimesSync(path.join(root, 'cache', 'out.txt'), now, now);
      utimesSync(path.join(secret, 'TOPSECRET.txt'), now + 100, now + 100);
      symlinkSync(secret, path.join(root, 'src', 'link'));
      return { root, secret };
    }

    it('never names a file of the secret directory when the swap lands right after the lstat', async () => {
      const { root } = arrange();
      const at = (n: string) => path.join(root, 'src', n);
      const racing = swapAfterFirstLook(createNodeFs(), 'sub', () => {
        renameSync(at('sub'), at('tmp'));
        renameSync(at('link'), at('sub'));
        renameSync(at('tmp'), at('link'));
      });
      const report = await checkStaleness(racing, root, manifest, 0n);
      expect(leaks(report)).toEqual([]);
    });

    const python = spawnSync('python3', ['-c', 'import ctypes; ctypes.CDLL(None).renameat2'], { encoding: 'utf8' });
    const canRace = python.status === 0;
    if (!canRace) console.log(`skipping the renameat2 race: python3 with renameat2 unavailable (${python.stderr?.trim() || python.error})`);

    it.runIf(canRace)('leaks nothing in 300 checks against a renameat2 RENAME_EXCHANGE loop', async () => {
      const { root } = arrange();
      const racer = spawn('python3', ['-c', RACER, path.join(root, 'src', 'sub'), path.join(root, 'src', 'link')], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => racer.stdout.once('data', () => resolve()));
      try {
        const fs = createNodeFs();
        let leaked: string[] = [];
        let sawSwapped = 0;
        for (let i = 0; i < 300; i++) {
          const report = await checkStaleness(fs, root, manifest, 0n);
          leaked = [...leaked, ...leaks(report)];
          // The swapped state seen: "src/sub" was the symlink at that moment (so the race is real).
          if (report.problems.some((p) => p.includes('"src/sub"'))) sawSwapped++;
        }
        expect(leaked).toEqual([]);
        expect(sawSwapped).toBeGreaterThan(0);
      } finally {
        racer.kill('SIGKILL');
      }
    });
  });
});

/** Exchanges two paths in a bounded loop (renameat2 RENAME_EXCHANGE), saying "ready" first. */
const RACER = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = (p.encode() for p in sys.argv[1:3])
print("ready", flush=True)
for _ in range(20_000_000):
    if libc.renameat2(-100, a, -100, b, 2) != 0:
        sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
`;
