import { execFileSync } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listenUnix, type Connection, type SocketListener } from '../../src/adapters/socket-server.js';
import { connectClient, type NotificationFrame } from '../../src/client/connection.js';
import { WardenError } from '../../src/errors.js';
import { decodeRequest } from '../../src/protocol/requests.js';
import { errorReply, okReply, type RequestRef } from '../../src/protocol/replies.js';
import { shortTempDir } from '../adapters/socket-server.helpers.js';

// A tiny fake daemon: hello answers at once, lock_volume replies are held until the test releases them.
interface FakeDaemon {
  listener: SocketListener;
  path: string;
  requests: Record<string, unknown>[];
  heldLocks: { conn: Connection; req: RequestRef }[];
  conns: Connection[];
  accept: boolean;
  whenRequests(n: number): Promise<void>;
}

async function fakeDaemon(dir: string): Promise<FakeDaemon> {
  let nextId = 0;
  const waiters: (() => void)[] = [];
  const fake: FakeDaemon = {
    requests: [],
    heldLocks: [],
    conns: [],
    accept: true,
    path: join(dir, 'control.sock'),
    listener: undefined as unknown as SocketListener,
    whenRequests: (n) =>
      new Promise((resolve) => {
        const check = () => (fake.requests.length >= n ? resolve() : waiters.push(check));
        check();
      }),
  };
  fake.listener = await listenUnix(
    { path: fake.path, rights: 'control', socketMode: 0o600, dirMode: 0o700, allocateId: () => ++nextId, onError: () => {} },
    {
      onConnection: (conn) => {
        fake.conns.push(conn);
        return fake.accept;
      },
      onClose: () => {},
      onMessage: (conn, msg) => {
        fake.requests.push(msg);
        waiters.splice(0).forEach((w) => w());
        const req = decodeRequest(msg);
        if (!req.ok) return conn.send(req.reply);
        switch (req.routine) {
          case 'hello':
            return conn.send(okReply(req, { client: conn.id, rights: conn.rights, version: '0.1.0' }));
          case 'lock_volume':
            return void fake.heldLocks.push({ conn, req });
          case 'lock_reboot':
            return conn.send(errorReply(req, 'EBUSY', { busyVolume: 'path:/busy' }));
          case 'status':
            return conn.send(okReply(req, { volumes: [] }));
          case 'ack':
            return;
          default:
            return conn.send(errorReply(req, 'ENOENT', { error: 'no such volume: x' }));
        }
      },
    },
  );
  return fake;
}

