import { describe, expect, it } from 'vitest';
import { MemorySocketServer } from '../../src/adapters/socket-server.memory.js';
import type { Connection, SocketHandlers } from '../../src/adapters/socket-server.js';

function setup(options: { accept?: () => boolean; onMessage?: (conn: Connection, msg: Record<string, unknown>) => void } = {}) {
  const sockets = new MemorySocketServer();
  let nextId = 0;
  const closedIds: number[] = [];
  const errors: string[] = [];
  const opened: Connection[] = [];
  const handlers: SocketHandlers = {
    onConnection: (conn) => {
      opened.push(conn);
      return options.accept ? options.accept() : true;
    },
    onMessage: options.onMessage ?? ((conn, msg) => conn.send({ echo: msg, client: conn.id, rights: conn.rights })),
    onClose: (conn) => void closedIds.push(conn.id),
  };
  const onError = (error: unknown, context: string) => void errors.push(`${context}: ${String(error)}`);
  const control = sockets.listen({ rights: 'control', allocateId: () => ++nextId, onError }, handlers);
  const status = sockets.listen({ rights: 'status', allocateId: () => ++nextId, onError }, handlers);
  return { sockets, control, status, closedIds, errors, opened };
}

describe('MemorySocketServer', () => {
  it('delivers objects synchronously and answers synchronously', () => {
    const { sockets } = setup();
    const peer = sockets.connect();
    peer.send({ id: 1000, seq: 1 });
    expect(peer.received).toEqual([{ echo: { id: 1000, seq: 1 }, client: 1, rights: 'control' }]);
  });

  it('routes a connection to the listener with the requested rights', () => {
    const { sockets } = setup();
    const peer = sockets.connect('status');
    peer.send({ seq: 1 });
    expect(peer.received).toEqual([{ echo: { seq: 1 }, client: 1, rights: 'status' }]);
  });

  it('buffers raw input until the newline, like a socket', () => {
    const { sockets } = setup();
    const peer = sockets.connect();
    peer.send('{"seq":');
    expect(peer.received).toEqual([]);
    peer.send('1}\n{"seq":2}\n');
    expect(peer.received.map((f) => (f as { echo: unknown }).echo)).toEqual([{ seq: 1 }, { seq: 2 }]);
  });

  it('answers a raw non-object line with EBADMSG and closes, like the real server', () => {
    const { sockets, closedIds } = setup();
    const peer = sockets.connect();
    peer.send('"just a string"\n');
    expect(peer.received).toEqual([{ id: 0, ret: 'EBADMSG' }]);
    expect(peer.closed).toBe(true);
    expect(closedIds).toEqual([1]);
    peer.send({ seq: 2 });
    expect(peer.received).toHaveLength(1);
  });

  it('answers more than 1 MiB without a newline with EMSGSIZE and closes', () => {
    const { sockets } = setup();
    const peer = sockets.connect();
    peer.send('a'.repeat(1024 * 1024 + 1));
    expect(peer.received).toEqual([{ id: 0, ret: 'EMSGSIZE' }]);
    expect(peer.closed).toBe(true);
  });

  it('refuses with EMFILE when onConnection returns false, without onClose', () => {
    const { sockets, closedIds } = setup({ accept: () => false });
    const peer = sockets.connect();
    expect(peer.received).toEqual([{ id: 0, ret: 'EMFILE' }]);
    expect(peer.closed).toBe(true);
    expect(closedIds).toEqual([]);
  });

  it('calls onClose once when the peer hangs up', () => {
    const { sockets, closedIds, opened } = setup();
    const peer = sockets.connect();
    peer.close();
    peer.close();
    expect(closedIds).toEqual([1]);
    expect(opened[0].closed).toBe(true);
  });

  it('delivers the final frame when the server closes a connection', () => {
    const { sockets, closedIds } = setup({ onMessage: (conn) => conn.close({ id: 0, ret: 'EPERM' }) });
    const peer = sockets.connect();
    const seen: object[] = [];
    peer.onFrame((f) => seen.push(f));
    peer.send('{"seq":1}\n{"seq":2}\n');
    expect(seen).toEqual([{ id: 0, ret: 'EPERM' }]);
    expect(peer.closed).toBe(true);
    expect(closedIds).toEqual([1]);
  });

  it('hands out wire copies, not the objects the server sent', () => {
    const shared = { n: 1, when: new Date(0) };
    const { sockets } = setup({ onMessage: (conn) => conn.send(shared) });
    const peer = sockets.connect();
    peer.send({});
    shared.n = 2;
    expect(peer.received).toEqual([{ n: 1, when: '1970-01-01T00:00:00.000Z' }]);
  });

  it('keeps serving after a handler throws', () => {
    const { sockets, errors } = setup({
      onMessage: (conn, msg) => {
        if (msg.boom) throw new Error('handler bug');
        conn.send({ ok: msg.seq });
      },
    });
    const peer = sockets.connect();
    peer.send({ seq: 1, boom: true });
    peer.send({ seq: 2 });
    expect(peer.received).toEqual([{ ok: 2 }]);
    expect(errors).toEqual([expect.stringContaining('handler bug')]);
  });

  it('close() drops every connection of that listener and refuses new ones', async () => {
    const { sockets, control, closedIds } = setup();
    const a = sockets.connect('control');
    const b = sockets.connect('status');
    await control.close();
    expect(a.closed).toBe(true);
    expect(b.closed).toBe(false);
    expect(closedIds).toEqual([1]);
    expect(() => sockets.connect('control')).toThrow(/ECONNREFUSED/);
  });
});
