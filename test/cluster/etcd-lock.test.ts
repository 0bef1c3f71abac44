/**
 * The cluster lock engine against a real 3-member etcd cluster: two engines are two hosts.
 * SPEC §15.4 semantics: FIFO by create revision across hosts, exclusive and shared (§15.2),
 * tokens from etcd revisions, every request exactly one outcome, death deletes at once.
 */
import { describe, expect, it } from 'vitest';
import { eventually } from '../integration/helpers.js';
import { grantLog, lockName, outcomeOf, queue, skipEtcd, useEtcdCluster } from './fixture.js';

describe.skipIf(skipEtcd)('cluster locks on etcd, two hosts', () => {
  const etcd = useEtcdCluster();

  it('grants waiters from both hosts in the order their keys were created, with increasing tokens', async () => {
    const [a, b] = [await etcd.host('host-a'), await etcd.host('host-b')];
    const name = lockName();
    const first = a.request(name, 'exclusive', 'a0');
    const held = await first.outcome;
    const { log, track } = grantLog();
    const b1 = await queue(b, name, 'exclusive', 'b1');
    const a2 = await queue(a, name, 'exclusive', 'a2');
    const b3 = await queue(b, name, 'exclusive', 'b3');
    [['b1', b1], ['a2', a2], ['b3', b3]].forEach(([l, t]) => track(l as string, t as typeof b1));

    await first.release();
    const g1 = await b1.outcome;
    expect(log).toEqual(['b1']);
    await b1.release();
    const g2 = await a2.outcome;
    expect(log).toEqual(['b1', 'a2']);
    await a2.release();
    const g3 = await b3.outcome;
    expect(log).toEqual(['b1', 'a2', 'b3']);
    expect([held.token, g1.token, g2.token, g3.token]).toEqual([...[held.token, g1.token, g2.token, g3.token]].sort((x, y) => x - y));
    expect(new Set([held.token, g1.token, g2.token, g3.token]).size).toBe(4);
    await b3.release();
  });

  it("lists every host's holders with host, owner, mode and token, and counts the waiters", async () => {
    const [a, b] = [await etcd.host('host-a'), await etcd.host('host-b')];
    const name = lockName();
    const ra = await a.request(name, 'shared', 'reader-a').outcome;
    const rb = await b.request(name, 'shared', 'reader-b').outcome;
    await queue(a, name, 'exclusive', 'writer');
    const viewFromA = await a.holders(name);
    expect(viewFromA).toEqual({
      holders: [
        { host: 'host-a', owner: 'reader-a', mode: 'shared', token: ra.token },
        { host: 'host-b', owner: 'reader-b', mode: 'shared', token: rb.token },
      ],
      waiters: 1,
    });
    expect(await b.holders(name)).toEqual(viewFromA);
  });

  it('queues a shared request behind a waiting exclusive one, and grants consecutive shared waiters together', async () => {
    const [a, b] = [await etcd.host('host-a'), await etcd.host('host-b')];
    const name = lockName();
    const reader = a.request(name, 'shared', 'r0');
    await reader.outcome;
    const writer = await queue(b, name, 'exclusive', 'w1');
    // Held shared, but someone is queued: a new shared request waits (FIFO, no writer starvation).
    expect(await outcomeOf(a.request(name, 'shared', 'nowait'))).toMatchObject({ code: 'EBUSY' });
    const { log, track } = grantLog();
    const s2 = await queue(a, name, 'shared', 's2');
    const s3 = await queue(b, name, 'shared', 's3');
    const w4 = await queue(a, name, 'exclusive', 'w4');
    const s5 = await queue(b, name, 'shared', 's5');
    [['w1', writer], ['s2', s2], ['s3', s3], ['w4', w4], ['s5', s5]].forEach(([l, t]) => track(l as string, t as typeof s2));

    await reader.release();
    await writer.outcome;
    expect(log).toEqual(['w1']);
    await writer.release();
    await Promise.all([s2.outcome, s3.outcome]);
    const view = await b.holders(name);
    expect(view.holders.map((h) => [h.owner, h.host, h.mode])).toEqual([['s2', 'host-a', 'shared'], ['s3', 'host-b', 'shared']]);
    expect(view.waiters).toBe(2);
    expect(log.sort()).toEqual(['s2', 's3', 'w1']);

    await s2.release();
    await s3.release();
    await w4.outcome;
    await w4.release();
    await s5.outcome;
    expect(log.slice(3)).toEqual(['w4', 's5']);
  });

  it('answers a no-wait request at once: granted when free, EBUSY when held, leaving no key behind', async () => {
    const [a, b] = [await etcd.host('host-a'), await etcd.host('host-b')];
    const name = lockName();
    const held = a.request(name, 'exclusive', 'holder');
    await held.outcome;
    expect(await outcomeOf(b.request(name, 'exclusive', 'x'))).toMatchObject({ code: 'EBUSY' });
    expect(await outcomeOf(b.request(name, 'shared', 's'))).toMatchObject({ code: 'EBUSY' });
    expect((await b.holders(name)).waiters).toBe(0);
    await held.release();
    expect(await outcomeOf(b.request(name, 'shared', 's'))).toMatchObject({ token: expect.any(Number) });
  });

  it('hands the lock to a waiter on the other host as soon as the holder dies, without waiting for its lease', async () => {
    const [a, b] = [await etcd.host('host-a'), await etcd.host('host-b')];
    const name = lockName();
    const losses: string[] = [];
    a.onLost((grant) => losses.push(grant.owner));
    const holder = a.request(name, 'exclusive', 'doomed');
    const held = await holder.outcome;
    const waiter = await queue(b, name, 'exclusive', 'next');
    holder.abandon();
    const next = await waiter.outcome;
    expect(next.token).toBeGreaterThan(held.token);
    // Host A's lease lived throughout: the handoff came from the deleted key, not an expiry.
    expect(a.status().state).toBe('live');
    expect(losses).toEqual([]);
    await expect(holder.release()).rejects.toMatchObject({ code: 'ENOLCK' });
  });

  it('gives a dead waiter ECONNRESET once and drops its key, so the queue behind it moves on', async () => {
    const [a, b] = [await etcd.host('host-a'), await etcd.host('host-b')];
    const name = lockName();
    const holder = a.request(name, 'exclusive', 'h');
    await holder.outcome;
    const dead = await queue(b, name, 'exclusive', 'dead');
    const after = await queue(a, name, 'exclusive', 'after');
    dead.abandon();
    expect(await outcomeOf(dead)).toMatchObject({ code: 'ECONNRESET' });
    await eventually(() => a.holders(name), (v) => v.waiters === 1);
    await holder.release();
    await after.outcome;
  });

  it('gives a cancelled waiter exactly one outcome, ECANCELED, and a cancel after the grant changes nothing', async () => {
    const [a, b] = [await etcd.host('host-a'), await etcd.host('host-b')];
    const name = lockName();
    const holder = a.request(name, 'exclusive', 'h');
    await holder.outcome;
    const waiter = await queue(b, name, 'exclusive', 'w');
    const settled: string[] = [];
    waiter.outcome.then(() => settled.push('granted'), (e: { code: string }) => settled.push(e.code));
    waiter.cancel();
    waiter.cancel();
    await eventually(() => b.holders(name), (v) => v.waiters === 0);
    await holder.release();
    const again = b.request(name, 'exclusive', 'again', { wait: true });
    await again.outcome;
    again.cancel();
    expect(again.state).toBe('held');
    expect(settled).toEqual(['ECANCELED']);
    await expect(waiter.release()).rejects.toMatchObject({ code: 'ENOLCK' });
    await again.release();
  });

  it('times a waiter out with ETIMEDOUT once, and the waiter behind it is still granted', async () => {
    const [a, b] = [await etcd.host('host-a'), await etcd.host('host-b')];
    const name = lockName();
    const holder = a.request(name, 'exclusive', 'h');
    await holder.outcome;
    const impatient = await queue(b, name, 'exclusive', 'impatient', { timeoutMs: 300 });
    const patient = await queue(a, name, 'shared', 'patient');
    expect(await outcomeOf(impatient)).toMatchObject({ code: 'ETIMEDOUT' });
    expect(impatient.state).toBe('done');
    await eventually(() => a.holders(name), (v) => v.waiters === 1);
    await holder.release();
    await patient.outcome;
    await expect(impatient.release()).rejects.toMatchObject({ code: 'ENOLCK' });
  });

  it('refuses bad arguments with EINVAL and a one-line reason', async () => {
    const a = await etcd.host('host-a');
    expect(await outcomeOf(a.request('bad/name', 'exclusive', 'x'))).toMatchObject({ code: 'EINVAL', message: expect.stringContaining('^[A-Za-z0-9._-]{1,128}$') });
    expect(await outcomeOf(a.request(lockName(), 'exclusive', 'x', { timeoutMs: -1 }))).toMatchObject({ code: 'EINVAL' });
  });
});
