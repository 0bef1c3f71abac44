import { describe, expect, it } from 'vitest';
import { SimulatedClock, createActor, getNextSnapshot, type SnapshotFrom } from 'xstate';
import { TestModel, type TestParam, type TestPath } from 'xstate/graph';
import {
  countQueued,
  subscriberMachine,
  type FrameReady,
  type SubscriberEvent,
  type SubscriberInput,
} from '../../src/machines/subscriber.js';
import type { WardenEvent } from '../../src/protocol/events.js';

// Model-based test: xstate/graph walks the machine itself; every path is replayed against a real
// actor on a simulated clock, and the SPEC §8 invariants are checked after every step.
// (`createTestModel` refuses machines with `after`, so the delay is an explicit model event here.)

const ACK_TIMEOUT_MS = 100;
const MAX_QUEUED = 3;
const INPUT: SubscriberInput = { sub: 5, client: 9, volume: 'path:/data', ackTimeoutMs: ACK_TIMEOUT_MS, maxQueuedEvents: MAX_QUEUED };
const ACK_DEADLINE = 'xstate.after.ackTimeout.subscriber.delivering';

type Snapshot = SnapshotFrom<typeof subscriberMachine>;
type ModelEvent = SubscriberEvent | { type: typeof ACK_DEADLINE };

function changed(count: number): WardenEvent[] {
  return Array.from({ length: count }, () => ({ type: 'volume.changed', volume: 'path:/data', ts: 0, n: 0, paths: ['a'] }));
}

function modelEvents(snapshot: Snapshot): ModelEvent[] {
  return [
    { type: 'EVENTS_PUBLISHED', events: changed(1) },
    { type: 'EVENTS_PUBLISHED', events: changed(2) },
    { type: 'ACK_RECEIVED', seq: snapshot.context.inFlight?.seq ?? 1 },
    { type: 'ACK_RECEIVED', seq: 0 },
    { type: 'UNSUBSCRIBED' },
    { type: 'CLIENT_DIED' },
    { type: 'VOLUME_GONE' },
    ...(snapshot.matches('delivering') ? [{ type: ACK_DEADLINE } as const] : []),
  ];
}

// The model's state key: everything the machine's behaviour depends on (event payloads are all
// alike in the model, so lengths stand for contents). Seqs grow forever, so the walk stops after
// MAX_SEQ deliveries; that still covers every state and transition of the machine.
const MAX_SEQ = 3;
function stateKey(snapshot: Snapshot): string {
  const { context } = snapshot;
  return JSON.stringify([
    snapshot.value,
    snapshot.status,
    context.queue.length,
    context.frames.map((frame) => [frame.seq, frame.events.length]),
    context.inFlight && [context.inFlight.seq, context.inFlight.events.length],
    context.nextSeq,
    context.ending,
  ]);
}

function buildModel(maxSeq: number, events: (snapshot: Snapshot) => ModelEvent[] = modelEvents) {
  return new TestModel<Snapshot, ModelEvent, SubscriberInput>(subscriberMachine as never, {
    input: INPUT,
    events,
    serializeState: stateKey,
    stopWhen: (snapshot) => snapshot.status === 'done' || snapshot.context.nextSeq > maxSeq,
  });
}

const model = buildModel(MAX_SEQ);
// Simple paths multiply fast: walk them on a smaller model (two deliveries, and without the
// events whose effect the full model already shows to equal another's: CLIENT_DIED ≡ UNSUBSCRIBED).
const smallModel = buildModel(2, (snapshot) =>
  modelEvents(snapshot).filter((event) => event.type !== 'CLIENT_DIED' && !(event.type === 'ACK_RECEIVED' && event.seq === 0)),
);

