import { describe, expect, it } from 'vitest';
import { createActor, getNextSnapshot, type SnapshotFrom } from 'xstate';
import { TestModel, type TestParam, type TestPath } from 'xstate/graph';
import { simulatedClock } from '../../src/adapters/clock.js';
import { waiterMachine, type WaiterEvent, type WaiterInput, type WaiterOutput } from '../../src/machines/waiter.js';

// Model-based test (SPEC §2 waiter, §5 "every waiter gets exactly one reply"): xstate/graph walks the
// machine, each path is replayed against a real actor on a simulated clock. `createTestModel` refuses
// machines with `after`, so the timeout is an explicit model event that the replay turns into time.

type Snapshot = SnapshotFrom<typeof waiterMachine>;
const TIMEOUT_MS = 250;
const DEADLINE = 'xstate.after.timeout.waiter.waiting.timed';
type ModelEvent = WaiterEvent | { type: typeof DEADLINE };

const TIMED: WaiterInput = { waiterId: 'w1', volumeId: 'path:/v', client: 4, timeoutMs: TIMEOUT_MS };
const UNTIMED: WaiterInput = { waiterId: 'w1', volumeId: 'path:/v', client: 4 };

function modelEvents(snapshot: Snapshot): ModelEvent[] {
  return [
    { type: 'LOCK_GRANTED', token: 7 },
    { type: 'CANCELLED' },
    { type: 'CLIENT_DIED' },
    { type: 'VOLUME_GONE' },
    ...(snapshot.matches({ waiting: 'timed' }) ? [{ type: DEADLINE } as const] : []),
  ];
}

const stateKey = (snapshot: Snapshot) => JSON.stringify([snapshot.value, snapshot.status, snapshot.context.token, snapshot.context.code]);

function buildModel(input: WaiterInput) {
  return new TestModel<Snapshot, ModelEvent, WaiterInput>(waiterMachine as never, {
    input,
    events: modelEvents,
    serializeState: stateKey,
    fromState: createActor(waiterMachine, { input, clock: simulatedClock() }).getSnapshot(),
    stopWhen: (snapshot) => snapshot.status === 'done',
  });
}

/** What each final state must output: the deferred reply (or none, for a dead client). */
const EXPECTED_OUTPUT: Record<string, (s: Snapshot) => WaiterOutput> = {
  granted: () => ({ outcome: 'granted', token: 7 }),
  abandoned: (s) => ({ outcome: 'abandoned', code: s.context.code === 'ECANCELED' ? 'ECANCELED' : null }),
  rejected: (s) => ({ outcome: 'rejected', code: s.context.code as 'ETIMEDOUT' | 'ENOENT' }),
};

function startHarness(input: WaiterInput) {
  const clock = simulatedClock();
  const actor = createActor(waiterMachine, { clock, input });
  const endings: WaiterOutput[] = [];
  actor.subscribe({ complete: () => endings.push(actor.getSnapshot().output!) });
  actor.start();

  const events: Record<string, (step: { event: ModelEvent }) => void> = {
    [DEADLINE]: () => clock.advance(TIMEOUT_MS),
    LOCK_GRANTED: ({ event }) => {
      // Just before the deadline is still in time.
      if (input.timeoutMs !== undefined && actor.getSnapshot().status === 'active') clock.advance(TIMEOUT_MS - 1);
      actor.send(event as WaiterEvent);
    },
    CANCELLED: ({ event }) => actor.send(event as WaiterEvent),
    CLIENT_DIED: ({ event }) => actor.send(event as WaiterEvent),
    VOLUME_GONE: ({ event }) => actor.send(event as WaiterEvent),
  };

  const checkInvariants = (expected: Snapshot): void => {
    const real = actor.getSnapshot();
    expect(real.value).toEqual(expected.value);
    expect(real.status).toBe(expected.status);
    if (real.status === 'active') {
      expect(endings).toEqual([]);
      return;
    }
    // Ends exactly once, with the output its final state promises...
    const state = String(real.value);
    expect(endings).toEqual([EXPECTED_OUTPUT[state]!(real)]);
    // ...and nothing afterwards moves it: no event, and no timer (it was cancelled on exit).
    for (const event of modelEvents(real)) expect(getNextSnapshot(waiterMachine, real, event as WaiterEvent).value).toBe(state);
    clock.advance(TIMEOUT_MS * 4);
    expect(endings).toHaveLength(1);
  };

  const params = { states: { '*': checkInvariants }, events } as unknown as TestParam<Snapshot, ModelEvent>;
  return { actor, clock, endings, params };
}

async function replay(input: WaiterInput, path: TestPath<Snapshot, ModelEvent>): Promise<void> {
  await path.test(startHarness(input).params);
}

describe.each([
  ['with timeoutMs', TIMED],
  ['without timeoutMs', UNTIMED],
] as const)('waiter machine %s (model-based)', (_, input) => {
  const model = buildModel(input);
  const shortest = model.getShortestPaths();
  const simple = model.getSimplePaths();

  it('reaches every final state the request can end in', () => {
    const reached = new Set(shortest.map((path) => JSON.stringify(path.state.value)));
    const finals = ['"granted"', '"abandoned"', '"rejected"'];
    for (const f of finals) expect(reached).toContain(f);
    const codes = shortest.map((path) => path.state.context.code);
    expect(codes.includes('ETIMEDOUT')).toBe(input.timeoutMs !== undefined);
  });

  it(`ends exactly once on every shortest path (${shortest.length} paths)`, async () => {
    for (const path of shortest) await replay(input, path);
  });

  it(`ends exactly once on every simple path (${simple.length} paths)`, async () => {
    for (const path of simple) await replay(input, path);
  });
});

describe('waiter machine', () => {
  it('times out after exactly timeoutMs with ETIMEDOUT', () => {
    const { clock, endings } = startHarness(TIMED);
    clock.advance(TIMEOUT_MS - 1);
    expect(endings).toEqual([]);
    clock.advance(1);
    expect(endings).toEqual([{ outcome: 'rejected', code: 'ETIMEDOUT' }]);
  });

  it('waits forever without timeoutMs', () => {
    const { actor, clock, endings } = startHarness(UNTIMED);
    clock.advance(86_400_000);
    expect(endings).toEqual([]);
    expect(actor.getSnapshot().value).toEqual({ waiting: 'untimed' });
  });

  it.each([
    [{ type: 'LOCK_GRANTED', token: 3 }, { outcome: 'granted', token: 3 }],
    [{ type: 'CANCELLED' }, { outcome: 'abandoned', code: 'ECANCELED' }],
    [{ type: 'CLIENT_DIED' }, { outcome: 'abandoned', code: null }],
    [{ type: 'VOLUME_GONE' }, { outcome: 'rejected', code: 'ENOENT' }],
  ] as Array<[WaiterEvent, WaiterOutput]>)('answers %o with %o', (event, output) => {
    const { actor, endings } = startHarness(TIMED);
    actor.send(event);
    expect(endings).toEqual([output]);
  });
});
