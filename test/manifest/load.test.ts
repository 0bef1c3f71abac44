import { describe, expect, it } from 'vitest';
import { MemoryFs } from '../../src/adapters/fs.memory.js';
import { loadManifest, UNTRUSTED_COMMAND, type LoadOptions } from '../../src/manifest/load.js';

const DAEMON_UID = 1000;
const opts: LoadOptions = { daemonUid: DAEMON_UID, rebuilders: new Set(['docs']), inProcessRebuild: false };
const cache = { name: 'idx', output: 'cache/idx', sources: ['docs'] };
const withCommand = JSON.stringify({ version: 1, caches: [cache], command: ['./build.sh'] });
const withRebuilder = (name: string) => JSON.stringify({ version: 1, caches: [cache], rebuilder: name });

describe('loadManifest', () => {
  it('says a directory without a manifest is not a volume', async () => {
    const fs = new MemoryFs();
    fs.mkdir('/vol');
    expect(await loadManifest(fs, '/vol', opts)).toEqual({ kind: 'missing' });
    expect(await loadManifest(fs, '/no-such-root', opts)).toEqual({ kind: 'missing' });
  });

  it('loads a valid manifest with its path and nanosecond mtime', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/.volwarden.json', withRebuilder('docs'), { mtimeNs: 1_700_000_000_123_456_789n });
    const load = await loadManifest(fs, '/vol', opts);
    expect(load).toMatchObject({ kind: 'ok', path: '/vol/.volwarden.json', mtimeNs: 1_700_000_000_123_456_789n });
    expect(load.kind === 'ok' && load.manifest.lockMode).toBe('daemon');
  });

  it('puts a parse error in invalid, naming the JSON path', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/.volwarden.json', JSON.stringify({ version: 2 }));
    expect(await loadManifest(fs, '/vol', opts)).toEqual({ kind: 'invalid', error: 'version: must be 1' });
  });

  it('rejects a manifest larger than 1 MiB', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/.volwarden.json', ' '.repeat(1024 * 1024 + 1));
    expect(await loadManifest(fs, '/vol', opts)).toEqual({ kind: 'invalid', error: 'manifest is larger than 1 MiB' });
  });

  it('reports a manifest that exists but cannot be read', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/.volwarden.json', withRebuilder('docs'));
    fs.setReadError('/vol/.volwarden.json', 'EACCES: permission denied');
    expect(await loadManifest(fs, '/vol', opts)).toEqual({ kind: 'invalid', error: 'cannot read .volwarden.json: EACCES: permission denied' });
    fs.setReadError('/vol/.volwarden.json', null);
    fs.remove('/vol/.volwarden.json');
    fs.mkdir('/vol/.volwarden.json');
    expect(await loadManifest(fs, '/vol', opts)).toMatchObject({ kind: 'invalid', error: expect.stringMatching(/^cannot read \.volwarden\.json: /) });
  });

  describe('the owner-only rule for command', () => {
    it('honours a command from a manifest owned by the daemon user and writable only by it', async () => {
      const fs = new MemoryFs();
      await fs.writeFile('/vol/.volwarden.json', withCommand, { uid: DAEMON_UID, mode: 0o644 });
      expect(await loadManifest(fs, '/vol', opts)).toMatchObject({ kind: 'ok' });
    });

    it('honours a command from a root-owned manifest', async () => {
      const fs = new MemoryFs();
      await fs.writeFile('/vol/.volwarden.json', withCommand, { uid: 0, mode: 0o600 });
      expect(await loadManifest(fs, '/vol', opts)).toMatchObject({ kind: 'ok' });
    });

    it('refuses a command from a manifest owned by someone else', async () => {
      const fs = new MemoryFs();
      await fs.writeFile('/vol/.volwarden.json', withCommand, { uid: 1001, mode: 0o644 });
      expect(await loadManifest(fs, '/vol', opts)).toEqual({ kind: 'invalid', error: UNTRUSTED_COMMAND });
      expect(UNTRUSTED_COMMAND).toBe('untrusted manifest: command requires an owner-only manifest');
    });

    it('refuses a command from a group- or world-writable manifest', async () => {
      for (const mode of [0o664, 0o646, 0o666]) {
        const fs = new MemoryFs();
        await fs.writeFile('/vol/.volwarden.json', withCommand, { uid: DAEMON_UID, mode });
        expect(await loadManifest(fs, '/vol', opts)).toEqual({ kind: 'invalid', error: UNTRUSTED_COMMAND });
      }
    });

    it('refuses a command through a symlink someone else owns', async () => {
      const fs = new MemoryFs({ uid: 1001 });
      await fs.writeFile('/vol/real.json', withCommand, { uid: DAEMON_UID, mode: 0o600 });
      fs.symlink('real.json', '/vol/.volwarden.json');
      expect(await loadManifest(fs, '/vol', opts)).toEqual({ kind: 'invalid', error: UNTRUSTED_COMMAND });
    });

    it('does not apply when an in-process rebuild replaces the command', async () => {
      const fs = new MemoryFs();
      await fs.writeFile('/vol/.volwarden.json', withCommand, { uid: 1001, mode: 0o666 });
      expect(await loadManifest(fs, '/vol', { ...opts, inProcessRebuild: true })).toMatchObject({ kind: 'ok' });
    });

    it('does not apply to a rebuilder name', async () => {
      const fs = new MemoryFs();
      await fs.writeFile('/vol/.volwarden.json', withRebuilder('docs'), { uid: 1001, mode: 0o666 });
      expect(await loadManifest(fs, '/vol', opts)).toMatchObject({ kind: 'ok' });
    });
  });

  it('refuses a rebuilder the daemon config does not define', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/vol/.volwarden.json', withRebuilder('nope'));
    expect(await loadManifest(fs, '/vol', opts)).toEqual({ kind: 'invalid', error: 'rebuilder: "nope" is not defined in the daemon config' });
    expect(await loadManifest(fs, '/vol', { ...opts, inProcessRebuild: true })).toMatchObject({ kind: 'ok' });
  });

  it('refuses a manifest symlinked from outside the root', async () => {
    const fs = new MemoryFs();
    await fs.writeFile('/elsewhere/m.json', withRebuilder('docs'));
    fs.symlink('/elsewhere/m.json', '/vol/.volwarden.json');
    expect(await loadManifest(fs, '/vol', opts)).toEqual({
      kind: 'invalid',
      error: '.volwarden.json: resolves outside the volume root',
    });
  });
});
