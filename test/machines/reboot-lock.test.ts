import { describe, expect, it } from 'vitest';
import { createActor, type SnapshotFrom } from 'xstate';
import { createTestModel, type TestParam, type TestPath } from 'xstate/graph';
import { simulatedClock } from '../../src/adapters/clock.js';
import { rebootLockMachine, type RebootEmitted, type RebootEvent } from '../../src/machines/reboot-lock.js';
import type { HolderView } from '../../src/protocol/types.js';

// Model-based test (SPEC §6): xstate/graph walks the reboot lock over three clients, every path is
// replayed against a real actor, and the invariants are checked after every step.

type Snapshot = SnapshotFrom<typeof rebootLockMachine>;
const CLIENTS = [1, 2, 3];
const client = (id: number): HolderView => ({ client: id, name: `c${id}` });

const EVENTS: RebootEvent[] = [
  ...CLIENTS.flatMap((id) =>
    [true, false].flatMap((wait) =>
      [null, 'path:/busy'].map((busyVolume) => ({ type: 'REBOOT_REQUESTED' as const, requestId: `r${id}`, client: client(id), wait, busyVolume })),
    ),
  ),
  { type: 'VOLUMES_SETTLED' },
  ...CLIENTS.map((id) => ({ type: 'UNLOCK_REQUESTED' as const, requestId: `u${id}`, client: id })),
  ...CLIENTS.map((id) => ({ type: 'CLIENT_DIED' as const, client: id })),
];

const model = createTestModel(rebootLockMachine, { events: EVENTS });

function startHarness() {
  const actor = createActor(rebootLockMachine, { clock: simulatedClock() });
  const emitted: RebootEmitted[] = [];
  actor.on('*', (event) => emitted.push(event as RebootEmitted));
  actor.start();
  let stepStart = 0;
  let lastEvent: RebootEvent | null = null;
  let before = actor.getSnapshot();
  let holders = 0;

  const exec = ({ event }: { event: RebootEvent }) => {
    stepStart = emitted.length;
    before = actor.getSnapshot();
    lastEvent = event;
    actor.send(event);
  };

  const checkInvariants = (expected: Snapshot): void => {
    const real = actor.getSnapshot();
    const step = emitted.slice(stepStart);
    expect(real.value).toBe(expected.value);
    expect(real.context).toEqual(expected.context);
    const { holder, waiter } = real.context;

    // The state names what the context holds: one holder at most, one waiter at most, never both.
    expect(real.value).toBe(holder ? 'held' : waiter ? 'waiting' : 'free');
    expect(holder !== null && waiter !== null).toBe(false);
    for (const e of step) {
      if (e.type === 'granted') holders++;
      if (e.type === 'released') holders--;
    }
    expect(holders).toBe(holder ? 1 : 0);

    // Every request gets exactly one immediate answer (granted, refused, or waiting: its reply deferred).
    if (lastEvent?.type === 'REBOOT_REQUESTED' || lastEvent?.type === 'UNLOCK_REQUESTED') {
      const { requestId } = lastEvent;
      expect(step.filter((e) => 'requestId' in e && e.requestId === requestId)).toHaveLength(1);
    }
    if (lastEvent?.type === 'REBOOT_REQUESTED') {
      const answer = step[0]!;
      // EALREADY whenever someone holds it; EBUSY (with busyVolume) for a second waiter or a busy no-wait.
      if (before.context.holder) expect(answer).toMatchObject({ type: 'refused', code: 'EALREADY' });
      else if (lastEvent.busyVolume === null && !before.context.waiter) expect(answer.type).toBe('granted');
      else if (lastEvent.wait && !before.context.waiter) expect(answer.type).toBe('waiting');
      else expect(answer).toMatchObject({ type: 'refused', code: 'EBUSY' });
      if (answer.type === 'refused' && answer.code === 'EBUSY' && lastEvent.busyVolume) expect(answer.busyVolume).toBe(lastEvent.busyVolume);
    }
    // The waiter is granted only when the volumes settle, and is then the holder.
    if (lastEvent?.type === 'VOLUMES_SETTLED' && before.context.waiter) {
      expect(step).toEqual([{ type: 'granted', requestId: null, client: before.context.waiter }]);
      expect(holder).toEqual(before.context.waiter);
    }
    // A death releases only what that client held or waited for.
    if (lastEvent?.type === 'CLIENT_DIED') {
      const id = lastEvent.client;
      if (before.context.holder?.client === id) expect(step).toEqual([{ type: 'released', requestId: null, client: client(id) }]);
      else if (before.context.waiter?.client === id) expect(step).toEqual([{ type: 'waiterLeft', client: client(id) }]);
      else expect(step).toEqual([]);
    }
  };

  const params = {
    states: { '*': checkInvariants },
    events: { REBOOT_REQUESTED: exec, VOLUMES_SETTLED: exec, UNLOCK_REQUESTED: exec, CLIENT_DIED: exec },
  } as unknown as TestParam<Snapshot, RebootEvent>;
  return { actor, emitted, params, exec };
}

