import { describe, expect, it } from 'vitest';
import { simulatedClock } from '../../src/adapters/clock.js';
import { DEFAULT_LIMITS, silentLogger, type ActorEnv } from '../../src/actors/env.js';
import { LocalLockBackend, type LockObserver } from '../../src/actors/lock-runtime.js';
import { WardenError } from '../../src/errors.js';
import type { LockClient } from '../../src/machines/lock.js';

/** A request's fate as the test sees it once microtasks have run. */
interface Outcome {
  state: 'pending' | 'granted' | 'refused';
  token?: number;
  code?: string;
}

function track(promise: Promise<{ token: number }>): Outcome {
  const outcome: Outcome = { state: 'pending' };
  promise.then(
    ({ token }) => Object.assign(outcome, { state: 'granted', token }),
    (err: unknown) => Object.assign(outcome, { state: 'refused', code: err instanceof WardenError ? err.code : String(err) }),
  );
  return outcome;
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const client = (id: number): LockClient => ({ client: id, name: `c${id}` });

function setup(options: { maxWaiters?: number; token?: number; observer?: Partial<LockObserver> } = {}) {
  const clock = simulatedClock();
  const env: ActorEnv = { clock, inspect: undefined, limits: { ...DEFAULT_LIMITS, maxWaiters: options.maxWaiters ?? 10_000 }, log: silentLogger };
  const log: string[] = [];
  const persisted: number[] = [];
  const observer: LockObserver = {
    granted: (holder, token) => {
      log.push(`granted ${holder.client} ${token}`);
      options.observer?.granted?.(holder, token);
    },
    released: (holder, status) => {
      log.push(`released ${holder.client} ${status}`);
      options.observer?.released?.(holder, status);
    },
    holderDied: (holder) => {
      log.push(`died ${holder.client}`);
      options.observer?.holderDied?.(holder);
    },
  };
  const backend = new LocalLockBackend(env, 'path:/v', options.token ?? 0, observer, (token) => persisted.push(token));
  const lock = (id: number, opts: { wait?: boolean; timeoutMs?: number } = {}) =>
    track(backend.request(client(id), { wait: opts.wait ?? true, ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) }));
  const unlockCode = (id: number, status = 0, token?: number): string => {
    try {
      backend.unlock(id, status, token);
      return 'OK';
    } catch (err) {
      return err instanceof WardenError ? err.code : String(err);
    }
  };
  return { backend, clock, log, persisted, lock, unlockCode };
}

