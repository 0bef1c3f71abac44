import { describe, expect, it } from 'vitest';
import { MemorySocketServer, type MemoryPeer } from '../../src/adapters/socket-server.memory.js';
import type { Listen } from '../../src/actors/socket-router.js';
import type { Limits } from '../../src/actors/env.js';
import { createWarden, FakeProcesses, MemoryFs, MemoryMountTable, simulatedClock } from '../../src/index.js';

/**
 * The router's per-socket budgets and the status idle timeout (issue 17 findings 3 and 8), on the
 * in-memory socket twin and a simulated clock: no real time passes.
 */
async function setup(limits: Partial<Limits> = {}) {
  const clock = simulatedClock(1_000_000);
  const sockets = new MemorySocketServer();
  const listen: Listen = (options, handlers) => sockets.listen({ rights: options.rights, allocateId: options.allocateId, path: options.path }, handlers);
  const warden = createWarden(
    { roots: [], limits, adapters: { fs: new MemoryFs({ uid: 1000 }), clock, processes: new FakeProcesses({ clock }), mounts: new MemoryMountTable() } },
    listen,
  );
  await warden.start();
  await warden.listen({ socket: '/run/vw/control.sock', statusSocket: '/run/vw/status.sock' });
  let seq = 0;
  /** Sends one request and returns the reply the twin delivered synchronously. */
  const call = (peer: MemoryPeer, request: Record<string, unknown>): Record<string, unknown> => {
    const before = peer.received.length;
    peer.send({ seq: ++seq, ...request });
    return peer.received[before] as Record<string, unknown>;
  };
  return { clock, sockets, warden, call };
}

describe('status-socket idle timeout', () => {
  it('closes a status connection that stays silent with no subscription, saying why', async () => {
    const { clock, sockets, call } = await setup({ statusIdleTimeoutMs: 30_000 });
    const peer = sockets.connect('status');
    expect(call(peer, { id: 1000, name: 'idler' })).toMatchObject({ ret: 'OK', rights: 'status' });
    clock.advance(29_999);
    expect(peer.closed).toBe(false);
    clock.advance(1);
    expect(peer.closed).toBe(true);
    expect(peer.received.at(-1)).toMatchObject({ id: 0, ret: 'ETIMEDOUT', error: expect.stringContaining('30000 ms idle') });
  });

  it('counts from the last request, so a client that keeps asking stays', async () => {
    const { clock, sockets, call } = await setup({ statusIdleTimeoutMs: 30_000 });
    const peer = sockets.connect('status');
    for (let i = 0; i < 5; i++) {
      clock.advance(20_000);
      expect(call(peer, { id: 1006 })).toMatchObject({ ret: 'OK' });
    }
    expect(peer.closed).toBe(false);
    clock.advance(30_000);
    expect(peer.closed).toBe(true);
  });

  it('never closes a subscriber; once it unsubscribes the timer runs again', async () => {
    const { clock, sockets, call } = await setup({ statusIdleTimeoutMs: 30_000 });
    const peer = sockets.connect('status');
    const { sub } = call(peer, { id: 1008, volume: '*' }) as { sub: number };
    clock.advance(10 * 60_000);
    expect(peer.closed).toBe(false);
    expect(call(peer, { id: 1009, sub })).toMatchObject({ ret: 'OK' });
    clock.advance(30_000);
    expect(peer.closed).toBe(true);
  });

  it('never closes a control connection', async () => {
    const { clock, sockets, call } = await setup({ statusIdleTimeoutMs: 30_000 });
    const peer = sockets.connect('control');
    call(peer, { id: 1000, name: 'holder' });
    clock.advance(24 * 3_600_000);
    expect(peer.closed).toBe(false);
  });
});

describe('per-socket budgets', () => {
  it('a full status socket leaves every control connection available', async () => {
    const { sockets, call } = await setup({ maxClients: 3 });
    const hogs = Array.from({ length: 3 }, () => sockets.connect('status'));
    expect(hogs.every((p) => !p.closed)).toBe(true);
    const refused = sockets.connect('status');
    expect(refused.closed).toBe(true);
    expect(refused.received).toEqual([{ id: 0, ret: 'EMFILE' }]);
    const controls = Array.from({ length: 3 }, () => sockets.connect('control'));
    for (const c of controls) expect(call(c, { id: 1000, name: 'root' })).toMatchObject({ ret: 'OK', rights: 'control' });
    expect(sockets.connect('control').received).toEqual([{ id: 0, ret: 'EMFILE' }]);
  });

  it('maxStatusClients sets the status socket budget apart from maxClients', async () => {
    const { sockets } = await setup({ maxClients: 1, maxStatusClients: 2 });
    expect([sockets.connect('status'), sockets.connect('status'), sockets.connect('status')].map((p) => p.closed)).toEqual([false, false, true]);
    expect(sockets.connect('control').closed).toBe(false);
  });

  it('status subscribers cannot take the subscription slots of control clients', async () => {
    const { sockets, call } = await setup({ maxSubscribers: 8 });
    const attacker = sockets.connect('status');
    for (let i = 0; i < 8; i++) expect(call(attacker, { id: 1008, volume: '*' })).toMatchObject({ ret: 'OK' });
    expect(call(attacker, { id: 1008, volume: '*' })).toMatchObject({ ret: 'ETOOMANYREFS', error: expect.stringContaining('from the status socket') });
    expect(call(sockets.connect('status'), { id: 1008, volume: '*' })).toMatchObject({ ret: 'ETOOMANYREFS' });
    const root = sockets.connect('control');
    for (let i = 0; i < 8; i++) expect(call(root, { id: 1008, volume: '*' })).toMatchObject({ ret: 'OK' });
    expect(call(root, { id: 1008, volume: '*' })).toMatchObject({ ret: 'ETOOMANYREFS' });
  });
});

describe('what the status socket and hello refuse', () => {
  it('answers inspect (1800) on the status socket with EPERM, as anything beyond SPEC §9’s six routines', async () => {
    const { sockets, call } = await setup();
    expect(call(sockets.connect('status'), { id: 1800 })).toMatchObject({ id: 1900, ret: 'EPERM', error: 'inspect needs the control socket' });
  });

  it("refuses a client that calls itself the daemon's holder name, and keeps the connection", async () => {
    const { sockets, call, warden } = await setup();
    const peer = sockets.connect('control');
    for (const name of ['volwarden', ' Volwarden ', 'volwarden/4242', 'volwarden#0']) {
      expect(call(peer, { id: 1000, name, pid: process.pid })).toMatchObject({ ret: 'EINVAL', error: expect.stringContaining("daemon's own holder name") });
    }
    expect(peer.closed).toBe(false);
    expect(call(peer, { id: 1000, name: 'volwarden lock make', pid: 7 })).toMatchObject({ ret: 'OK' });
    const client = warden.core.clients.all().find((c) => c.rights === 'control');
    expect(client?.actor.getSnapshot().context).toMatchObject({ name: 'volwarden lock make', pid: 7 });
  });
});