async function replay(path: TestPath<Snapshot, RebootEvent>): Promise<void> {
  await path.test(startHarness().params);
}

describe('reboot lock machine (model-based)', () => {
  // The default serialization keys states by their incoming transition too: every edge is covered.
  const shortest = model.getShortestPaths();
  const simple = createTestModel(rebootLockMachine, {
    events: EVENTS,
    serializeState: (s: Snapshot) => JSON.stringify([s.value, s.context]),
  } as never).getSimplePaths();

  it('reaches every state of the contract', () => {
    expect([...new Set(shortest.map((path) => String(path.state.value)))].sort()).toEqual(['free', 'held', 'waiting']);
  });

  it(`keeps the invariants on every shortest path (${shortest.length} paths)`, async () => {
    for (const path of shortest) await replay(path);
  });

  it(`keeps the invariants on every simple path (${simple.length} paths)`, async () => {
    for (const path of simple) await replay(path);
  });
});

describe('reboot lock machine', () => {
  it('lets a waiter take the lock once volumes settle, and a second waiter gets EBUSY', () => {
    const { actor, emitted, exec } = startHarness();
    exec({ event: { type: 'REBOOT_REQUESTED', requestId: 'a', client: client(1), wait: true, busyVolume: 'path:/v' } });
    exec({ event: { type: 'REBOOT_REQUESTED', requestId: 'b', client: client(2), wait: true, busyVolume: 'path:/v' } });
    exec({ event: { type: 'VOLUMES_SETTLED' } });
    exec({ event: { type: 'REBOOT_REQUESTED', requestId: 'c', client: client(3), wait: false, busyVolume: null } });
    expect(emitted).toEqual([
      { type: 'waiting', requestId: 'a', client: client(1) },
      { type: 'refused', requestId: 'b', code: 'EBUSY', busyVolume: 'path:/v' },
      { type: 'granted', requestId: null, client: client(1) },
      { type: 'refused', requestId: 'c', code: 'EALREADY' },
    ]);
    expect(actor.getSnapshot().context).toEqual({ holder: client(1), waiter: null });
  });

  it('is released by its holder only: others get EPERM, and ENOLCK when nothing is held', () => {
    const { emitted, exec } = startHarness();
    exec({ event: { type: 'UNLOCK_REQUESTED', requestId: 'u0', client: 1 } });
    exec({ event: { type: 'REBOOT_REQUESTED', requestId: 'a', client: client(1), wait: false, busyVolume: null } });
    exec({ event: { type: 'UNLOCK_REQUESTED', requestId: 'u2', client: 2 } });
    exec({ event: { type: 'UNLOCK_REQUESTED', requestId: 'u1', client: 1 } });
    expect(emitted.map((e) => [e.type, 'code' in e ? e.code : null])).toEqual([
      ['refused', 'ENOLCK'],
      ['granted', null],
      ['refused', 'EPERM'],
      ['released', null],
    ]);
  });
});
