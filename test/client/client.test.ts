import { join } from 'node:path';
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWarden, type WardenHandle } from '../../src/index.js';
import { listenUnix, type SocketListener } from '../../src/adapters/socket-server.js';
import { connect, type WardenClient, type WardenEvent } from '../../src/client/index.js';
import { WardenError } from '../../src/errors.js';
import { decodeRequest } from '../../src/protocol/requests.js';
import { okReply } from '../../src/protocol/replies.js';
import { VERSION } from '../../src/version.js';
import { shortTempDir } from '../adapters/socket-server.helpers.js';
import { eventually, makeVolume } from '../integration/helpers.js';

async function rejection(promise: Promise<unknown>): Promise<WardenError> {
  const err = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WardenError);
  return err as WardenError;
}

describe('volwarden/client against a real warden', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  let warden: WardenHandle;
  let root: string;
  let socket: string;
  let statusSocket: string;

  beforeEach(async () => {
    const vol = makeVolume();
    const tmp = shortTempDir();
    cleanups.push(vol.cleanup, tmp.cleanup);
    root = vol.root;
    socket = join(tmp.dir, 'c.sock');
    statusSocket = join(tmp.dir, 's.sock');
    warden = createWarden({ roots: [root], settleMs: 50, limits: { ackTimeoutMs: 300 } });
    cleanups.push(() => warden.stop());
    await warden.listen({ socket, statusSocket });
    await warden.start();
    await eventually(() => warden.status().volumes[0]!, (v) => v.state === 'idle' && v.lastRebuild !== null);
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function client(name: string, path = socket): Promise<WardenClient> {
    const c = await connect({ socket: path, name });
    cleanups.push(() => c.close());
    return c;
  }

  it('grants a lease with a token and releases it with the given status', async () => {
    const c = await client('backup');
    const lease = await c.lockVolume(root, { wait: true });
    expect(lease.volume).toBe(`path:${root}`);
    expect(lease.token).toBe(2);
    const held = await c.status(lease.volume);
    expect(held.volumes[0]!.lock.holder).toMatchObject({ name: 'backup', pid: process.pid });
    await lease.release(0);
    expect((await c.status()).volumes[0]!.lock.state).toBe('unlocked');
    expect((await rejection(lease.release())).code).toBe('ENOLCK');
  });

  it('exposes the daemon version and the client id from hello', async () => {
    const c = await client('hello');
    expect(c.version).toBe(VERSION);
    const lease = await c.lockVolume(root);
    expect((await c.status(lease.volume)).volumes[0]!.lock.holder?.client).toBe(c.clientId);
  });

  it('keeps a lease releasable after the daemon rejects its status with EINVAL', async () => {
    const c = await client('backup');
    const lease = await c.lockVolume(root);
    expect((await rejection(lease.release(1.5))).code).toBe('EINVAL');
    expect((await c.status(lease.volume)).volumes[0]!.lock.holder?.client).toBe(c.clientId);
    await lease.release(0);
    expect((await c.status(lease.volume)).volumes[0]!.lock.state).toBe('unlocked');
  });

  it('settles lease.lost with ENOENT when a release finds the volume gone', async () => {
    const c = await client('holder');
    const lease = await c.lockVolume(root);
    const { rmSync } = await import('node:fs');
    rmSync(join(root, '.volwarden.json'));
    await eventually(() => warden.status().volumes.length, (n) => n === 0);
    expect((await rejection(lease.release(0))).code).toBe('ENOENT');
    const reason = await lease.lost;
    expect(reason.code).toBe('ENOENT');
    expect((await rejection(lease.release(0))).code).toBe('ENOLCK');
  });

  it('answers EBUSY to a second client that does not wait, and ENOENT for an unknown volume', async () => {
    const holder = await client('holder');
    const other = await client('other');
    await holder.lockVolume(root);
    expect((await rejection(other.lockVolume(root, { wait: false }))).code).toBe('EBUSY');
    expect((await rejection(other.lockVolume('path:/no/such/volume'))).code).toBe('ENOENT');
    expect((await rejection(other.lockVolume(root, { wait: true, timeoutMs: 50 }))).code).toBe('ETIMEDOUT');
  });

  it('settles lease.lost when the connection drops while the lock is held', async () => {
    const c = await client('holder');
    const lease = await c.lockVolume(root);
    await warden.stop();
    const reason = await lease.lost;
    expect(reason).toBeInstanceOf(WardenError);
    expect(reason.code).toBe('ECONNRESET');
  });

  it('reports the busy volume when the reboot lock cannot be taken', async () => {
    const holder = await client('holder');
    const lease = await holder.lockVolume(root);
    const err = await rejection(holder.lockReboot());
    expect(err.code).toBe('EBUSY');
    expect(err.busyVolume).toBe(lease.volume);
    await lease.release();
    const reboot = await holder.lockReboot();
    expect((await holder.status()).reboot.state).toBe('held');
    await reboot.release();
    expect((await holder.status()).reboot.state).toBe('free');
  });

  it('gives EPERM for control calls over the status socket, and allows canUnmount there', async () => {
    const reader = await client('reader', statusSocket);
    expect(reader.rights).toBe('status');
    expect((await rejection(reader.lockVolume(root))).code).toBe('EPERM');
    await expect(reader.canUnmount(root)).resolves.toBeUndefined();
    expect((await rejection(reader.canUnmount('path:/nope'))).code).toBe('ENOENT');
  });

  it('runs check and retry', async () => {
    const c = await client('ops');
    expect(['checking', 'idle']).toContain(await c.check(root));
    await expect(c.retry(root)).resolves.toBeUndefined();
  });

  it('emits events, acknowledges every delivery and unsubscribes on teardown', async () => {
    const c = await client('watcher');
    const other = await client('locker');
    const received: WardenEvent[] = [];
    const subscription = c.subscribe(root, { events: ['lock.granted', 'lock.released'] }).subscribe((e) => received.push(e));
    await eventually(() => warden.core.hub.snapshot().length, (n) => n === 1);
    // Three deliveries spaced beyond the 300 ms ack deadline: an unacked subscriber would be a zombie by the second.
    for (let i = 0; i < 3; i++) {
      const lease = await other.lockVolume(root);
      await lease.release();
      await eventually(() => received.length, (n) => n === 2 * (i + 1));
      await new Promise((r) => setTimeout(r, 350));
      expect(warden.core.hub.snapshot()[0]!.state).toBe('attached');
    }
    expect(received.map((e) => e.type)).toEqual(['lock.granted', 'lock.released', 'lock.granted', 'lock.released', 'lock.granted', 'lock.released']);
    subscription.unsubscribe();
    await eventually(() => warden.core.hub.snapshot().length, (n) => n === 0);
  });

  it('completes a one-volume subscription after volume.gone', async () => {
    const c = await client('watcher');
    const events = firstValueFrom(c.subscribe(root).pipe(toArray()));
    await eventually(() => warden.core.hub.snapshot().length, (n) => n === 1);
    const { rmSync } = await import('node:fs');
    rmSync(join(root, '.volwarden.json'));
    const types = (await events).map((e) => e.type);
    expect(types.at(-1)).toBe('volume.gone');
  });
});

describe('volwarden/client on the wire', () => {
  let listener: SocketListener | undefined;
  const tmp = shortTempDir();
  afterEach(async () => {
    await listener?.close();
  });

  it('acks each frame with its sub and seq after emitting its events, and sends unsubscribe', async () => {
    const requests: Record<string, unknown>[] = [];
    const path = join(tmp.dir, 'fake.sock');
    let nextId = 0;
    listener = await listenUnix(
      { path, rights: 'control', socketMode: 0o600, dirMode: 0o700, allocateId: () => ++nextId, onError: () => {} },
      {
        onConnection: () => true,
        onClose: () => {},
        onMessage: (conn, msg) => {
          requests.push(msg);
          const req = decodeRequest(msg);
          if (!req.ok) return;
          if (req.routine === 'hello') conn.send(okReply(req, { client: conn.id, rights: 'control', version: 'x' }));
          if (req.routine === 'subscribe') {
            conn.send(okReply(req, { sub: 7 }));
            const ev = (n: number) => ({ type: 'volume.ready', volume: 'path:/v', ts: 0, n });
            conn.send({ id: 2000, sub: 7, seq: 1, events: [ev(1), ev(2)] });
            conn.send({ id: 2000, sub: 99, seq: 1, events: [ev(3)] });
            conn.send({ id: 2000, sub: 7, seq: 2, events: [ev(4)] });
          }
          if (req.routine === 'unsubscribe') conn.send(okReply(req));
        },
      },
    );
    const c = await connect({ socket: path, name: 'wire' });
    const events = await firstValueFrom(c.subscribe('path:/v').pipe(take(3), toArray()));
    expect(events.map((e) => e.n)).toEqual([1, 2, 4]);
    await eventually(() => requests.filter((r) => r.id === 1009).length, (n) => n === 1);
    const acks = requests.filter((r) => r.id === 1007).map(({ sub, seq }) => ({ sub, seq }));
    expect(acks).toEqual([{ sub: 7, seq: 1 }, { sub: 7, seq: 2 }]);
    expect(requests.find((r) => r.id === 1009)).toMatchObject({ sub: 7 });
    expect(requests.find((r) => r.id === 1008)).toMatchObject({ volume: 'path:/v' });
    await c.close();
  });

  it('rejects with ECONNREFUSED when nothing listens', async () => {
    const err = await rejection(connect({ socket: join(tmp.dir, 'nobody.sock') }));
    expect(err.code).toBe('ECONNREFUSED');
  });
});
