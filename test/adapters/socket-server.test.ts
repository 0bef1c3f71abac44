import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAlreadyRunning, listenUnix, type Connection, type ListenOptions, type SocketHandlers, type SocketListener } from '../../src/adapters/socket-server.js';
import { WardenError } from '../../src/errors.js';
import { connectRaw, shortTempDir } from './socket-server.helpers.js';

interface Recorder {
  handlers: SocketHandlers;
  messages: [number, Record<string, unknown>][];
  opened: Connection[];
  closedIds: number[];
  errors: string[];
  whenClosed(n: number): Promise<void>;
  whenMessages(n: number): Promise<void>;
}

// Echoes every message back as {echo: msg}; `accept` decides onConnection.
function recorder(accept: () => boolean = () => true, onMessage?: (conn: Connection, msg: Record<string, unknown>) => void): Recorder {
  const waiters: (() => void)[] = [];
  const poke = () => waiters.splice(0).forEach((w) => w());
  const until = (cond: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => (cond() ? resolve() : waiters.push(check));
      check();
    });
  const rec: Recorder = {
    messages: [],
    opened: [],
    closedIds: [],
    errors: [],
    whenClosed: (n) => until(() => rec.closedIds.length >= n),
    whenMessages: (n) => until(() => rec.messages.length >= n),
    handlers: {
      onConnection: (conn) => {
        rec.opened.push(conn);
        return accept();
      },
      onMessage: (conn, msg) => {
        rec.messages.push([conn.id, msg]);
        poke();
        if (onMessage) onMessage(conn, msg);
        else conn.send({ echo: msg });
      },
      onClose: (conn) => {
        rec.closedIds.push(conn.id);
        poke();
      },
    },
  };
  return rec;
}