describe('LocalLockBackend', () => {
  it('grants an unlocked volume at once with the token after the persisted one, persisted first', async () => {
    const { backend, persisted, lock, log } = setup({ token: 41 });
    const a = lock(1, { wait: false });
    expect(persisted).toEqual([42]);
    await flush();
    expect(a).toEqual({ state: 'granted', token: 42 });
    expect(log).toEqual(['granted 1 42']);
    expect(backend.view()).toEqual({ state: 'locked', holder: client(1), waiters: 0, token: 42 });
  });

  it('answers EDEADLK to the holder asking again', async () => {
    const { lock } = setup();
    lock(1);
    const again = lock(1);
    await flush();
    expect(again).toEqual({ state: 'refused', code: 'EDEADLK' });
  });

  it('answers EALREADY to a waiter asking again, and keeps its first request', async () => {
    const { lock, backend } = setup();
    lock(1);
    const first = lock(2);
    const again = lock(2);
    await flush();
    expect(again).toEqual({ state: 'refused', code: 'EALREADY' });
    expect(first.state).toBe('pending');
    expect(backend.view().waiters).toBe(1);
  });

  it('answers EBUSY to a caller that will not wait', async () => {
    const { lock } = setup();
    lock(1);
    const b = lock(2, { wait: false });
    await flush();
    expect(b).toEqual({ state: 'refused', code: 'EBUSY' });
  });

  it('answers ENOBUFS past maxWaiters', async () => {
    const { lock, backend } = setup({ maxWaiters: 2 });
    lock(1);
    lock(2);
    lock(3);
    const fourth = lock(4);
    await flush();
    expect(fourth).toEqual({ state: 'refused', code: 'ENOBUFS' });
    expect(backend.view().waiters).toBe(2);
  });

  it('answers ENOLCK to an unlock when nothing is locked', () => {
    const { unlockCode } = setup();
    expect(unlockCode(1)).toBe('ENOLCK');
  });

  it('answers EPERM to a non-holder and to a stale fencing token', async () => {
    const { lock, unlockCode, backend } = setup({ token: 5 });
    const a = lock(1);
    await flush();
    expect(a.token).toBe(6);
    expect(unlockCode(2)).toBe('EPERM');
    expect(unlockCode(1, 0, 5)).toBe('EPERM');
    expect(backend.holder()).toEqual(client(1));
    expect(unlockCode(1, 0, 6)).toBe('OK');
    expect(backend.view().state).toBe('unlocked');
  });

  it('answers ETIMEDOUT when timeoutMs passes, and the waiter leaves the queue', async () => {
    const { lock, clock, backend, unlockCode } = setup();
    lock(1);
    const b = lock(2, { timeoutMs: 1000 });
    const c = lock(3);
    clock.advance(999);
    await flush();
    expect(b.state).toBe('pending');
    clock.advance(1);
    await flush();
    expect(b).toEqual({ state: 'refused', code: 'ETIMEDOUT' });
    expect(backend.view().waiters).toBe(1);
    expect(unlockCode(1)).toBe('OK');
    await flush();
    expect(c).toEqual({ state: 'granted', token: 2 });
  });

  it('answers ECANCELED to a cancelled waiter and grants the next one instead', async () => {
    const { lock, backend, unlockCode } = setup();
    lock(1);
    const b = lock(2);
    const c = lock(3);
    backend.cancel(2);
    await flush();
    expect(b).toEqual({ state: 'refused', code: 'ECANCELED' });
    expect(unlockCode(1)).toBe('OK');
    await flush();
    expect(c).toEqual({ state: 'granted', token: 2 });
  });

  it('answers ENOENT to every waiter when the volume goes, and to a later unlock by the old holder', async () => {
    const { lock, backend, unlockCode } = setup();
    const a = lock(1);
    const waiters = [lock(2), lock(3, { timeoutMs: 50 }), lock(4)];
    backend.gone();
    await flush();
    expect(a.state).toBe('granted');
    expect(waiters).toEqual(waiters.map(() => ({ state: 'refused', code: 'ENOENT' })));
    expect(backend.view().state).toBe('dead');
    expect(unlockCode(1)).toBe('ENOENT');
  });

  it('answers ENOENT to a request that arrives after the volume went', async () => {
    const { lock, backend } = setup();
    backend.gone();
    const late = lock(1);
    await flush();
    expect(late).toEqual({ state: 'refused', code: 'ENOENT' });
  });

  it('skips a dead waiter at handoff, and a dead client gets no reply', async () => {
    const { lock, backend, unlockCode, log } = setup();
    lock(1);
    const b = lock(2);
    const c = lock(3);
    backend.clientDied(2);
    expect(unlockCode(1, 0)).toBe('OK');
    await flush();
    expect(b.state).toBe('pending');
    expect(c).toEqual({ state: 'granted', token: 2 });
    expect(log).toEqual(['granted 1 1', 'released 1 0', 'granted 3 2']);
  });

  it('hands off when the holder dies and reports the death', async () => {
    const { lock, backend, log } = setup();
    lock(1);
    const b = lock(2);
    backend.clientDied(1);
    await flush();
    expect(b).toEqual({ state: 'granted', token: 2 });
    expect(log).toEqual(['granted 1 1', 'died 1', 'granted 2 2']);
  });

  it('answers a request made from inside an observer callback (re-entrant)', async () => {
    const followUps: Outcome[] = [];
    const { lock, unlockCode, backend } = setup({
      observer: { released: (holder) => holder.client === 1 && followUps.push(track(backend.request(client(9), { wait: true }))) },
    });
    lock(1);
    const b = lock(2);
    expect(unlockCode(1)).toBe('OK');
    await flush();
    expect(b).toEqual({ state: 'granted', token: 2 });
    expect(followUps).toHaveLength(1);
    expect(followUps[0]!.state).toBe('pending');
    expect(backend.view().waiters).toBe(1);
    expect(unlockCode(2)).toBe('OK');
    await flush();
    expect(followUps[0]).toEqual({ state: 'granted', token: 3 });
  });

  it('serves 10,000 waiters on one lock in arrival order', async () => {
    const n = 10_000;
    const { lock, unlockCode, backend } = setup();
    const started = performance.now();
    const outcomes = Array.from({ length: n }, (_, i) => lock(i + 1));
    expect(backend.view().waiters).toBe(n - 1);
    for (let i = 1; i <= n; i++) expect(unlockCode(i)).toBe('OK');
    await flush();
    console.log(`10,000 waiters enqueued and released in turn in ${(performance.now() - started).toFixed(0)} ms`);
    expect(outcomes.every((o, i) => o.state === 'granted' && o.token === i + 1)).toBe(true);
    expect(backend.view()).toEqual({ state: 'unlocked', waiters: 0, token: n });
  }, 180_000); // Room for a loaded machine: the test asserts completion, never speed.
});
