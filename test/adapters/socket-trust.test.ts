import { chmodSync, chownSync, mkdirSync, statSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listenUnix, type SocketListener } from '../../src/adapters/socket-server.js';
import { assertTrustedSocket, prepareSocketDir } from '../../src/adapters/socket-trust.js';
import { WardenError } from '../../src/errors.js';
import { shortTempDir } from './socket-server.helpers.js';

/** Another uid than ours (nobody), for directories "someone else" created. */
const OTHER_UID = 65534;
const isRoot = process.geteuid?.() === 0;
if (!isRoot) console.log('socket-trust.test.ts: not root, so chown to another uid is impossible: those cases are skipped');

const handlers = { onConnection: () => true, onMessage: () => {}, onClose: () => {} };

/** SPEC §9 and issue 17: a socket is only as trustworthy as the directories above it. */
describe('socket directory trust', () => {
  let dir: string;
  let cleanup: () => void;
  const listeners: SocketListener[] = [];
  const servers: net.Server[] = [];

  beforeEach(() => {
    ({ dir, cleanup } = shortTempDir());
  });
  afterEach(async () => {
    await Promise.all(listeners.splice(0).map((l) => l.close()));
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    cleanup();
  });

  const listen = (socketPath: string) =>
    listenUnix({ path: socketPath, rights: 'control', socketMode: 0o600, dirMode: 0o700, allocateId: () => 1, onError: () => {} }, handlers).then((l) => {
      listeners.push(l);
      return l;
    });

  // A "fake daemon": any process listening where a client would look.
  const fakeDaemon = (socketPath: string) =>
    new Promise<net.Server>((resolve) => {
      const server = net.createServer((s) => s.destroy());
      servers.push(server);
      server.listen(socketPath, () => resolve(server));
    });

  it('refuses to listen in a directory every user can write, naming it and the fix', async () => {
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const err = await listen(join(open, 'c.sock')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WardenError);
    expect(err).toMatchObject({ code: 'EPERM' });
    expect((err as Error).message).toContain(`directory ${open} is writable by every user (mode 0777)`);
    expect((err as Error).message).toMatch(/choose another --socket$/);
  });

  it('refuses a sticky world-writable directory as the socket directory itself', async () => {
    const tmpLike = join(dir, 'tmp');
    mkdirSync(tmpLike);
    chmodSync(tmpLike, 0o1777);
    await expect(listen(join(tmpLike, 'c.sock'))).rejects.toMatchObject({ code: 'EPERM' });
  });

  it('accepts a sticky world-writable parent when the directory it creates there is its own', async () => {
    const tmpLike = join(dir, 'tmp');
    mkdirSync(tmpLike);
    chmodSync(tmpLike, 0o1777);
    await listen(join(tmpLike, 'vw-1', 'private', 'c.sock'));
    expect(statSync(join(tmpLike, 'vw-1')).mode & 0o7777).toBe(0o755);
    expect(statSync(join(tmpLike, 'vw-1', 'private')).mode & 0o7777).toBe(0o700);
  });

  it('refuses a group-writable parent that is not sticky', async () => {
    const shared = join(dir, 'shared');
    mkdirSync(join(shared, 'run'), { recursive: true });
    chmodSync(shared, 0o775);
    const err = await listen(join(shared, 'run', 'c.sock')).catch((e: unknown) => e);
    expect((err as Error).message).toContain(`directory ${shared} is writable by its group (mode 0775)`);
  });

  it.skipIf(!isRoot)('refuses a socket directory another uid created first, even in a sticky parent', async () => {
    const tmpLike = join(dir, 'tmp');
    mkdirSync(join(tmpLike, 'vw-1', 'private'), { recursive: true, mode: 0o700 });
    chmodSync(tmpLike, 0o1777);
    chownSync(join(tmpLike, 'vw-1'), OTHER_UID, OTHER_UID);
    const err = await listen(join(tmpLike, 'vw-1', 'private', 'c.sock')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EPERM' });
    expect((err as Error).message).toContain(`directory ${join(tmpLike, 'vw-1')} is owned by uid ${OTHER_UID}`);
  });

  it.skipIf(!isRoot)('refuses a symlink on the way that another uid owns', async () => {
    const real = join(dir, 'real');
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, join(dir, 'link'));
    // lchown: the link itself belongs to the other user, its target to us.
    const { lchownSync } = await import('node:fs');
    lchownSync(join(dir, 'link'), OTHER_UID, OTHER_UID);
    await expect(listen(join(dir, 'link', 'c.sock'))).rejects.toMatchObject({ code: 'EPERM' });
  });

  it('follows our own symlink and judges its target', async () => {
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    symlinkSync(open, join(dir, 'link'));
    await expect(prepareSocketDir(join(dir, 'link', 'c.sock'), 0o700, '--socket')).rejects.toMatchObject({ code: 'EPERM' });
    const good = join(dir, 'good');
    mkdirSync(good, { mode: 0o700 });
    symlinkSync(good, join(dir, 'goodlink'));
    await expect(prepareSocketDir(join(dir, 'goodlink', 'c.sock'), 0o700, '--socket')).resolves.toBeUndefined();
  });

  it('a client refuses a socket in a directory others can write, before connecting', async () => {
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const socketPath = join(open, 'c.sock');
    const server = await fakeDaemon(socketPath);
    let connections = 0;
    server.on('connection', () => connections++);
    const err = await assertTrustedSocket(socketPath).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EPERM' });
    expect((err as Error).message).toContain(`refusing to use socket ${socketPath}: directory ${open} is writable by every user`);
    expect(connections).toBe(0);
  });

  it.skipIf(!isRoot)('a client refuses a socket file another uid owns', async () => {
    const socketPath = join(dir, 'c.sock');
    await fakeDaemon(socketPath);
    chownSync(socketPath, OTHER_UID, OTHER_UID);
    await expect(assertTrustedSocket(socketPath)).rejects.toThrow(`socket ${socketPath} is owned by uid ${OTHER_UID}`);
  });

  it('a client accepts its own daemon, and a missing socket is left to the connect', async () => {
    const socketPath = join(dir, 'private', 'c.sock');
    await listen(socketPath);
    await expect(assertTrustedSocket(socketPath)).resolves.toBeUndefined();
    await expect(assertTrustedSocket(join(dir, 'nothing', 'c.sock'))).resolves.toBeUndefined();
  });
});
