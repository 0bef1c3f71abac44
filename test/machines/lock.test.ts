import { describe, expect, it } from 'vitest';
import { createActor, getNextSnapshot, type SnapshotFrom } from 'xstate';
import { createTestModel, type TestParam, type TestPath } from 'xstate/graph';
import { simulatedClock } from '../../src/adapters/clock.js';
import { lockMachine, type LockClient, type LockEmitted, type LockEvent, type LockInput } from '../../src/machines/lock.js';
import { fifoToArray } from '../../src/machines/fifo.js';

// Model-based test (SPEC §5): xstate/graph walks the lock machine over a small concrete event space
// (three clients), and every path is replayed against a real actor; the §5 invariants are checked
// after every step, from the actor's snapshot and from what it emitted during that step.

type Snapshot = SnapshotFrom<typeof lockMachine>;

const client = (id: number): LockClient => ({ client: id, name: `c${id}` });
const requestIdOf = (id: number) => `r${id}`;

/** The events the model may send in `snapshot`: lock (wait / no wait), unlock (right, stale and no token), leave, die, gone. */
function modelEvents(clients: number[], withNoWait = true) {
  return (snapshot: Snapshot): LockEvent[] => {
    const { holder, token } = snapshot.context;
    return [
      ...clients.map((id) => ({ type: 'LOCK_REQUESTED' as const, requestId: requestIdOf(id), client: client(id), wait: true })),
      ...(withNoWait ? clients.map((id) => ({ type: 'LOCK_REQUESTED' as const, requestId: requestIdOf(id), client: client(id), wait: false })) : []),
      ...clients.map((id) => ({ type: 'UNLOCK_REQUESTED' as const, requestId: 'u', client: id, status: 0 })),
      ...(holder
        ? [
            { type: 'UNLOCK_REQUESTED' as const, requestId: 'u', client: holder.client, status: 1, token },
            { type: 'UNLOCK_REQUESTED' as const, requestId: 'u', client: holder.client, status: 0, token: token - 1 },
          ]
        : []),
      ...clients.map((id) => ({ type: 'WAITER_LEFT' as const, waiterId: requestIdOf(id) })),
      ...clients.map((id) => ({ type: 'CLIENT_DIED' as const, client: id })),
      { type: 'VOLUME_GONE' as const },
    ];
  };
}

// Everything the machine's behaviour depends on. Tokens grow forever, so the walk stops at a bound;
// with three clients every holder/queue arrangement is reachable well below it.
function stateKey(snapshot: Snapshot): string {
  const { holder, token } = snapshot.context;
  const queue = fifoToArray(snapshot.context.queue);
  return JSON.stringify([snapshot.value, snapshot.status, holder?.client ?? null, queue.map((q) => [q.waiterId, q.client.client]), token]);
}

function buildModel(options: { clients: number[]; maxToken: number; maxWaiters: number; withNoWait?: boolean }) {
  const input: LockInput = { volumeId: 'path:/v', token: 0, maxWaiters: options.maxWaiters };
  const model = createTestModel(lockMachine, {
    input,
    events: modelEvents(options.clients, options.withNoWait),
    serializeState: stateKey,
    stopWhen: (snapshot: Snapshot) => snapshot.status === 'done' || snapshot.context.token >= options.maxToken,
  } as never);
  return { model, input };
}