/** The system under test: a real actor on a simulated clock, plus what it did. */
function startHarness() {
  const clock = new SimulatedClock();
  const actor = createActor(subscriberMachine, { clock, input: INPUT });
  const sent: FrameReady[] = [];
  const published: WardenEvent[] = [];
  let acked = 0;
  let nextN = 1;
  actor.on('frameReady', (frame) => sent.push(frame));
  actor.start();

  const events: Record<string, (step: { event: ModelEvent }) => void> = {
    EVENTS_PUBLISHED: ({ event }) => {
      const count = event.type === 'EVENTS_PUBLISHED' ? event.events.length : 0;
      const fresh = changed(count).map((ev) => ({ ...ev, n: nextN++ }));
      published.push(...fresh);
      actor.send({ type: 'EVENTS_PUBLISHED', events: fresh });
    },
    ACK_RECEIVED: ({ event }) => {
      if (event.type !== 'ACK_RECEIVED') return;
      const inFlight = actor.getSnapshot().context.inFlight;
      if (inFlight !== null && inFlight.seq === event.seq) {
        clock.increment(ACK_TIMEOUT_MS - 1); // at the last moment: still in time
        acked++;
      }
      actor.send(event);
    },
    [ACK_DEADLINE]: () => clock.increment(ACK_TIMEOUT_MS),
    UNSUBSCRIBED: () => actor.send({ type: 'UNSUBSCRIBED' }),
    CLIENT_DIED: () => actor.send({ type: 'CLIENT_DIED' }),
    VOLUME_GONE: () => actor.send({ type: 'VOLUME_GONE' }),
  };

  const checkInvariants = (expected: Snapshot): void => {
    const real = actor.getSnapshot();
    expect(real.value).toBe(expected.value);
    expect(real.status).toBe(expected.status);
    expect(real.context.inFlight?.seq).toBe(expected.context.inFlight?.seq);

    // At most one frame in flight, and exactly one while delivering.
    const unacked = sent.length - acked;
    expect(unacked).toBeLessThanOrEqual(1);
    if (real.matches('delivering')) expect(unacked).toBe(1);
    if (real.matches('attached')) expect(unacked).toBe(0);
    // Seqs are consecutive from 1: one per frame, never reused.
    expect(sent.map((frame) => frame.seq)).toEqual(sent.map((_, i) => i + 1));

    // The queue never grows past its bound; zombies and detached subscribers hold nothing.
    expect(countQueued(real.context)).toBeLessThanOrEqual(MAX_QUEUED);
    if (real.matches('zombie') || real.matches('detached')) {
      expect(countQueued(real.context)).toBe(0);
      expect(real.context.inFlight).toBeNull();
    }

    // Events go out in publish order, none twice; an idle live subscriber has delivered everything.
    const delivered = sent.flatMap((frame) => frame.events);
    expect(delivered).toEqual(published.slice(0, delivered.length));
    if (real.matches('attached')) expect(delivered).toEqual(published);

    // Detached is final: nothing moves it any more.
    if (real.matches('detached')) {
      expect(real.status).toBe('done');
      for (const event of modelEvents(real)) {
        if (event.type === ACK_DEADLINE) continue;
        expect(getNextSnapshot(subscriberMachine, real, event).value).toBe('detached');
      }
    }
  };

  const params = { states: { '*': checkInvariants }, events } as unknown as TestParam<Snapshot, ModelEvent>;
  return { actor, clock, sent, params };
}

async function replay(path: TestPath<Snapshot, ModelEvent>): Promise<void> {
  const { params } = startHarness();
  await path.test(params);
}

function scenario(...events: ModelEvent[]): TestPath<Snapshot, ModelEvent> {
  const [path] = model.getPathsFromEvents(events as never, {
    input: INPUT,
    fromState: createActor(subscriberMachine, { input: INPUT }).getSnapshot(),
    serializeState: stateKey,
  });
  if (!path) throw new Error('no path');
  return path;
}

const publish = (count: number): ModelEvent => ({ type: 'EVENTS_PUBLISHED', events: changed(count) });
const ack = (seq: number): ModelEvent => ({ type: 'ACK_RECEIVED', seq });

