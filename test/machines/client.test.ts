import { createActor } from 'xstate';
import { describe, expect, it } from 'vitest';
import { simulatedClock } from '../../src/adapters/clock.js';
import { clientMachine } from '../../src/machines/client.js';

/** The client machine's idle timer (issue 17): only status clients with nothing pending time out. */
describe('clientMachine idle timeout', () => {
  function start(idleTimeoutMs?: number) {
    const clock = simulatedClock(0);
    const actor = createActor(clientMachine, {
      clock,
      input: { id: 1, rights: idleTimeoutMs === undefined ? 'control' : 'status', via: 'socket', ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}) },
    }).start();
    const timedOut: number[] = [];
    actor.on('idleTimedOut', () => timedOut.push(clock.now()));
    return { clock, actor, timedOut };
  }

  it('should emit idleTimedOut once idleTimeoutMs pass with nothing in flight', () => {
    const { clock, timedOut } = start(1000);
    clock.advance(999);
    expect(timedOut).toEqual([]);
    clock.advance(1);
    expect(timedOut).toEqual([1000]);
  });

  it('should not time out while a request is in flight, and restart the timer when it is answered', () => {
    const { clock, actor, timedOut } = start(1000);
    actor.send({ type: 'REQUEST_STARTED' });
    clock.advance(5000);
    expect(timedOut).toEqual([]);
    actor.send({ type: 'REQUEST_FINISHED' });
    clock.advance(1000);
    expect(timedOut).toEqual([6000]);
  });

  it('should not time out while it holds a subscription', () => {
    const { clock, actor, timedOut } = start(1000);
    actor.send({ type: 'SUBSCRIPTIONS_CHANGED', count: 1 });
    clock.advance(60_000);
    expect(timedOut).toEqual([]);
    actor.send({ type: 'SUBSCRIPTIONS_CHANGED', count: 0 });
    clock.advance(1000);
    expect(timedOut).toEqual([61_000]);
  });

  it('should never time out without idleTimeoutMs (control clients)', () => {
    const { clock, timedOut, actor } = start();
    clock.advance(30 * 86_400_000);
    expect(timedOut).toEqual([]);
    expect(actor.getSnapshot().value).toBe('connected');
  });
});