/** The system under test: a real lock actor, what it emitted, and the invariant checks. */
function startHarness(input: LockInput) {
  const actor = createActor(lockMachine, { clock: simulatedClock(), input });
  const emitted: LockEmitted[] = [];
  actor.on('*', (event) => emitted.push(event as LockEmitted));
  actor.start();

  let stepStart = 0;
  let lastToken = input.token;
  let lastEvent: LockEvent | null = null;
  let queueBefore: string[] = [];
  let holders = 0;

  const send = (event: LockEvent): void => {
    stepStart = emitted.length;
    queueBefore = fifoToArray(actor.getSnapshot().context.queue).map((q) => q.waiterId);
    lastEvent = event;
    actor.send(event);
  };

  const checkInvariants = (expected: Snapshot): void => {
    const real = actor.getSnapshot();
    const step = emitted.slice(stepStart);
    expect(stateKey(real)).toBe(stateKey(expected));

    const { holder, token } = real.context;
    const queue = fifoToArray(real.context.queue);
    expect(real.context.queue.size).toBe(queue.length);
    // The holder never also waits; nobody waits twice; the queue respects maxWaiters.
    if (holder) expect(queue.map((q) => q.client.client)).not.toContain(holder.client);
    expect(new Set(queue.map((q) => q.client.client)).size).toBe(queue.length);
    expect(new Set(queue.map((q) => q.waiterId)).size).toBe(queue.length);
    expect(queue.length).toBeLessThanOrEqual(input.maxWaiters);

    // Tokens never go back and grow by exactly one per grant, each grant carrying the next one.
    const grants = step.filter((e): e is Extract<LockEmitted, { type: 'granted' }> => e.type === 'granted');
    expect(token - lastToken).toBe(grants.length);
    grants.forEach((grant, i) => expect(grant.token).toBe(lastToken + i + 1));
    lastToken = token;

    // At most one holder: grants minus releases and holder deaths is 0 or 1, and matches the context.
    for (const e of step) {
      if (e.type === 'granted') holders++;
      if (e.type === 'released' || e.type === 'holderDied') holders--;
    }
    expect(holders).toBeGreaterThanOrEqual(0);
    expect(holders).toBeLessThanOrEqual(1);
    if (real.status === 'active') {
      expect(holders).toBe(holder ? 1 : 0);
      expect(real.value).toBe(holder ? 'locked' : 'unlocked');
      if (!holder) expect(queue).toEqual([]);
    }

    // Every lock and unlock request gets exactly one immediate answer.
    if (lastEvent?.type === 'LOCK_REQUESTED' || lastEvent?.type === 'UNLOCK_REQUESTED') {
      const { requestId } = lastEvent;
      const direct = step.filter((e) => 'requestId' in e && e.requestId === requestId && e.type !== 'granted');
      const grantedNow = grants.filter((g) => g.requestId === requestId && !queueBefore.includes(requestId));
      expect(direct.length + grantedNow.length).toBe(1);
    }
    // A handoff grants the oldest live waiter (FIFO).
    for (const grant of grants) {
      if (queueBefore.includes(grant.requestId)) expect(grant.requestId).toBe(queueBefore[0]);
    }

    // Dead is final: it told every waiter, and nothing moves it any more.
    if (real.value === 'dead') {
      expect(real.status).toBe('done');
      const dead = step.find((e) => e.type === 'dead');
      if (lastEvent?.type === 'VOLUME_GONE') expect(dead && dead.type === 'dead' && dead.waiters.map((w) => w.waiterId)).toEqual(queueBefore);
      for (const event of [...modelEvents([1, 2, 9])(real)]) {
        const next = getNextSnapshot(lockMachine, real, event);
        expect([next.value, next.status]).toEqual(['dead', 'done']);
      }
    }
  };

  const exec = ({ event }: { event: LockEvent }) => send(event);
  const params = {
    states: { '*': checkInvariants },
    events: { LOCK_REQUESTED: exec, UNLOCK_REQUESTED: exec, WAITER_LEFT: exec, CLIENT_DIED: exec, VOLUME_GONE: exec },
  } as unknown as TestParam<Snapshot, LockEvent>;
  return { actor, emitted, params, send };
}

const full = buildModel({ clients: [1, 2, 3], maxToken: 4, maxWaiters: 10 });
const bounded = buildModel({ clients: [1, 2, 3], maxToken: 3, maxWaiters: 1 });
// Simple paths multiply fast: two clients, waiting requests only, two grants.
const small = buildModel({ clients: [1, 2], maxToken: 3, maxWaiters: 10, withNoWait: false });

async function replay(input: LockInput, path: TestPath<Snapshot, LockEvent>): Promise<void> {
  await path.test(startHarness(input).params);
}