describe('listenUnix', () => {
  let dir: string;
  let cleanup: () => void;
  let listeners: SocketListener[];
  let nextId: number;

  beforeEach(() => {
    ({ dir, cleanup } = shortTempDir());
    listeners = [];
    nextId = 0;
  });
  afterEach(async () => {
    await Promise.all(listeners.map((l) => l.close()));
    cleanup();
  });

  async function listen(rec: Recorder, overrides: Partial<ListenOptions> = {}): Promise<SocketListener> {
    const listener = await listenUnix(
      {
        path: join(dir, 'control.sock'),
        rights: 'control',
        socketMode: 0o600,
        dirMode: 0o700,
        allocateId: () => ++nextId,
        onError: (error, context) => rec.errors.push(`${context}: ${String(error)}`),
        ...overrides,
      },
      rec.handlers,
    );
    listeners.push(listener);
    return listener;
  }

  it('delivers a line split across several writes as one message', async () => {
    const rec = recorder();
    const listener = await listen(rec);
    const client = await connectRaw(listener.path);
    client.write('{"id":1000,');
    await new Promise((r) => setTimeout(r, 20));
    client.write('"seq":1,"name":"caf');
    await new Promise((r) => setTimeout(r, 20));
    client.write('é"}\n');
    expect(await client.waitFrames(1)).toEqual([{ echo: { id: 1000, seq: 1, name: 'café' } }]);
    expect(rec.opened[0].rights).toBe('control');
    client.socket.destroy();
  });

  it('delivers many lines of one write in order', async () => {
    const rec = recorder();
    const listener = await listen(rec);
    const client = await connectRaw(listener.path);
    client.write(Array.from({ length: 50 }, (_, i) => JSON.stringify({ seq: i })).join('\n') + '\n');
    const frames = await client.waitFrames(50);
    expect(frames.map((f) => (f.echo as { seq: number }).seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    client.socket.destroy();
  });

  it('answers a non-object line with EBADMSG and closes the connection', async () => {
    const rec = recorder();
    const listener = await listen(rec);
    const client = await connectRaw(listener.path);
    client.write('{"seq":1}\n[1,2,3]\n{"seq":2}\n');
    await client.ended;
    expect(client.frames).toEqual([{ echo: { seq: 1 } }, { id: 0, ret: 'EBADMSG' }]);
    await rec.whenClosed(1);
    expect(rec.opened[0].closed).toBe(true);
    expect(rec.messages).toHaveLength(1);
  });

  it('answers EMSGSIZE as soon as more than 1 MiB arrives without a newline, then closes', async () => {
    const rec = recorder();
    const listener = await listen(rec);
    const client = await connectRaw(listener.path);
    client.write(Buffer.alloc(1024 * 1024, 0x61));
    client.write('b'); // the newline never comes
    await client.ended;
    expect(client.frames).toEqual([{ id: 0, ret: 'EMSGSIZE' }]);
    await rec.whenClosed(1);
  });

  it('sends EMFILE and closes when onConnection refuses, without calling onClose', async () => {
    const rec = recorder(() => false);
    const listener = await listen(rec);
    const client = await connectRaw(listener.path);
    await client.ended;
    expect(client.frames).toEqual([{ id: 0, ret: 'EMFILE' }]);
    expect(rec.opened).toHaveLength(1);
    expect(rec.closedIds).toEqual([]);
  });

  it('creates a missing control directory 0700 with the socket 0600', async () => {
    const path = join(dir, 'private', 'control.sock');
    await listen(recorder(), { path });
    expect(statSync(join(dir, 'private')).mode & 0o777).toBe(0o700);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(path).isSocket()).toBe(true);
  });

  it('creates a missing status directory 0755 with the socket 0666', async () => {
    const path = join(dir, 'pub', 'status.sock');
    await listen(recorder(), { path, rights: 'status', socketMode: 0o666, dirMode: 0o755 });
    expect(statSync(join(dir, 'pub')).mode & 0o777).toBe(0o755);
    expect(statSync(path).mode & 0o777).toBe(0o666);
  });

  it('lays out the default tree: run/ 0755 with the status socket, run/private/ 0700 with the control socket', async () => {
    const run = join(dir, 'run', 'volwarden');
    // The control socket is opened first, creating run/volwarden on its way to private/.
    await listen(recorder(), { path: join(run, 'private', 'control.sock') });
    await listen(recorder(), { path: join(run, 'status.sock'), rights: 'status', socketMode: 0o666, dirMode: 0o755 });
    expect(statSync(run).mode & 0o777).toBe(0o755);
    expect(statSync(join(run, 'private')).mode & 0o777).toBe(0o700);
  });

  it('leaves the mode of an existing directory alone', async () => {
    mkdirSync(join(dir, 'existing'), { mode: 0o750 });
    await listen(recorder(), { path: join(dir, 'existing', 'c.sock') });
    expect(statSync(join(dir, 'existing')).mode & 0o777).toBe(0o750);
  });

  it('replaces a socket file that nobody answers on', async () => {
    const path = join(dir, 'control.sock');
    // A daemon that died without cleaning up leaves its socket file behind.
    const script = "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))";
    try {
      execFileSync(process.execPath, ['-e', script, path], { stdio: 'ignore' });
    } catch {
      // killed on purpose
    }
    expect(statSync(path).isSocket()).toBe(true);
    const rec = recorder();
    await listen(rec, { path });
    const client = await connectRaw(path);
    client.write('{"seq":1}\n');
    expect(await client.waitFrames(1)).toEqual([{ echo: { seq: 1 } }]);
    client.socket.destroy();
  });

  it('refuses to start when a live daemon answers on the socket, leaving it untouched', async () => {
    const first = recorder();
    const listener = await listen(first);
    const error = await listen(recorder()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WardenError);
    expect(isAlreadyRunning(error)).toBe(true);
    expect((error as WardenError).code).toBe('EBUSY');
    expect((error as WardenError).message).toBe(`already running: a daemon answers on ${listener.path}`);
    const client = await connectRaw(listener.path);
    client.write('{"seq":1}\n');
    expect(await client.waitFrames(1)).toEqual([{ echo: { seq: 1 } }]);
    client.socket.destroy();
  });

  it('refuses to replace a path that is not a socket', async () => {
    const path = join(dir, 'file');
    writeFileSync(path, 'data');
    const error = await listen(recorder(), { path }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WardenError);
    expect(isAlreadyRunning(error)).toBe(false);
    expect(existsSync(path)).toBe(true);
  });

  it('refuses a path longer than 107 bytes before binding, leaving no file behind', async () => {
    const path = join(dir, 'x'.repeat(120));
    const error = await listen(recorder(), { path }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WardenError);
    expect((error as WardenError).code).toBe('EINVAL');
    expect((error as WardenError).message).toBe(`socket path ${path} is ${path.length} bytes, longer than 107 bytes: choose a shorter --socket`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('measures the path limit in bytes, not characters', async () => {
    // 60 two-byte characters: under 107 characters, over 107 bytes.
    const path = join(dir, 'é'.repeat(60));
    expect(path.length).toBeLessThan(107);
    await expect(listen(recorder(), { path })).rejects.toMatchObject({ code: 'EINVAL' });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('binds a path of exactly 107 bytes', async () => {
    const path = join(dir, 'a'.repeat(107 - dir.length - 1));
    expect(Buffer.byteLength(path)).toBe(107);
    const listener = await listen(recorder(), { path });
    expect(statSync(listener.path).isSocket()).toBe(true);
  });

  it('turns an OS error into a WardenError that names the socket and the flag to change', async () => {
    writeFileSync(join(dir, 'file'), 'data');
    const path = join(dir, 'file', 'status.sock');
    const error = await listen(recorder(), { path, rights: 'status', socketMode: 0o666, dirMode: 0o755 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WardenError);
    expect((error as WardenError).code).toBe('EINVAL');
    expect((error as WardenError).message).toContain(path);
    expect((error as WardenError).message).toMatch(/choose another --status-socket$/);
    expect(((error as WardenError).cause as NodeJS.ErrnoException).code).toBe('ENOTDIR');
  });

  it.skipIf(process.getuid?.() === 0)('answers EPERM when the socket directory cannot be written', async () => {
    mkdirSync(join(dir, 'locked'), { mode: 0o500 });
    const error = await listen(recorder(), { path: join(dir, 'locked', 'c.sock') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WardenError);
    expect((error as WardenError).code).toBe('EPERM');
  });

  it('close() drops every connection, calls onClose for each and unlinks the socket', async () => {
    const rec = recorder();
    const listener = await listen(rec);
    const a = await connectRaw(listener.path);
    const b = await connectRaw(listener.path);
    a.write('{"seq":1}\n');
    b.write('{"seq":2}\n');
    await rec.whenMessages(2);
    await listener.close();
    await Promise.all([a.ended, b.ended]);
    expect(rec.closedIds.sort()).toEqual([1, 2]);
    expect(existsSync(listener.path)).toBe(false);
    await listener.close(); // idempotent
  });

  it('keeps serving after a handler throws, and logs the error', async () => {
    const rec = recorder(undefined, (conn, msg) => {
      if (msg.boom) throw new Error('handler bug');
      conn.send({ ok: msg.seq });
    });
    const listener = await listen(rec);
    const client = await connectRaw(listener.path);
    client.write('{"seq":1,"boom":true}\n{"seq":2}\n');
    expect(await client.waitFrames(1)).toEqual([{ ok: 2 }]);
    expect(rec.errors).toEqual([expect.stringContaining('handler bug')]);
    const other = await connectRaw(listener.path);
    other.write('{"seq":3}\n');
    expect(await other.waitFrames(1)).toEqual([{ ok: 3 }]);
    client.socket.destroy();
    other.socket.destroy();
  });

  it('reports a peer hanging up through onClose exactly once', async () => {
    const rec = recorder();
    const listener = await listen(rec);
    const client = await connectRaw(listener.path);
    client.write('{"seq":1}\n');
    await rec.whenMessages(1);
    client.socket.end();
    await rec.whenClosed(1);
    expect(rec.closedIds).toEqual([1]);
    rec.opened[0].send({ late: true }); // a no-op, not a crash
    rec.opened[0].close();
    expect(rec.closedIds).toEqual([1]);
  });

  it('sends the final frame when the handler closes a connection', async () => {
    const rec = recorder(undefined, (conn) => conn.close({ id: 0, ret: 'EPERM' }));
    const listener = await listen(rec);
    const client = await connectRaw(listener.path);
    client.write('{"seq":1}\n{"seq":2}\n');
    await client.ended;
    expect(client.frames).toEqual([{ id: 0, ret: 'EPERM' }]);
    expect(rec.messages).toHaveLength(1);
    expect(rec.closedIds).toEqual([1]);
  });

  it('drops a client that stops reading once its unflushed output passes maxBufferedBytes', async () => {
    const big = 'x'.repeat(64 * 1024);
    const rec = recorder(undefined, (conn) => {
      for (let i = 0; i < 200 && !conn.closed; i++) conn.send({ i, big });
    });
    const listener = await listen(rec, { maxBufferedBytes: 1024 * 1024 });
    const client = await connectRaw(listener.path);
    client.socket.pause(); // never reads
    client.write('{"seq":1}\n');
    await rec.whenClosed(1);
    expect(rec.opened[0].closed).toBe(true);
    expect(rec.errors.some((e) => e.startsWith('back-pressure'))).toBe(true);
    client.socket.destroy();
  });

  it('delivers one reply bigger than maxBufferedBytes to a client that reads', async () => {
    const big = 'y'.repeat(3 * 1024 * 1024);
    const rec = recorder(undefined, (conn) => conn.send({ big }));
    const listener = await listen(rec, { maxBufferedBytes: 256 * 1024 });
    const client = await connectRaw(listener.path);
    client.write('{"seq":1}\n');
    expect((await client.waitFrames(1))[0]).toEqual({ big });
    expect(rec.opened[0].closed).toBe(false);
    client.socket.destroy();
  });

  it('closes the biggest holders of unfinished lines once the socket passes maxSocketBufferedBytes', async () => {
    const rec = recorder();
    const listener = await listen(rec, { maxSocketBufferedBytes: 1024 * 1024 });
    const small = await connectRaw(listener.path);
    small.write('{"seq":0');
    const big = await Promise.all([connectRaw(listener.path), connectRaw(listener.path)]);
    for (const c of big) c.write(`{"seq":1,"pad":"${'z'.repeat(700 * 1024)}`);
    await rec.whenClosed(1);
    expect(rec.errors.some((e) => e.startsWith('socket buffer budget'))).toBe(true);
    // One of the two 700 KB holders went; the small one stays and still finishes its line.
    small.write('}\n');
    expect(await small.waitFrames(1)).toEqual([{ echo: { seq: 0 } }]);
    for (const c of [small, ...big]) c.socket.destroy();
  });

  it('allocates ids with the caller-supplied allocator', async () => {
    const rec = recorder();
    const listener = await listen(rec, { allocateId: () => 41 + rec.opened.length });
    const a = await connectRaw(listener.path);
    a.write('{}\n');
    await rec.whenMessages(1);
    expect(rec.messages[0][0]).toBe(41);
    a.socket.destroy();
  });
});
