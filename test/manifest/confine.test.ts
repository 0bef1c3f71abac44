import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeFs } from '../../src/adapters/fs.js';
import { MemoryFs } from '../../src/adapters/fs.memory.js';
import type { FsAdapter } from '../../src/adapters/types.js';
import { confine } from '../../src/manifest/confine.js';

const noWatch: FsAdapter['watch'] = () => ({ close: async () => {} });

describe('confine on the in-memory file system', () => {
  async function volume(): Promise<MemoryFs> {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/src/a.txt', 'a');
    await fs.writeFile('/outside/secret', 's');
    return fs;
  }

  it('accepts an existing path inside the root', async () => {
    const fs = await volume();
    expect(await confine(fs, '/vol', 'src/a.txt', 'caches[0].sources[0]')).toEqual({
      ok: true,
      abs: '/vol/src/a.txt',
      real: '/vol/src/a.txt',
    });
  });

  it('judges a missing path by its nearest existing ancestor', async () => {
    const fs = await volume();
    expect(await confine(fs, '/vol', 'cache/new/out.txt', 'caches[0].output')).toMatchObject({ ok: true, real: '/vol/cache/new/out.txt' });
  });

  it('refuses paths the static rules refuse', async () => {
    const fs = await volume();
    expect(await confine(fs, '/vol', '../outside/secret', 'caches[0].sources[1]')).toMatchObject({
      ok: false,
      reason: 'caches[0].sources[1] ("../outside/secret"): must not escape the volume root',
    });
    expect(await confine(fs, '/vol', '/outside/secret', 'watch[0]')).toMatchObject({
      ok: false,
      reason: 'watch[0] ("/outside/secret"): must be a relative path',
    });
  });

  it('refuses a symlink that leads out of the root, and missing paths below it', async () => {
    const fs = await volume();
    fs.symlink('/outside', '/vol/link');
    expect(await confine(fs, '/vol', 'link', 'caches[0].sources[1]')).toMatchObject({
      ok: false,
      reason: 'caches[0].sources[1] ("link"): resolves outside the volume root',
    });
    expect(await confine(fs, '/vol', 'link/new.txt', 'caches[0].output')).toMatchObject({ ok: false });
  });

  it('accepts a symlink that stays inside the root', async () => {
    const fs = await volume();
    fs.symlink('src/a.txt', '/vol/alias');
    expect(await confine(fs, '/vol', 'alias', 'x')).toEqual({ ok: true, abs: '/vol/alias', real: '/vol/src/a.txt' });
  });

  it('refuses a dangling symlink, whose target it cannot judge', async () => {
    const fs = await volume();
    fs.symlink('/outside/not-yet', '/vol/dangling');
    expect(await confine(fs, '/vol', 'dangling', 'caches[0].output')).toMatchObject({
      ok: false,
      reason: 'caches[0].output ("dangling"): is a symlink that does not resolve',
    });
  });

  it('refuses a path on another device than the root', async () => {
    const fs = await volume();
    await fs.writeFile('/vol/mnt/file', 'x');
    fs.setDevice('/vol/mnt', 9);
    expect(await confine(fs, '/vol', 'mnt/file', 'caches[0].sources[0]')).toMatchObject({
      ok: false,
      reason: 'caches[0].sources[0] ("mnt/file"): is on another device',
    });
  });

  it('works when the root itself is reached through a symlink', async () => {
    const fs = await volume();
    fs.symlink('/vol', '/alias-root');
    expect(await confine(fs, '/alias-root', 'src/a.txt', 'x')).toEqual({ ok: true, abs: '/alias-root/src/a.txt', real: '/vol/src/a.txt' });
  });
});

describe('confine on a real directory with real symlinks', () => {
  let base: string;
  let root: string;
  const fs = createNodeFs({ watch: noWatch });

  beforeAll(async () => {
    base = await realpath(await mkdtemp(path.join(tmpdir(), 'volwarden-confine-')));
    root = path.join(base, 'vol');
    await mkdir(path.join(root, 'src'), { recursive: true });
    await mkdir(path.join(base, 'outside'));
    await writeFile(path.join(root, 'src', 'a.txt'), 'a');
    await writeFile(path.join(base, 'outside', 'secret'), 's');
    await symlink(path.join(base, 'outside'), path.join(root, 'out-link'));
    await symlink('src/a.txt', path.join(root, 'in-link'));
    await symlink(path.join(base, 'outside', 'nope'), path.join(root, 'dangling'));
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('accepts files and missing paths inside the root', async () => {
    expect(await confine(fs, root, 'src/a.txt', 'x')).toMatchObject({ ok: true, real: path.join(root, 'src/a.txt') });
    expect(await confine(fs, root, 'cache/out.txt', 'x')).toMatchObject({ ok: true, real: path.join(root, 'cache/out.txt') });
  });

  it('follows an inside symlink to its target', async () => {
    expect(await confine(fs, root, 'in-link', 'x')).toMatchObject({ ok: true, real: path.join(root, 'src/a.txt') });
  });

  it('refuses a symlink out of the root, including paths through it', async () => {
    expect(await confine(fs, root, 'out-link', 'caches[0].sources[1]')).toMatchObject({
      ok: false,
      reason: 'caches[0].sources[1] ("out-link"): resolves outside the volume root',
    });
    expect(await confine(fs, root, 'out-link/secret', 'x')).toMatchObject({ ok: false });
    expect(await confine(fs, root, 'out-link/missing/deeper', 'x')).toMatchObject({ ok: false });
  });

  it('refuses a dangling symlink and a path climbing out with ..', async () => {
    expect(await confine(fs, root, 'dangling', 'x')).toMatchObject({ ok: false, reason: 'x ("dangling"): is a symlink that does not resolve' });
    expect(await confine(fs, root, 'src/../../outside', 'x')).toMatchObject({ ok: false, reason: 'x ("src/../../outside"): must not escape the volume root' });
  });
});