describe('subscriber machine (model-based)', () => {
  const shortest = model.getShortestPaths();
  const simple = smallModel.getSimplePaths();


  it('reaches every state of the contract', () => {
    const reached = new Set(shortest.flatMap((path) => [path.state, ...path.steps.map((step) => step.state)]).map((state) => String(state.value)));
    expect([...reached].sort()).toEqual(['attached', 'delivering', 'detached', 'zombie']);
  });

  describe.each(shortest.map((path) => [path.description, path] as const))('shortest path: %s', (_, path) => {
    it('keeps the invariants on every step against the real actor', () => replay(path));
  });

  it(`keeps the invariants on every simple path (${simple.length} paths)`, async () => {
    for (const path of simple) await replay(path);
  });

  it('delivers, and returns to attached when the ack comes in time', async () => {
    const path = scenario(publish(1), ack(1));
    expect(path.state.value).toBe('attached');
    await replay(path);
  });

  it('sends events that arrived during a delivery together in the next frame', async () => {
    const { actor, sent } = startHarness();
    actor.send({ type: 'EVENTS_PUBLISHED', events: changed(1) });
    actor.send({ type: 'EVENTS_PUBLISHED', events: changed(1) });
    actor.send({ type: 'EVENTS_PUBLISHED', events: changed(1) });
    expect(sent.map((frame) => frame.events.length)).toEqual([1]);
    actor.send({ type: 'ACK_RECEIVED', seq: 1 });
    expect(sent.map((frame) => frame.events.length)).toEqual([1, 2]);
    expect(actor.getSnapshot().value).toBe('delivering');
  });

  it('becomes a zombie when the ack comes late, and ignores the late ack', async () => {
    const path = scenario(publish(1), { type: ACK_DEADLINE }, ack(1));
    expect(path.state.value).toBe('zombie');
    await replay(path);
  });

  it('ignores a stale or unknown seq while delivering', async () => {
    const path = scenario(publish(1), ack(0), ack(1));
    expect(path.state.value).toBe('attached');
    await replay(path);
  });

  it('becomes a zombie when its queue grows past maxQueuedEvents', async () => {
    const path = scenario(publish(1), publish(2), publish(2));
    expect(path.state.value).toBe('zombie');
    await replay(path);
  });

  it('gets nothing more as a zombie', async () => {
    const { actor, clock, sent } = startHarness();
    actor.send({ type: 'EVENTS_PUBLISHED', events: changed(1) });
    clock.increment(ACK_TIMEOUT_MS);
    actor.send({ type: 'EVENTS_PUBLISHED', events: changed(1) });
    actor.send({ type: 'ACK_RECEIVED', seq: 1 });
    expect(actor.getSnapshot().value).toBe('zombie');
    expect(sent).toHaveLength(1);
  });

  it.each(['UNSUBSCRIBED', 'CLIENT_DIED'] as const)('detaches on %s from every live state', async (type) => {
    for (const before of [[], [publish(1)], [publish(1), { type: ACK_DEADLINE } as ModelEvent]]) {
      const path = scenario(...before, { type });
      expect(path.state.value).toBe('detached');
      await replay(path);
    }
  });

  it('ends a one-volume subscription on VOLUME_GONE only after the queued frames are acked', async () => {
    // Published before the gone (the hub sends VOLUME_GONE right after volume.gone itself).
    const path = scenario(publish(1), publish(1), { type: 'VOLUME_GONE' }, ack(1));
    expect(path.state.value).toBe('delivering');
    await replay(path);
    const done = scenario(publish(1), publish(1), { type: 'VOLUME_GONE' }, ack(1), ack(2));
    expect(done.state.value).toBe('detached');
    await replay(done);
  });

  it('delivers nothing published after its volume went: volume.gone was the last event', () => {
    const { actor, sent } = startHarness();
    actor.send({ type: 'EVENTS_PUBLISHED', events: changed(1) });
    actor.send({ type: 'VOLUME_GONE' });
    actor.send({ type: 'EVENTS_PUBLISHED', events: changed(1) });
    actor.send({ type: 'ACK_RECEIVED', seq: 1 });
    expect(sent).toHaveLength(1);
    expect(actor.getSnapshot().value).toBe('detached');
  });

  it('detaches at once on VOLUME_GONE when nothing can be delivered', async () => {
    await replay(scenario({ type: 'VOLUME_GONE' }));
    const zombie = scenario(publish(1), { type: ACK_DEADLINE }, { type: 'VOLUME_GONE' });
    expect(zombie.state.value).toBe('detached');
    await replay(zombie);
  });

  it('detaches when the last frame before its volume went is never acked, freeing its slot', async () => {
    const path = scenario(publish(1), { type: 'VOLUME_GONE' }, { type: ACK_DEADLINE });
    expect(path.state.value).toBe('detached');
    await replay(path);
  });

  it('cuts a batch larger than maxFrameBytes into frames acked one by one', () => {
    const clock = new SimulatedClock();
    const actor = createActor(subscriberMachine, { clock, input: { ...INPUT, maxQueuedEvents: 100, maxFrameBytes: 300 } });
    const sent: FrameReady[] = [];
    actor.on('frameReady', (frame) => sent.push(frame));
    actor.start();
    const batch = changed(20).map((ev, i) => ({ ...ev, n: i + 1 }));
    actor.send({ type: 'EVENTS_PUBLISHED', events: batch });
    while (actor.getSnapshot().matches('delivering')) {
      actor.send({ type: 'ACK_RECEIVED', seq: sent.length });
    }
    expect(sent.length).toBeGreaterThan(1);
    expect(sent.flatMap((frame) => frame.events)).toEqual(batch);
    expect(actor.getSnapshot().value).toBe('attached');
  });
});
