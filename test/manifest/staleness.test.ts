import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createNodeFs } from '../../src/adapters/fs.js';
import { MemoryFs } from '../../src/adapters/fs.memory.js';
import { parseManifest, type Manifest } from '../../src/manifest/schema.js';
import { checkStaleness } from '../../src/manifest/staleness.js';

const T = 1_700_000_000_000_000_000n;

function manifest(caches: Array<{ name: string; output: string; sources: string[] }>): Manifest {
  const parsed = parseManifest(JSON.stringify({ version: 1, caches, rebuilder: 'r' }));
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.manifest;
}

const one = manifest([{ name: 'out', output: 'cache/out.txt', sources: ['src'] }]);

describe('checkStaleness', () => {
  it('reports a missing output', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/src/a.txt', 'a', { mtimeNs: T });
    expect(await checkStaleness(fs, '/vol', one, T)).toEqual({ stale: [{ name: 'out', reason: 'output missing' }], problems: [], shortcut: [], retriggeredBy: [] });
  });

  it('is clean when the output is newer than every source and the manifest', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/src/a.txt', 'a', { mtimeNs: T });
    await fs.writeFile('/vol/cache/out.txt', 'o', { mtimeNs: T + 10n });
    expect(await checkStaleness(fs, '/vol', one, T)).toEqual({ stale: [], problems: [], shortcut: [], retriggeredBy: [] });
  });

  it('compares mtimes with nanosecond precision', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/cache/out.txt', 'o', { mtimeNs: T });
    await fs.writeFile('/vol/src/a.txt', 'a', { mtimeNs: T });
    expect((await checkStaleness(fs, '/vol', one, T)).stale).toEqual([]);
    fs.touch('/vol/src/a.txt', T + 1n);
    expect((await checkStaleness(fs, '/vol', one, T)).stale).toEqual([{ name: 'out', reason: 'src/a.txt is newer than cache/out.txt' }]);
  });

  it('treats an equal mtime as stale only for a source seen changing since the last rebuild', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/cache/out.txt', 'o', { mtimeNs: T });
    await fs.writeFile('/vol/src/a.txt', 'a', { mtimeNs: T });
    await fs.writeFile('/vol/src/b.txt', 'b', { mtimeNs: T });
    expect((await checkStaleness(fs, '/vol', one, T - 1n, new Set(['src/other.txt']))).stale).toEqual([]);
    expect((await checkStaleness(fs, '/vol', one, T - 1n, new Set(['src/b.txt']))).stale).toEqual([
      { name: 'out', reason: 'src/b.txt changed in the same clock tick as cache/out.txt was written' },
    ]);
  });

  it('calls a cache stale when one of its sources changed while the last rebuild ran, though the output is newer', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/src/a.txt', 'a', { mtimeNs: T });
    await fs.writeFile('/vol/cache/out.txt', 'o', { mtimeNs: T + 10n });
    const during = new Set(['src/gone.txt', 'elsewhere/x.txt', 'src/a.txt']);
    const report = await checkStaleness(fs, '/vol', one, T - 1n, new Set(), during);
    expect(report.stale).toEqual([{ name: 'out', reason: 'src/a.txt changed while the last rebuild ran' }]);
    expect(report.retriggeredBy).toEqual(['src/a.txt']);
    // A path that no longer exists, or that no cache reads, makes nothing stale.
    expect((await checkStaleness(fs, '/vol', one, T - 1n, new Set(), new Set(['src/gone.txt', 'elsewhere/x.txt']))).stale).toEqual([]);
  });

  it('decides from a changed file alone when it is newer, without walking (and says so)', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/cache/out.txt', 'o', { mtimeNs: T });
    await fs.writeFile('/vol/src/a.txt', 'a', { mtimeNs: T + 5n });
    await fs.writeFile('/vol/src/deep/b.txt', 'b', { mtimeNs: T + 9n });
    const report = await checkStaleness(fs, '/vol', one, T - 1n, new Set(['src/a.txt']));
    expect(report).toEqual({ stale: [{ name: 'out', reason: 'src/a.txt is newer than cache/out.txt' }], problems: [], shortcut: ['out'], retriggeredBy: [] });
    // A changed file that is not newer falls back to the full walk, which names the newest.
    fs.touch('/vol/src/a.txt', T - 5n);
    expect((await checkStaleness(fs, '/vol', one, T - 1n, new Set(['src/a.txt']))).stale).toEqual([
      { name: 'out', reason: 'src/deep/b.txt is newer than cache/out.txt' },
    ]);
  });

  it('names the newest offending file, however deep', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/cache/out.txt', 'o', { mtimeNs: T });
    await fs.writeFile('/vol/src/a.txt', 'a', { mtimeNs: T + 5n });
    await fs.writeFile('/vol/src/deep/er/b.txt', 'b', { mtimeNs: T + 9n });
    await fs.writeFile('/vol/src/c.txt', 'c', { mtimeNs: T + 7n });
    expect((await checkStaleness(fs, '/vol', one, T)).stale[0].reason).toBe('src/deep/er/b.txt is newer than cache/out.txt');
  });

  it('counts a manifest newer than the output', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/src/a.txt', 'a', { mtimeNs: T });
    await fs.writeFile('/vol/cache/out.txt', 'o', { mtimeNs: T + 1n });
    expect((await checkStaleness(fs, '/vol', one, T + 2n)).stale).toEqual([
      { name: 'out', reason: '.volwarden.json is newer than cache/out.txt' },
    ]);
  });

  it('matches glob sources below their static base only', async () => {
    const m = manifest([{ name: 'md', output: 'out.idx', sources: ['extra/*.md'] }]);
    const fs = new MemoryFs();
    await fs.writeFile('/vol/out.idx', 'o', { mtimeNs: T });
    await fs.writeFile('/vol/extra/a.txt', 'a', { mtimeNs: T + 1n });
    await fs.writeFile('/vol/extra/sub/b.md', 'b', { mtimeNs: T + 1n });
    await fs.writeFile('/vol/c.md', 'c', { mtimeNs: T + 1n });
    expect((await checkStaleness(fs, '/vol', m, T)).stale).toEqual([]);
    await fs.writeFile('/vol/extra/d.md', 'd', { mtimeNs: T + 1n });
    expect((await checkStaleness(fs, '/vol', m, T)).stale).toEqual([{ name: 'md', reason: 'extra/d.md is newer than out.idx' }]);
  });

  it('matches globstar patterns from the root', async () => {
    const m = manifest([{ name: 'md', output: 'out.idx', sources: ['**/*.md'] }]);
    const fs = new MemoryFs();
    await fs.writeFile('/vol/out.idx', 'o', { mtimeNs: T });
    await fs.writeFile('/vol/a/b/c.md', 'c', { mtimeNs: T + 3n });
    expect((await checkStaleness(fs, '/vol', m, T)).stale[0].reason).toBe('a/b/c.md is newer than out.idx');
  });

  it('never counts files inside any cache output as sources', async () => {
    const m = manifest([
      { name: 'a', output: 'cache/a', sources: ['.'] },
      { name: 'b', output: 'cache/b', sources: ['cache'] },
    ]);
    const fs = new MemoryFs();
    await fs.writeFile('/vol/cache/a', 'a', { mtimeNs: T + 1n });
    await fs.writeFile('/vol/cache/b', 'b', { mtimeNs: T + 2n });
    await fs.writeFile('/vol/src.txt', 's', { mtimeNs: T });
    expect(await checkStaleness(fs, '/vol', m, T)).toEqual({ stale: [], problems: [], shortcut: [], retriggeredBy: [] });
  });

  it('reports each stale cache of a volume', async () => {
    const m = manifest([
      { name: 'a', output: 'a.out', sources: ['a'] },
      { name: 'b', output: 'b.out', sources: ['b'] },
      { name: 'c', output: 'c.out', sources: ['c'] },
    ]);
    const fs = new MemoryFs();
    await fs.writeFile('/vol/a/x', 'x', { mtimeNs: T + 5n });
    await fs.writeFile('/vol/a.out', 'o', { mtimeNs: T + 1n });
    await fs.writeFile('/vol/c.out', 'o', { mtimeNs: T + 1n });
    expect((await checkStaleness(fs, '/vol', m, T)).stale).toEqual([
      { name: 'a', reason: 'a/x is newer than a.out' },
      { name: 'b', reason: 'output missing' },
    ]);
  });

  it('treats a directory output as written when its newest entry was', async () => {
    const m = manifest([{ name: 'site', output: 'public', sources: ['src'] }]);
    const fs = new MemoryFs();
    await fs.writeFile('/vol/public/index.html', 'i', { mtimeNs: T });
    await fs.writeFile('/vol/src/a.md', 'a', { mtimeNs: T + 2n });
    expect((await checkStaleness(fs, '/vol', m, T)).stale).toEqual([{ name: 'site', reason: 'src/a.md is newer than public' }]);
    await fs.writeFile('/vol/public/index.html', 'i2', { mtimeNs: T + 3n });
    expect((await checkStaleness(fs, '/vol', m, T)).stale).toEqual([]);
  });

  it('ignores and reports sources that leave the root through symlinks', async () => {
    const m = manifest([{ name: 'out', output: 'cache/out.txt', sources: ['src', 'link'] }]);
    const fs = new MemoryFs();
    await fs.writeFile('/outside/new.txt', 'n', { mtimeNs: T + 100n });
    await fs.writeFile('/vol/cache/out.txt', 'o', { mtimeNs: T + 1n });
    await fs.writeFile('/vol/src/a.txt', 'a', { mtimeNs: T });
    fs.symlink('/outside', '/vol/link');
    fs.symlink('/outside/new.txt', '/vol/src/evil.txt');
    expect(await checkStaleness(fs, '/vol', m, T)).toEqual({
      stale: [],
      problems: [
        'caches[0].sources[0] ("src/evil.txt"): resolves outside the volume root',
        'caches[0].sources[1] ("link"): resolves outside the volume root',
      ],
      shortcut: [],
      retriggeredBy: [],
    });
  });

  it('counts a symlinked file inside the root but does not descend into symlinked directories', async () => {
    const m = manifest([{ name: 'out', output: 'cache/out.txt', sources: ['src'] }]);
    const fs = new MemoryFs();
    await fs.writeFile('/vol/cache/out.txt', 'o', { mtimeNs: T + 1n });
    await fs.writeFile('/vol/other/dir/new.txt', 'n', { mtimeNs: T + 50n });
    await fs.writeFile('/vol/other/file.txt', 'f', { mtimeNs: T + 20n });
    fs.mkdir('/vol/src');
    fs.symlink('../other/dir', '/vol/src/dirlink');
    expect((await checkStaleness(fs, '/vol', m, T)).stale).toEqual([]);
    fs.symlink('../other/file.txt', '/vol/src/filelink');
    expect((await checkStaleness(fs, '/vol', m, T)).stale).toEqual([{ name: 'out', reason: 'src/filelink is newer than cache/out.txt' }]);
  });

  it('ignores and reports an output that resolves outside the root', async () => {
    const m = manifest([{ name: 'out', output: 'cache/out.txt', sources: ['src'] }]);
    const fs = new MemoryFs();
    fs.mkdir('/elsewhere');
    fs.symlink('/elsewhere', '/vol/cache');
    await fs.writeFile('/vol/src/a.txt', 'a');
    expect(await checkStaleness(fs, '/vol', m, T)).toEqual({
      stale: [],
      problems: ['caches[0].output ("cache/out.txt"): resolves outside the volume root'],
      shortcut: [],
      retriggeredBy: [],
    });
  });

  it('does not count files on another device', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/cache/out.txt', 'o', { mtimeNs: T + 1n });
    await fs.writeFile('/vol/src/mnt/a.txt', 'a', { mtimeNs: T + 9n });
    fs.setDevice('/vol/src/mnt', 2);
    expect(await checkStaleness(fs, '/vol', one, T)).toEqual({
      stale: [],
      problems: ['caches[0].sources[0] ("src/mnt"): is on another device'],
      shortcut: [],
      retriggeredBy: [],
    });
  });

  it('treats a missing source as contributing nothing', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/cache/out.txt', 'o', { mtimeNs: T + 1n });
    expect(await checkStaleness(fs, '/vol', one, T)).toEqual({ stale: [], problems: [], shortcut: [], retriggeredBy: [] });
  });

  it('works on a real directory with nanosecond mtimes', async () => {
    const base = await mkdtemp(path.join(tmpdir(), 'volwarden-stale-'));
    try {
      const fs = createNodeFs({ watch: () => ({ close: async () => {} }) });
      await mkdir(path.join(base, 'src'));
      await mkdir(path.join(base, 'cache'));
      await writeFile(path.join(base, 'src', 'a.txt'), 'a');
      await writeFile(path.join(base, 'cache', 'out.txt'), 'o');
      await utimes(path.join(base, 'src', 'a.txt'), 1000, 1000);
      await utimes(path.join(base, 'cache', 'out.txt'), 2000, 2000);
      expect(await checkStaleness(fs, base, one, 0n)).toEqual({ stale: [], problems: [], shortcut: [], retriggeredBy: [] });
      await utimes(path.join(base, 'src', 'a.txt'), 3000, 3000);
      expect((await checkStaleness(fs, base, one, 0n)).stale).toEqual([{ name: 'out', reason: 'src/a.txt is newer than cache/out.txt' }]);
      await rm(path.join(base, 'cache', 'out.txt'));
      expect((await checkStaleness(fs, base, one, 0n)).stale).toEqual([{ name: 'out', reason: 'output missing' }]);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
