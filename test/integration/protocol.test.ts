import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createWarden, type WardenHandle } from '../../src/index.js';
import { connectRaw, shortTempDir, type RawClient } from '../adapters/socket-server.helpers.js';
import { eventually, makeVolume } from './helpers.js';

/** The socket protocol (SPEC §10) against a real warden on real Unix sockets. */
describe('socket protocol', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function daemon(extra: Parameters<typeof createWarden>[0] = {}) {
    const vol = makeVolume();
    cleanups.push(vol.cleanup);
    const tmp = shortTempDir();
    cleanups.push(tmp.cleanup);
    const socket = path.join(tmp.dir, 'private', 'control.sock');
    const statusSocket = path.join(tmp.dir, 'status.sock');
    const warden = createWarden({ roots: [vol.root], settleMs: 50, ...extra });
    cleanups.push(() => warden.stop());
    await warden.start();
    await warden.listen({ socket, statusSocket });
    await eventually(() => warden.status().volumes[0]!, (v) => v.state === 'idle' && v.lastRebuild !== null);
    return { warden, vol, socket, statusSocket };
  }

  let seq = 0;
  async function call(client: RawClient, request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const n = client.frames.length;
    const mySeq = ++seq;
    client.write(`${JSON.stringify({ seq: mySeq, ...request })}\n`);
    const frames = await client.waitFrames(n + 1);
    return frames[n]!;
  }

  it('answers hello with the client id, rights and version', async () => {
    const { socket, statusSocket } = await daemon();
    const control = await connectRaw(socket);
    const status = await connectRaw(statusSocket);
    cleanups.push(() => control.socket.destroy(), () => status.socket.destroy());
    const a = await call(control, { id: 1000, name: 'test', pid: 42 });
    expect(a).toMatchObject({ id: 1100, ret: 'OK', rights: 'control' });
    expect(typeof a.client).toBe('number');
    expect(typeof a.version).toBe('string');
    expect(await call(status, { id: 1000 })).toMatchObject({ id: 1100, ret: 'OK', rights: 'status' });
  });

  it('reports status in exactly the SPEC §10 shape', async () => {
    const { socket, vol } = await daemon();
    const c = await connectRaw(socket);
    cleanups.push(() => c.socket.destroy());
    const reply = await call(c, { id: 1006 });
    expect(reply).toMatchObject({ id: 1106, ret: 'OK' });
    expect(reply.daemon).toMatchObject({ state: 'running', pid: process.pid });
    expect(reply.reboot).toEqual({ state: 'free' });
    const [volume] = reply.volumes as Array<Record<string, unknown>>;
    expect(volume).toMatchObject({
      id: `path:${vol.root}`,
      root: vol.root,
      state: 'idle',
      lock: { state: 'unlocked', waiters: 0, token: 1 },
      failures: 0,
      attempts: 0,
      stale: [],
      lastRebuild: { status: 0 },
    });
    expect(Object.keys(volume!).sort()).toEqual(['attempts', 'failures', 'id', 'lastRebuild', 'lock', 'root', 'stale', 'state']);
    // `volume` accepts the root path too.
    expect(await call(c, { id: 1006, volume: vol.root })).toMatchObject({ ret: 'OK' });
    expect(await call(c, { id: 1006, volume: 'path:/nope' })).toMatchObject({ id: 1106, ret: 'ENOENT' });
  });

  it('check skips the settle timer and retry answers OK', async () => {
    const { socket, vol, warden } = await daemon({ settleMs: 60_000 });
    const c = await connectRaw(socket);
    cleanups.push(() => c.socket.destroy());
    writeFileSync(path.join(vol.root, 'src', 'b.txt'), 'beta\n');
    await eventually(() => warden.status().volumes[0]!.state, (s) => s === 'settling');
    const reply = await call(c, { id: 1011, volume: vol.root });
    expect(reply).toMatchObject({ id: 1111, ret: 'OK', state: 'checking' });
    await eventually(() => warden.status().volumes[0]!, (v) => v.state === 'idle' && v.lock.token === 2);
    expect(await call(c, { id: 1012, volume: vol.root })).toMatchObject({ id: 1112, ret: 'OK' });
  });

  it('keeps the connection on BAD_ID and EINVAL, closes it on EBADMSG', async () => {
    const { socket } = await daemon();
    const c = await connectRaw(socket);
    expect(await call(c, { id: 1999 })).toMatchObject({ id: 2099, ret: 'BAD_ID' });
    expect(await call(c, { id: 1001, volume: 12 })).toMatchObject({ id: 1101, ret: 'EINVAL' });
    expect(await call(c, { id: 1006 })).toMatchObject({ ret: 'OK' });
    c.write('this is not json\n');
    const frames = await c.waitFrames(4);
    expect(frames[3]).toEqual({ id: 0, ret: 'EBADMSG' });
    await c.ended;
  });

  it('answers EMSGSIZE as soon as 1 MiB arrives without a newline, and closes', async () => {
    const { socket } = await daemon();
    const c = await connectRaw(socket);
    c.write(Buffer.alloc(1024 * 1024 + 10, 'a'));
    const [frame] = await c.waitFrames(1);
    expect(frame).toEqual({ id: 0, ret: 'EMSGSIZE' });
    await c.ended;
  });

  it('refuses control routines on the status socket with EPERM', async () => {
    const { statusSocket, vol } = await daemon();
    const c = await connectRaw(statusSocket);
    cleanups.push(() => c.socket.destroy());
    expect(await call(c, { id: 1001, volume: vol.root })).toMatchObject({ id: 1101, ret: 'EPERM' });
    expect(await call(c, { id: 1011, volume: vol.root })).toMatchObject({ id: 1111, ret: 'EPERM' });
    expect(await call(c, { id: 1010, volume: vol.root })).toMatchObject({ id: 1110, ret: 'OK' });
    // Rights are checked before arguments (SPEC §5 order): no EINVAL hint about a routine you may not call.
    expect(await call(c, { id: 1001 })).toMatchObject({ id: 1101, ret: 'EPERM' });
    expect(await call(c, { id: 1002, volume: 7 })).toMatchObject({ id: 1102, ret: 'EPERM' });
  });

  it('answers BAD_ID for the first id past the SPEC routines on both sockets', async () => {
    const { socket, statusSocket } = await daemon();
    for (const path of [socket, statusSocket]) {
      const c = await connectRaw(path);
      cleanups.push(() => c.socket.destroy());
      expect(await call(c, { id: 1013 })).toMatchObject({ id: 1113, ret: 'BAD_ID' });
    }
  });

  it('answers EMFILE past maxClients and keeps serving the others', async () => {
    const { socket } = await daemon({ limits: { maxClients: 2 } });
    const a = await connectRaw(socket);
    const b = await connectRaw(socket);
    cleanups.push(() => a.socket.destroy(), () => b.socket.destroy());
    expect(await call(a, { id: 1000 })).toMatchObject({ ret: 'OK' });
    const c = await connectRaw(socket);
    const [frame] = await c.waitFrames(1);
    expect(frame).toEqual({ id: 0, ret: 'EMFILE' });
    await c.ended;
    expect(await call(b, { id: 1006 })).toMatchObject({ ret: 'OK' });
  });

  it('hands the lock to the next waiter when the holder disconnects, counting a failure', async () => {
    const { socket, vol, warden } = await daemon({ settleMs: 60_000 });
    const holder = await connectRaw(socket);
    const waiter = await connectRaw(socket);
    cleanups.push(() => waiter.socket.destroy());
    const granted = await call(holder, { id: 1001, volume: vol.root });
    expect(granted).toMatchObject({ id: 1101, ret: 'OK', token: 2 });
    expect(await call(waiter, { id: 1001, volume: vol.root })).toMatchObject({ ret: 'EBUSY' });
    waiter.write(`${JSON.stringify({ id: 1001, seq: 77, volume: vol.root, wait: true })}\n`);
    await eventually(() => warden.status().volumes[0]!.lock.waiters, (n) => n === 1);
    holder.socket.destroy();
    const frames = await waiter.waitFrames(2);
    expect(frames[1]).toMatchObject({ id: 1101, seq: 77, ret: 'OK', token: 3 });
    expect(warden.status().volumes[0]!.failures).toBe(1);
    expect(await call(waiter, { id: 1002, volume: vol.root, status: 0, token: 2 })).toMatchObject({ ret: 'EPERM' });
    expect(await call(waiter, { id: 1002, volume: vol.root, status: 0, token: 3 })).toMatchObject({ ret: 'OK' });
    expect(warden.status().volumes[0]!.failures).toBe(0);
  });

  it('skips a waiter that hung up just before the holder unlocked, without a failure or a lost token', async () => {
    const { socket, vol, warden } = await daemon({ settleMs: 60_000 });
    const [holder, leaving, next] = await Promise.all([connectRaw(socket), connectRaw(socket), connectRaw(socket)]);
    cleanups.push(() => holder.socket.destroy(), () => next.socket.destroy());
    expect(await call(holder, { id: 1001, volume: vol.root })).toMatchObject({ ret: 'OK', token: 2 });
    leaving.write(`${JSON.stringify({ id: 1001, seq: 1, volume: vol.root, wait: true })}\n`);
    await eventually(() => warden.status().volumes[0]!.lock.waiters, (n) => n === 1);
    next.write(`${JSON.stringify({ id: 1001, seq: 2, volume: vol.root, wait: true })}\n`);
    await eventually(() => warden.status().volumes[0]!.lock.waiters, (n) => n === 2);
    // Both reach the daemon in the same poll: the hang-up first, then the unlock.
    leaving.socket.destroy();
    holder.write(`${JSON.stringify({ id: 1002, seq: 3, volume: vol.root, status: 0 })}\n`);
    const [granted] = await next.waitFrames(1);
    expect(granted).toMatchObject({ id: 1101, seq: 2, ret: 'OK', token: 3 });
    expect(warden.status().volumes[0]).toMatchObject({ failures: 0, lock: { state: 'locked', token: 3 } });
  });

  it('stops without handing a held lock to the queued rebuild: no helper starts, no failure is counted', async () => {
    const { socket, vol, warden } = await daemon({ settleMs: 20 });
    const holder = await connectRaw(socket);
    expect(await call(holder, { id: 1001, volume: vol.root })).toMatchObject({ ret: 'OK' });
    const seen: string[] = [];
    warden.events$.subscribe((e) => seen.push(e.type === 'lock.granted' ? `granted to ${e.holder.name}` : e.type));
    writeFileSync(path.join(vol.root, 'src', 'a.txt'), 'changed while locked\n');
    await eventually(() => warden.status().volumes[0]!, (v) => v.state === 'checking' && v.lock.waiters === 1);
    await warden.stop();
    await holder.ended;
    expect(seen).not.toContain('granted to volwarden');
    expect(seen).not.toContain('rebuild.finished');
    expect(warden.status().volumes[0]).toMatchObject({ failures: 0 });
  });
});