describe('connectClient', () => {
  let dir: string;
  let cleanup: () => void;
  let daemon: FakeDaemon;

  beforeEach(async () => {
    ({ dir, cleanup } = shortTempDir());
    daemon = await fakeDaemon(dir);
  });
  afterEach(async () => {
    await daemon.listener.close();
    cleanup();
  });

  it('says hello first and exposes the client id, rights and version', async () => {
    const conn = await connectClient(daemon.path, { name: 'backup' });
    expect(daemon.requests[0]).toEqual({ id: 1000, seq: 1, name: 'backup', pid: process.pid });
    expect(conn.clientId).toBe(1);
    expect(conn.rights).toBe('control');
    expect(conn.version).toBe('0.1.0');
    await conn.close();
  });

  it('matches out-of-order replies to their requests by seq', async () => {
    const conn = await connectClient(daemon.path);
    const lockA = conn.request('lock_volume', { volume: 'path:/a', wait: true });
    const lockB = conn.request('lock_volume', { volume: 'path:/b', wait: true });
    const status = await conn.request('status');
    expect(status).toMatchObject({ id: 1106, ret: 'OK', volumes: [] });
    await daemon.whenRequests(4);
    const [a, b] = daemon.heldLocks;
    b.conn.send(okReply(b.req, { token: 2 }));
    a.conn.send(okReply(a.req, { token: 1 }));
    expect(await lockB).toMatchObject({ ret: 'OK', token: 2 });
    expect(await lockA).toMatchObject({ ret: 'OK', token: 1 });
    await conn.close();
  });

  it('rejects with WardenError(ret), keeping the whole reply as cause and lifting busyVolume', async () => {
    const conn = await connectClient(daemon.path);
    const error = await conn.request('lock_reboot').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WardenError);
    expect(error).toMatchObject({ code: 'EBUSY', busyVolume: 'path:/busy', cause: { id: 1104, seq: 2, ret: 'EBUSY', busyVolume: 'path:/busy' } });
    await expect(conn.request('check', { volume: 'x' })).rejects.toMatchObject({ code: 'ENOENT', message: 'no such volume: x' });
    await conn.close();
  });

  it('rejects a request the daemon finds malformed with EINVAL', async () => {
    const conn = await connectClient(daemon.path);
    await expect(conn.request('lock_volume', { wait: true })).rejects.toMatchObject({ code: 'EINVAL' });
    await conn.close();
  });

  it('sends acks fire-and-forget with the notification seq', async () => {
    const conn = await connectClient(daemon.path);
    conn.send('ack', { sub: 3, seq: 17 });
    await daemon.whenRequests(2);
    expect(daemon.requests[1]).toEqual({ id: 1007, seq: 17, sub: 3 });
    await conn.close();
  });

  it('hands notifications to listeners until they unsubscribe', async () => {
    const conn = await connectClient(daemon.path);
    const seen: NotificationFrame[] = [];
    const stop = conn.onNotification((frame) => seen.push(frame));
    const event = { type: 'volume.ready', volume: 'path:/a', ts: 1, n: 1 };
    daemon.conns[0].send({ id: 2000, sub: 1, seq: 1, events: [event] });
    await conn.request('status'); // the notification was written first, so it has arrived
    stop();
    daemon.conns[0].send({ id: 2000, sub: 1, seq: 2, events: [event] });
    await conn.request('status');
    expect(seen).toEqual([{ id: 2000, sub: 1, seq: 1, events: [event] }]);
    await conn.close();
  });

  it('rejects pending requests with ECONNRESET when the connection drops', async () => {
    const conn = await connectClient(daemon.path);
    const pending = conn.request('lock_volume', { volume: 'path:/a', wait: true });
    await daemon.whenRequests(2);
    daemon.conns[0].close();
    await expect(pending).rejects.toMatchObject({ code: 'ECONNRESET' });
    await conn.closed;
    await expect(conn.request('status')).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('rejects pending requests with the code of an id-0 frame', async () => {
    const conn = await connectClient(daemon.path);
    const pending = conn.request('lock_volume', { volume: 'path:/a', wait: true });
    await daemon.whenRequests(2);
    daemon.conns[0].close({ id: 0, ret: 'EMSGSIZE' });
    await expect(pending).rejects.toMatchObject({ code: 'EMSGSIZE' });
    await conn.closed;
  });

  it('fails with EMFILE when the daemon has too many clients', async () => {
    daemon.accept = false;
    await expect(connectClient(daemon.path)).rejects.toMatchObject({ code: 'EMFILE' });
  });

  it('fails with ECONNREFUSED when no socket exists', async () => {
    const path = join(dir, 'nothing.sock');
    const error = await connectClient(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WardenError);
    expect(error).toMatchObject({ code: 'ECONNREFUSED', message: `daemon not reachable at ${path}: is volwarden daemon running?` });
  });

  it('fails with ECONNREFUSED when nobody listens on the socket file', async () => {
    const path = join(dir, 'stale.sock');
    // A daemon killed without cleaning up leaves its socket file behind.
    const script = "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))";
    try {
      execFileSync(process.execPath, ['-e', script, path], { stdio: 'ignore' });
    } catch {
      // killed on purpose
    }
    expect(statSync(path).isSocket()).toBe(true);
    await expect(connectClient(path)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it.skipIf(process.getuid?.() === 0)('fails with EPERM when the socket is not accessible', async () => {
    chmodSync(daemon.path, 0o000);
    await expect(connectClient(daemon.path)).rejects.toMatchObject({ code: 'EPERM' });
  });

  it('close() settles closed and later requests reject with ECONNRESET', async () => {
    const conn = await connectClient(daemon.path);
    await conn.close();
    await conn.closed;
    await expect(conn.request('status')).rejects.toMatchObject({ code: 'ECONNRESET' });
  });
});