describe('lock machine (model-based)', () => {
  const shortest = full.model.getShortestPaths();
  const boundedShortest = bounded.model.getShortestPaths();
  const simple = small.model.getSimplePaths();

  it('reaches every state of the contract', () => {
    const reached = new Set(shortest.flatMap((path) => path.steps.map((step) => String(step.state.value))));
    // `handoff` is transient: it always resolves within the same step.
    expect([...reached].sort()).toEqual(['dead', 'locked', 'unlocked']);
  });

  it(`keeps the invariants on every shortest path (${shortest.length} paths, three clients)`, async () => {
    for (const path of shortest) await replay(full.input, path);
  });

  it(`keeps the invariants on every shortest path with maxWaiters 1 (${boundedShortest.length} paths)`, async () => {
    for (const path of boundedShortest) await replay(bounded.input, path);
  });

  it(`keeps the invariants on every simple path (${simple.length} paths, two clients)`, async () => {
    expect(simple.length).toBeGreaterThan(10);
    for (const path of simple) await replay(small.input, path);
  });
});

describe('lock machine', () => {
  const input: LockInput = { volumeId: 'path:/v', token: 41, maxWaiters: 2 };
  const lock = (id: number, wait = true): LockEvent => ({ type: 'LOCK_REQUESTED', requestId: requestIdOf(id), client: client(id), wait });

  it('grants at once when unlocked, continuing from the persisted token', () => {
    const { actor, emitted, send } = startHarness(input);
    send(lock(1));
    expect(emitted).toEqual([{ type: 'granted', requestId: 'r1', client: client(1), token: 42 }]);
    expect(actor.getSnapshot().value).toBe('locked');
  });

  it('answers in SPEC §5 order: EDEADLK, EALREADY, EBUSY, then ENOBUFS past maxWaiters', () => {
    const { emitted, send } = startHarness(input);
    send(lock(1));
    send(lock(1, false));
    send(lock(2));
    send(lock(2, false));
    send(lock(3, false));
    send(lock(3));
    send(lock(4));
    const refusals = emitted.filter((e) => e.type === 'refused').map((e) => e.type === 'refused' && [e.requestId, e.code]);
    expect(refusals).toEqual([['r1', 'EDEADLK'], ['r2', 'EALREADY'], ['r3', 'EBUSY'], ['r4', 'ENOBUFS']]);
  });

  it('refuses an unlock that is not the holder, has a stale token, or finds nothing locked', () => {
    const { emitted, send } = startHarness(input);
    send({ type: 'UNLOCK_REQUESTED', requestId: 'u0', client: 1, status: 0 });
    send(lock(1));
    send({ type: 'UNLOCK_REQUESTED', requestId: 'u1', client: 2, status: 0 });
    send({ type: 'UNLOCK_REQUESTED', requestId: 'u2', client: 1, status: 0, token: 41 });
    send({ type: 'UNLOCK_REQUESTED', requestId: 'u3', client: 1, status: 3, token: 42 });
    expect(emitted.filter((e) => e.type !== 'granted')).toEqual([
      { type: 'refused', requestId: 'u0', code: 'ENOLCK' },
      { type: 'refused', requestId: 'u1', code: 'EPERM' },
      { type: 'refused', requestId: 'u2', code: 'EPERM' },
      { type: 'released', requestId: 'u3', holder: client(1), status: 3 },
    ]);
  });

  it('hands off in arrival order, skipping waiters that left', () => {
    const { actor, emitted, send } = startHarness({ ...input, maxWaiters: 10 });
    send(lock(1));
    send(lock(2));
    send(lock(3));
    send(lock(4));
    send({ type: 'WAITER_LEFT', waiterId: 'r2' });
    send({ type: 'CLIENT_DIED', client: 1 });
    send({ type: 'UNLOCK_REQUESTED', requestId: 'u', client: 3, status: 0 });
    expect(emitted.filter((e) => e.type === 'granted').map((e) => e.type === 'granted' && [e.requestId, e.token])).toEqual([
      ['r1', 42],
      ['r3', 43],
      ['r4', 44],
    ]);
    expect(actor.getSnapshot().context.holder).toEqual(client(4));
  });

  it('reports a dead holder and a dead volume with its waiters', () => {
    const { actor, emitted, send } = startHarness(input);
    send(lock(1));
    send(lock(2));
    send({ type: 'CLIENT_DIED', client: 1 });
    send(lock(3));
    send({ type: 'VOLUME_GONE' });
    expect(emitted.map((e) => e.type)).toEqual(['granted', 'queued', 'holderDied', 'granted', 'queued', 'dead']);
    expect(emitted.at(-1)).toEqual({ type: 'dead', waiters: [{ waiterId: 'r3', client: client(3) }] });
    expect(actor.getSnapshot().status).toBe('done');
  });
});
