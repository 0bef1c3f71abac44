import { describe, expect, it } from 'vitest';
import { MemoryFs } from '../../src/adapters/fs.memory.js';
import { vetHelper } from '../../src/manifest/helper-trust.js';
import { loadManifest } from '../../src/manifest/load.js';

const NOBODY = 65534;
const options = { root: '/vol', daemonUid: 0, searchPath: '/usr/local/bin:/usr/bin' };

/** A volume whose helper `tools/build.sh` is owner-only, and a root-owned `/usr/bin/make`. */
async function volume(): Promise<MemoryFs> {
  const fs = new MemoryFs();
  await fs.writeFile('/vol/tools/build.sh', '#!/bin/sh\n', { mode: 0o755 });
  await fs.writeFile('/usr/bin/make', '', { mode: 0o755 });
  fs.setOwner('/vol', { mode: 0o700 });
  return fs;
}

describe('vetHelper', () => {
  it('trusts a helper whose file and directories only root or the daemon user can write', async () => {
    const fs = await volume();
    expect(await vetHelper(fs, './tools/build.sh', options)).toBeNull();
    expect(await vetHelper(fs, 'make', options)).toBeNull();
    fs.setOwner('/vol/tools/build.sh', { uid: 1000 });
    expect(await vetHelper(fs, './tools/build.sh', { ...options, daemonUid: 1000 })).toBeNull();
  });

  it('refuses a directory on the way that another user owns (the issue 17 attack) and says what to do', async () => {
    const fs = await volume();
    fs.setOwner('/vol/tools', { uid: NOBODY });
    expect(await vetHelper(fs, './tools/build.sh', options)).toBe(
      "tools is owned by uid 65534, not by root or the daemon's user: chown it, or keep the helper in an owner-only directory",
    );
  });

  it('refuses group- or world-writable directories, the volume root included, and writable or foreign files', async () => {
    const fs = await volume();
    fs.setOwner('/vol/tools', { mode: 0o775 });
    expect(await vetHelper(fs, './tools/build.sh', options)).toMatch(/^tools is writable by group or others: run chmod go-w on it/);
    fs.setOwner('/vol/tools', { mode: 0o755 });
    fs.setOwner('/vol', { mode: 0o777 });
    expect(await vetHelper(fs, './tools/build.sh', options)).toMatch(/^the volume root \/vol is writable by group or others/);
    fs.setOwner('/vol', { mode: 0o755 });
    fs.setOwner('/vol/tools/build.sh', { mode: 0o757 });
    expect(await vetHelper(fs, 'tools/build.sh', options)).toBe('tools/build.sh is writable by group or others: run chmod go-w on it');
    fs.setOwner('/vol/tools/build.sh', { mode: 0o755, uid: NOBODY });
    expect(await vetHelper(fs, 'tools/build.sh', options)).toMatch(/^tools\/build\.sh is owned by uid 65534/);
  });

  it('walks a symlink on the way to where it points, checking the directories there from /', async () => {
    const fs = await volume();
    await fs.writeFile('/opt/shared/tools/build.sh', '', { mode: 0o755 });
    fs.remove('/vol/tools');
    fs.symlink('/opt/shared/tools', '/vol/tools');
    expect(await vetHelper(fs, './tools/build.sh', options)).toBeNull();
    fs.setOwner('/opt/shared', { mode: 0o777 });
    expect(await vetHelper(fs, './tools/build.sh', options)).toMatch(/^\/opt\/shared is writable by group or others/);
  });

  it('crosses a sticky world-writable directory such as /tmp, but not its entries of other users', async () => {
    const fs = await volume();
    await fs.writeFile('/tmp/job/run.sh', '', { mode: 0o755 });
    fs.setOwner('/tmp', { mode: 0o1777 });
    expect(await vetHelper(fs, '/tmp/job/run.sh', options)).toBeNull();
    fs.setOwner('/tmp/job', { uid: NOBODY });
    expect(await vetHelper(fs, '/tmp/job/run.sh', options)).toMatch(/^\/tmp\/job is owned by uid 65534/);
  });

  it('finds a bare name in the helper PATH as exec does, and leaves a missing helper to fail at start', async () => {
    const fs = await volume();
    await fs.writeFile('/usr/local/bin/make', '', { mode: 0o755, uid: NOBODY });
    expect(await vetHelper(fs, 'make', options)).toMatch(/^\/usr\/local\/bin\/make is owned by uid 65534/);
    expect(await vetHelper(fs, './missing.sh', options)).toBeNull();
    expect(await vetHelper(fs, 'no-such-tool', options)).toBeNull();
  });
});

describe('loadManifest and the helper', () => {
  const cache = { name: 'out', output: 'cache/out.txt', sources: ['src'] };

  it('makes the volume invalid when another uid owns the directory of an owner-only manifest\'s command', async () => {
    const fs = await volume();
    await fs.writeFile('/vol/.volwarden.json', JSON.stringify({ version: 1, caches: [cache], command: ['./tools/build.sh'] }), { mode: 0o644 });
    fs.setOwner('/vol/tools', { uid: NOBODY });
    const load = await loadManifest(fs, '/vol', { daemonUid: 0, rebuilders: new Set(), inProcessRebuild: false });
    expect(load).toEqual({
      kind: 'invalid',
      error: "command[0]: untrusted helper: tools is owned by uid 65534, not by root or the daemon's user: chown it, or keep the helper in an owner-only directory",
    });
  });

  it('vets a rebuilder\'s executable too, naming the rebuilder', async () => {
    const fs = await volume();
    await fs.writeFile('/vol/.volwarden.json', JSON.stringify({ version: 1, caches: [cache], rebuilder: 'docs' }), { mode: 0o644 });
    fs.setOwner('/vol/tools/build.sh', { mode: 0o777 });
    const load = await loadManifest(fs, '/vol', {
      daemonUid: 0, rebuilders: new Set(['docs']), inProcessRebuild: false, rebuilderCommands: new Map([['docs', ['./tools/build.sh']]]),
    });
    expect(load).toEqual({ kind: 'invalid', error: 'rebuilder "docs": untrusted helper: tools/build.sh is writable by group or others: run chmod go-w on it' });
  });
});
