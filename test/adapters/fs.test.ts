import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeFs } from '../../src/adapters/fs.js';
import { watchWithChokidar } from '../../src/adapters/fs-watch.js';
import type { FsAdapter, WatchSpec } from '../../src/adapters/types.js';

describe('createNodeFs on a real directory', () => {
  let base: string;
  const fs = createNodeFs({ watch: () => ({ close: async () => {} }) });

  beforeAll(async () => {
    base = await realpath(await mkdtemp(path.join(tmpdir(), 'volwarden-fs-')));
    await mkdir(path.join(base, 'dir'));
    await writeFile(path.join(base, 'dir', 'b.txt'), 'b');
    await writeFile(path.join(base, 'dir', 'a.txt'), 'hello');
    await symlink('dir/a.txt', path.join(base, 'link'));
    await symlink('nowhere', path.join(base, 'dangling'));
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('reports stats with nanosecond mtimes as bigints', async () => {
    const st = await fs.stat(path.join(base, 'dir', 'a.txt'));
    const node = await stat(path.join(base, 'dir', 'a.txt'), { bigint: true });
    expect(st).toMatchObject({ kind: 'file', size: 5, mtimeNs: node.mtimeNs, ino: Number(node.ino), dev: Number(node.dev) });
    expect(typeof st!.mtimeNs).toBe('bigint');
  });

  it('tells lstat from stat on a symlink', async () => {
    expect((await fs.lstat(path.join(base, 'link')))?.kind).toBe('symlink');
    expect((await fs.stat(path.join(base, 'link')))?.kind).toBe('file');
    expect((await fs.stat(base))?.kind).toBe('dir');
  });

  it('returns null instead of throwing for missing paths', async () => {
    const missing = path.join(base, 'missing', 'deeper');
    expect(await fs.stat(missing)).toBeNull();
    expect(await fs.lstat(missing)).toBeNull();
    expect(await fs.realpath(missing)).toBeNull();
    expect(await fs.readdir(missing)).toBeNull();
    expect(await fs.stat(path.join(base, 'dangling'))).toBeNull();
    expect(await fs.realpath(path.join(base, 'dangling'))).toBeNull();
    expect(await fs.readdir(path.join(base, 'dir', 'a.txt'))).toBeNull();
  });

  it('resolves realpaths and lists directories in name order', async () => {
    expect(await fs.realpath(path.join(base, 'link'))).toBe(path.join(base, 'dir', 'a.txt'));
    expect(await fs.readdir(path.join(base, 'dir'))).toEqual(['a.txt', 'b.txt']);
  });

  it('reads a whole file together with the stat of what it read', async () => {
    const read = await fs.readFile(path.join(base, 'link'), 100);
    expect(read.ok && read.data.toString()).toBe('hello');
    expect(read.ok && read.stat?.kind).toBe('file');
  });

  it('refuses past the byte limit, and reports missing and unreadable files as values', async () => {
    expect(await fs.readFile(path.join(base, 'dir', 'a.txt'), 4)).toMatchObject({ ok: false, reason: 'tooLarge' });
    expect(await fs.readFile(path.join(base, 'dir', 'a.txt'), 5)).toMatchObject({ ok: true });
    expect(await fs.readFile(path.join(base, 'missing'), 5)).toMatchObject({ ok: false, reason: 'missing' });
    expect(await fs.readFile(path.join(base, 'dir'), 5)).toMatchObject({ ok: false, reason: 'unreadable' });
  });

  it('does not hang on a FIFO where a file should be', async () => {
    const fifo = path.join(base, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(await fs.readFile(fifo, 100)).toMatchObject({ ok: false, reason: 'unreadable' });
    expect((await fs.lstat(fifo))?.kind).toBe('other');
  });

  it('writes files with the requested mode', async () => {
    const target = path.join(base, 'written.json');
    await fs.writeFile(target, '{}', 0o600);
    expect((await stat(target)).mode & 0o777).toBe(0o600);
    await expect(fs.writeFile(path.join(base, 'missing', 'x'), '{}')).rejects.toThrow(/ENOENT/);
  });
});

describe('createNodeFs watching', () => {
  it('watches with chokidar by default', () => {
    expect(createNodeFs().watch).toBe(watchWithChokidar);
  });

  it('delegates watch to the injected watcher', () => {
    const seen: WatchSpec[] = [];
    const handle = { close: async () => {} };
    const watch: FsAdapter['watch'] = (spec) => {
      seen.push(spec);
      return handle;
    };
    const spec = { root: '/vol', paths: ['/vol'], ignored: [] };
    expect(createNodeFs({ watch }).watch(spec, () => {})).toBe(handle);
    expect(seen).toEqual([spec]);
  });
});
