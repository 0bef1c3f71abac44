import { mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeFs } from '../../src/adapters/fs.js';
import { MemoryFs } from '../../src/adapters/fs.memory.js';
import type { FsAdapter } from '../../src/adapters/types.js';

/** One tree (`dir/sub/a.txt`, `dir/link -> secret`, `secret/s.txt`) and the mutations the contract needs. */
interface Tree {
  fs: FsAdapter;
  root: string;
  /** Swaps `dir/sub` and `dir/link` (a symlink to `secret`). */
  swap(): void;
  move(from: string, to: string): void;
  remove(rel: string): void;
}

function realTree(): Tree {
  const root = realpathSync(mkdtempSync(path.join(tmpdir(), 'vw-handle-')));
  mkdirSync(path.join(root, 'dir', 'sub'), { recursive: true });
  mkdirSync(path.join(root, 'secret'));
  writeFileSync(path.join(root, 'dir', 'sub', 'a.txt'), 'a');
  writeFileSync(path.join(root, 'secret', 's.txt'), 's');
  symlinkSync(path.join(root, 'secret'), path.join(root, 'dir', 'link'));
  const at = (rel: string) => path.join(root, rel);
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  return {
    fs: createNodeFs(),
    root,
    swap: () => {
      renameSync(at('dir/sub'), at('dir/tmp'));
      renameSync(at('dir/link'), at('dir/sub'));
      renameSync(at('dir/tmp'), at('dir/link'));
    },
    move: (from, to) => renameSync(at(from), at(to)),
    remove: (rel) => rmSync(at(rel), { recursive: true }),
  };
}

function memoryTree(): Tree {
  const fs = new MemoryFs();
  void fs.writeFile('/t/dir/sub/a.txt', 'a');
  void fs.writeFile('/t/secret/s.txt', 's');
  fs.symlink('/t/secret', '/t/dir/link');
  return {
    fs,
    root: '/t',
    swap: () => fs.exchange('/t/dir/sub', '/t/dir/link'),
    move: (from, to) => {
      fs.mkdir(`/t/${to}`);
      fs.exchange(`/t/${from}`, `/t/${to}`);
      fs.remove(`/t/${from}`);
    },
    remove: (rel) => fs.remove(`/t/${rel}`),
  };
}

const cleanups: Array<() => void> = [];
afterAll(() => cleanups.forEach((c) => c()));

describe.each([
  ['createNodeFs', realTree],
  ['MemoryFs', memoryTree],
])('FsHandle contract: %s', (_name, make) => {
  it('keeps reading the directory it opened after its path is swapped for a symlink', async () => {
    const t = make();
    const sub = (await t.fs.open(path.join(t.root, 'dir', 'sub')))!;
    t.swap();
    expect(await sub.list()).toEqual(['a.txt']);
    expect((await sub.lstatAt('a.txt'))?.kind).toBe('file');
    expect(await sub.lstatAt('s.txt')).toBeNull();
    expect(await sub.where()).toBe(path.join(t.root, 'dir', 'link'));
    await sub.close();
  });

  it('never follows a symlink it opens from a directory', async () => {
    const t = make();
    const dir = (await t.fs.open(path.join(t.root, 'dir')))!;
    const link = (await dir.openAt('link'))!;
    expect(link.stat.kind).toBe('symlink');
    expect(await link.list()).toBeNull();
    expect((await dir.lstatAt('link'))?.kind).toBe('symlink');
    expect(await dir.lstatAt('..')).toBeNull();
    expect(await dir.openAt('sub/a.txt')).toBeNull();
    await Promise.all([link.close(), dir.close()]);
  });

  it('follows a symlink given to open, and says where the object lies', async () => {
    const t = make();
    const secret = (await t.fs.open(path.join(t.root, 'dir', 'link')))!;
    expect(secret.stat.kind).toBe('dir');
    expect(await secret.where()).toBe(path.join(t.root, 'secret'));
    expect(await t.fs.readlink(path.join(t.root, 'dir', 'link'))).toBe(path.join(t.root, 'secret'));
    expect(await t.fs.readlink(path.join(t.root, 'dir'))).toBeNull();
    await secret.close();
  });

  it('reports a moved directory at its new place, and a removed one nowhere', async () => {
    const t = make();
    const sub = (await t.fs.open(path.join(t.root, 'dir', 'sub')))!;
    t.move('dir/sub', 'moved');
    expect(await sub.where()).toBe(path.join(t.root, 'moved'));
    t.remove('moved');
    expect(await sub.where()).toBeNull();
    await sub.close();
    expect(await t.fs.open(path.join(t.root, 'missing'))).toBeNull();
  });
});
