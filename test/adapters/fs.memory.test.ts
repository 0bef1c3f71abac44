import { describe, expect, it } from 'vitest';
import { MemoryFs } from '../../src/adapters/fs.memory.js';
import type { WatchEvent } from '../../src/adapters/types.js';

function record(fs: MemoryFs, root: string, paths: string[], ignored: string[] = []) {
  const events: WatchEvent[] = [];
  const handle = fs.watch({ root, paths, ignored }, (e) => events.push(e));
  return { events, handle, changed: () => events.filter((e) => e.type === 'changed').map((e) => (e as { path: string }).path) };
}

describe('MemoryFs as a file tree', () => {
  it('creates parent directories and reads files back', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/src/a.txt', 'hello');
    expect((await fs.stat('/vol/src'))?.kind).toBe('dir');
    const read = await fs.readFile('/vol/src/a.txt', 100);
    expect(read.ok && read.data.toString()).toBe('hello');
    expect(await fs.readdir('/vol')).toEqual(['src']);
  });

  it('stamps every mutation with a later mtime from its logical clock', async () => {
    const fs = new MemoryFs();
    fs.mkdir('/vol');
    await fs.writeFile('/vol/a', '1');
    await fs.writeFile('/vol/b', '2');
    const a = (await fs.stat('/vol/a'))!.mtimeNs;
    const b = (await fs.stat('/vol/b'))!.mtimeNs;
    expect(b).toBeGreaterThan(a);
    fs.touch('/vol/a');
    expect((await fs.stat('/vol/a'))!.mtimeNs).toBeGreaterThan(b);
  });

  it('keeps an explicit mtime and moves its clock past it', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/f', 'x', { mtimeNs: 5_000_000_000_123n, uid: 42, mode: 0o600 });
    const stat = (await fs.stat('/f'))!;
    expect(stat).toMatchObject({ kind: 'file', mtimeNs: 5_000_000_000_123n, uid: 42, size: 1 });
    expect(stat.mode & 0o777).toBe(0o600);
    fs.touch('/g');
    expect((await fs.stat('/g'))!.mtimeNs).toBeGreaterThan(5_000_000_000_123n);
  });

  it('resolves symlinks in stat and realpath but not in lstat', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/data/real.txt', 'x');
    fs.symlink('/data', '/vol/link');
    fs.symlink('../data/real.txt', '/vol/rel');
    expect((await fs.lstat('/vol/link'))?.kind).toBe('symlink');
    expect((await fs.stat('/vol/link'))?.kind).toBe('dir');
    expect(await fs.realpath('/vol/link/real.txt')).toBe('/data/real.txt');
    expect(await fs.realpath('/vol/rel')).toBe('/data/real.txt');
    expect(await fs.realpath('/vol/link/..')).toBe('/');
  });

  it('returns null for missing paths, dangling links and symlink loops', async () => {
    const fs = new MemoryFs();
    fs.symlink('/nowhere', '/vol/dangling');
    fs.symlink('/vol/loop', '/vol/loop');
    expect(await fs.stat('/vol/missing')).toBeNull();
    expect(await fs.stat('/vol/dangling')).toBeNull();
    expect(await fs.lstat('/vol/dangling')).not.toBeNull();
    expect(await fs.realpath('/vol/loop')).toBeNull();
    expect(await fs.readdir('/vol/missing')).toBeNull();
  });

  it('reports the device of the nearest configured mount point', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/mnt/x', 'x');
    fs.setDevice('/vol/mnt', 7);
    expect((await fs.stat('/vol'))!.dev).toBe(1);
    expect((await fs.stat('/vol/mnt/x'))!.dev).toBe(7);
  });

  it('reads with limits and simulated errors instead of throwing', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/big', 'x'.repeat(11));
    fs.mkdir('/vol/dir');
    await fs.writeFile('/vol/locked', 'x');
    fs.setReadError('/vol/locked', 'EACCES: permission denied');
    expect(await fs.readFile('/vol/big', 10)).toMatchObject({ ok: false, reason: 'tooLarge' });
    expect(await fs.readFile('/vol/none', 10)).toMatchObject({ ok: false, reason: 'missing' });
    expect(await fs.readFile('/vol/dir', 10)).toMatchObject({ ok: false, reason: 'unreadable' });
    expect(await fs.readFile('/vol/locked', 10)).toEqual({ ok: false, reason: 'unreadable', message: 'EACCES: permission denied' });
  });

  it('removes whole trees', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/a/b/c', 'x');
    fs.remove('/vol/a');
    expect(await fs.lstat('/vol/a/b/c')).toBeNull();
    expect(await fs.readdir('/vol')).toEqual([]);
    fs.remove('/vol/never-existed');
  });
});

describe('MemoryFs watchers', () => {
  it('delivers ready in a microtask after watch()', async () => {
    const fs = new MemoryFs();
    const w = record(fs, '/vol', ['/vol/src', '/vol/.volwarden.json']);
    expect(w.events).toEqual([]);
    await Promise.resolve();
    expect(w.events).toEqual([{ type: 'ready', watches: 2 }]);
  });

  it('delivers changes synchronously for watched paths and everything under watched directories', async () => {
    const fs = new MemoryFs();
    fs.mkdir('/vol/src');
    const w = record(fs, '/vol', ['/vol/src', '/vol/.volwarden.json']);
    await fs.writeFile('/vol/src/deep/a.txt', 'x');
    fs.touch('/vol/.volwarden.json');
    await fs.writeFile('/vol/other.txt', 'x');
    expect(w.changed()).toEqual(['/vol/src/deep', '/vol/src/deep/a.txt', '/vol/.volwarden.json']);
  });

  it('does not deliver changes under ignored paths', async () => {
    const fs = new MemoryFs();
    fs.mkdir('/vol');
    const w = record(fs, '/vol', ['/vol'], ['/vol/cache']);
    await fs.writeFile('/vol/cache/out.txt', 'x');
    await fs.writeFile('/vol/src.txt', 'x');
    expect(w.changed()).toEqual(['/vol/src.txt']);
  });

  it('reports every removed path, deepest first', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/src/a/b.txt', 'x');
    const w = record(fs, '/vol', ['/vol/src']);
    fs.remove('/vol/src/a');
    expect(w.changed()).toEqual(['/vol/src/a/b.txt', '/vol/src/a']);
  });

  it('tells watchers when their root is removed', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/mnt/vol/src/a', 'x');
    const w = record(fs, '/mnt/vol', ['/mnt/vol/src']);
    const other = record(fs, '/other', ['/other']);
    await Promise.resolve();
    fs.remove('/mnt');
    expect(w.events).toEqual([{ type: 'ready', watches: 1 }, { type: 'rootRemoved' }]);
    expect(other.events).toEqual([{ type: 'ready', watches: 1 }]);
  });

  it('degrades only the watchers of the named root', async () => {
    const fs = new MemoryFs();
    const a = record(fs, '/a', ['/a']);
    const b = record(fs, '/b', ['/b']);
    fs.degrade('/a', 'inotify watch limit reached');
    expect(a.events).toEqual([{ type: 'degraded', reason: 'inotify watch limit reached' }]);
    expect(b.events).toEqual([]);
  });

  it('counts open watchers and stops delivering after close', async () => {
    const fs = new MemoryFs();
    const w = record(fs, '/vol', ['/vol']);
    record(fs, '/vol', ['/vol']);
    expect(fs.openWatchers).toBe(2);
    await w.handle.close();
    expect(fs.openWatchers).toBe(1);
    await fs.writeFile('/vol/a', 'x');
    await Promise.resolve();
    expect(w.events).toEqual([]);
  });
});
