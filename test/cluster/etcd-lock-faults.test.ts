/**
 * The cluster lock engine when things break (SPEC §15.4): a host cut off from etcd loses its
 * lease, declares its locks lost before another host is granted them, and recovers by itself;
 * an etcd member stopped, frozen or restarted under lock traffic never causes a double grant.
 */
import { describe, expect, it } from 'vitest';
import type { ClusterGrant } from '../../src/cluster/etcd-lock.js';
import type { WardenError } from '../../src/errors.js';
import { startPartitionProxy } from '../helpers/tcp-proxy.mjs';
import { lockName, outcomeOf, queue, skipEtcd, TTL_SEC, useEtcdCluster } from './fixture.js';

describe.skipIf(skipEtcd)('cluster locks on etcd when hosts and members fail', () => {
  const etcd = useEtcdCluster();

  it('declares a cut-off host\'s lock lost before the other host gets it, then recovers by itself', async () => {
    const line = await startPartitionProxy(etcd.cluster().endpoints);
    try {
      const cutOff = await etcd.host('host-a', line.endpoints);
      const other = await etcd.host('host-b');
      const name = lockName();
      const events: string[] = [];
      const lostGrants: ClusterGrant[] = [];
      cutOff.onLost((grant) => { lostGrants.push(grant); events.push('lost'); });
      const holder = cutOff.request(name, 'exclusive', 'writer');
      const held = await holder.outcome;
      const waiter = await queue(other, name, 'exclusive', 'successor');
      waiter.outcome.then(() => events.push('granted elsewhere'), () => {});

      line.block();
      const why: WardenError = await holder.lost;
      expect(why.code).toBe('EAGAIN');
      expect(why.message).toMatch(/^etcd unreachable: lease lost/);
      const next = await waiter.outcome;
      // The cut-off host stopped acting as holder before etcd let anyone else in.
      expect(events).toEqual(['lost', 'granted elsewhere']);
      expect(lostGrants).toEqual([{ lock: name, mode: 'exclusive', owner: 'writer', token: held.token }]);
      expect(next.token).toBeGreaterThan(held.token);
      await expect(holder.release()).rejects.toMatchObject({ code: 'ENOLCK' });
      // While cut off, requests fail at once with EAGAIN naming the cause.
      expect(cutOff.status()).toMatchObject({ state: 'unreachable', error: expect.stringMatching(/^etcd unreachable: /) });
      expect(await outcomeOf(cutOff.request(name, 'exclusive', 'meanwhile', { wait: true }))).toMatchObject({
        code: 'EAGAIN',
        message: expect.stringMatching(/^etcd unreachable: /),
      });

      line.unblock();
      await cutOff.whenLive();
      const again = await queue(cutOff, name, 'exclusive', 'writer-again');
      await waiter.release();
      const regained = await again.outcome;
      expect(regained.token).toBeGreaterThan(next.token);
      expect(await other.holders(name)).toMatchObject({ holders: [{ host: 'host-a', owner: 'writer-again', token: regained.token }], waiters: 0 });
      await again.release();
    } finally {
      await line.close();
    }
  }, 30_000);

  it('fails requests with EAGAIN while no etcd member answers, and is live again once one does', async () => {
    const line = await startPartitionProxy(etcd.cluster().endpoints);
    try {
      const host = await etcd.host('host-a', line.endpoints);
      line.block();
      await host.holders(lockName()).then(
        () => expect.unreachable('holders() answered while etcd was cut off'),
        (err: WardenError) => expect(err).toMatchObject({ code: 'EAGAIN', message: expect.stringMatching(/^etcd unreachable: /) }),
      );
      line.unblock();
      await host.whenLive();
      expect((await host.holders(lockName())).holders).toEqual([]);
    } finally {
      await line.close();
    }
  }, 30_000);

  it('never grants one lock twice while etcd members are restarted, frozen and killed under traffic', async () => {
    const cluster = etcd.cluster();
    const hosts = [await etcd.host('host-a'), await etcd.host('host-b')];
    const name = lockName();
    let inside = 0;
    let lastToken = 0;
    let grants = 0;
    const violations: string[] = [];
    let running = true;
    const worker = async (host: (typeof hosts)[number], id: string) => {
      while (running) {
        const ticket = host.request(name, 'exclusive', id, { wait: true, timeoutMs: 5_000 });
        const outcome = await outcomeOf(ticket);
        if (!('token' in outcome)) {
          await new Promise((r) => setTimeout(r, 20)); // EAGAIN during an election: try again shortly
          continue;
        }
        if (++inside !== 1) violations.push(`${id}: ${inside} holders at token ${outcome.token}`);
        if (outcome.token <= lastToken) violations.push(`${id}: token ${outcome.token} after ${lastToken}`);
        lastToken = outcome.token;
        grants++;
        await new Promise((r) => setImmediate(r));
        inside--;
        await ticket.release().catch(() => {}); // lost during a fault: the next grant proves it ended
      }
    };
    const workers = hosts.flatMap((h, i) => [0, 1, 2].map((j) => worker(h, `h${i}w${j}`)));
    const grantsBy = async (n: number) => {
      const target = grants + n;
      while (grants < target) await new Promise((r) => setTimeout(r, 20));
    };
    try {
      await grantsBy(10);
      await cluster.restart(0);
      await grantsBy(10);
      cluster.pause(1);
      await grantsBy(10);
      cluster.resume(1);
      await cluster.kill(2);
      await grantsBy(10);
      await cluster.start(2);
      await cluster.waitHealthy();
      await grantsBy(10);
    } finally {
      cluster.resume(1);
      running = false;
      await Promise.all(workers);
    }
    expect(violations).toEqual([]);
    expect(grants).toBeGreaterThanOrEqual(50);
  }, 120_000);
});

// The tests above rely on the shortest TTL to stay short.
expect(TTL_SEC).toBe(2);
