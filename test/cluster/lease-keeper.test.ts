/**
 * The lease keeper on a simulated clock, with a scripted stand-in for etcd's lease service: when
 * exactly a lease counts as lost, and how the keeper comes back. (The real-etcd path is covered
 * by etcd-lock-faults.test.ts.)
 */
import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { simulatedClock } from '../../src/adapters/clock.js';
import { LeaseKeeper, type LeaseEvent } from '../../src/cluster/lease-keeper.js';

type Answer = { TTL: number } | 'silent' | Error;

/** etcd's lease service as a script: each grant and keepalive takes the next answer given. */
function scriptedEtcd() {
  const grants: Answer[] = [];
  const keepalives: Answer[] = [];
  const revoked: string[] = [];
  let nextId = 100;
  const answer = <T>(a: Answer | undefined, ok: (ttl: number) => T): Promise<T> =>
    a === undefined || a === 'silent' ? new Promise<T>(() => {}) : a instanceof Error ? Promise.reject(a) : Promise.resolve(ok(a.TTL));
  const client = {
    leaseClient: {
      leaseGrant: () => answer(grants.shift(), (ttl) => ({ ID: String(nextId++), TTL: String(ttl) })),
      leaseRevoke: async ({ ID }: { ID: string }) => { revoked.push(ID); return {}; },
      leaseKeepAlive: async () => {
        const stream = new EventEmitter() as EventEmitter & { write(req: unknown): void; end(): void };
        stream.write = () => {
          const a = keepalives.shift();
          if (a === undefined || a === 'silent') return;
          queueMicrotask(() => (a instanceof Error ? stream.emit('error', a) : stream.emit('data', { TTL: String(a.TTL) })));
        };
        stream.end = () => {};
        return stream;
      },
    },
  } as unknown as Etcd3;
  return { client, grants, keepalives, revoked };
}

/** Lets the keeper's promise callbacks run (the scripted answers settle in microtasks). */
const settle = () => new Promise((r) => setImmediate(r));

function keeper(ttlSec = 2) {
  const etcd = scriptedEtcd();
  const clock = simulatedClock(1_000);
  const events: Array<LeaseEvent['type']> = [];
  const reasons: string[] = [];
  const k = new LeaseKeeper(etcd.client, ttlSec, clock, 1_000, (e) => {
    events.push(e.type);
    if (e.type !== 'live') reasons.push(e.reason.message);
  });
  return { k, etcd, clock, events, reasons };
}

describe('LeaseKeeper', () => {
  it('stays live while keepalives are answered every TTL/3', async () => {
    const { k, etcd, clock, events } = keeper(3);
    etcd.grants.push({ TTL: 3 });
    etcd.keepalives.push(...Array.from({ length: 10 }, () => ({ TTL: 3 })));
    k.start();
    await settle();
    for (let i = 0; i < 9; i++) {
      clock.advance(1_000);
      await settle();
    }
    expect(events).toEqual(['live']);
    expect(k.liveLease()).toBe('100');
  });

  it('counts the lease lost at TTL minus the margin after the last answered keepalive was sent, before etcd expires it', async () => {
    const { k, etcd, clock, events, reasons } = keeper(2);
    etcd.grants.push({ TTL: 2 });
    k.start();
    await settle(); // granted at t=1000: deadline 1000 + 2000 − 500
    etcd.keepalives.push('silent', 'silent', 'silent', 'silent', 'silent', 'silent');
    clock.advance(1_499);
    await settle();
    expect(k.liveLease()).toBe('100');
    clock.advance(1);
    await settle();
    expect(events).toEqual(['live', 'lost']);
    expect(k.liveLease()).toBeNull();
    expect(reasons[0]).toMatch(/^etcd unreachable: lease lost: no keepalive answered within the 2 s lease TTL/);
    expect(etcd.revoked).toEqual(['100']); // in case etcd is there after all
  });

  it('counts the lease lost at once when etcd answers that it expired (TTL 0)', async () => {
    const { k, etcd, clock, events, reasons } = keeper(6);
    etcd.grants.push({ TTL: 6 });
    etcd.keepalives.push({ TTL: 0 });
    k.start();
    await settle();
    clock.advance(2_000);
    await settle();
    expect(events).toEqual(['live', 'lost']);
    expect(reasons[0]).toBe('etcd unreachable: lease lost: etcd says the lease expired');
  });

  it('retries failed keepalives quickly, and one answered in time keeps the lease', async () => {
    const { k, etcd, clock, events } = keeper(3);
    etcd.grants.push({ TTL: 3 });
    etcd.keepalives.push(new Error('14 UNAVAILABLE'), new Error('14 UNAVAILABLE'), { TTL: 3 });
    k.start();
    await settle();
    for (let t = 0; t < 1_300; t += 100) {
      clock.advance(100);
      await settle();
    }
    expect(events).toEqual(['live']);
    expect(k.liveLease()).toBe('100');
  });

  it('is unreachable while etcd refuses a grant, then live with a new lease once it answers', async () => {
    const { k, etcd, clock, events } = keeper(2);
    etcd.grants.push(new Error('14 UNAVAILABLE: connection refused'), new Error('14 UNAVAILABLE: connection refused'), { TTL: 2 });
    k.start();
    await settle();
    expect(k.state).toBe('unreachable');
    expect(k.lastError?.message).toBe('etcd unreachable: 14 UNAVAILABLE: connection refused');
    clock.advance(100);
    await settle();
    clock.advance(200);
    await settle();
    expect(events).toEqual(['unreachable', 'unreachable', 'live']);
    expect(k.state).toBe('live');
  });

  it('grants a new lease after losing one, and never reports the old one again', async () => {
    const { k, etcd, clock, events } = keeper(2);
    etcd.grants.push({ TTL: 2 }, { TTL: 2 });
    etcd.keepalives.push('silent', 'silent', 'silent', 'silent', 'silent', 'silent');
    k.start();
    await settle();
    clock.advance(1_500);
    await settle();
    await settle();
    expect(events).toEqual(['live', 'lost', 'live']);
    expect(k.liveLease()).toBe('101');
  });

  it('revokes the lease on stop and tells nothing more', async () => {
    const { k, etcd, clock, events } = keeper(2);
    etcd.grants.push({ TTL: 2 });
    k.start();
    await settle();
    await k.stop();
    clock.advance(10_000);
    await settle();
    expect(etcd.revoked).toEqual(['100']);
    expect(events).toEqual(['live']);
    expect(k.state).toBe('stopped');
  });
});
