/**
 * One subscription (SPEC §8) as a pure machine: it queues events, hands out one frame at a
 * time and waits for its ack. It does no I/O: a frame to send is an emitted `frameReady`
 * event, which the subscriber hub turns into a wire frame. Time is the named delay `ackTimeout`.
 */
import { assign, emit, setup } from 'xstate';
import { splitFrames, type NotificationFrame, type WardenEvent } from '../protocol/events.js';

/** SPEC §8/§13 defaults, shared by the machine input and the hub options. */
export const SUBSCRIBER_DEFAULTS = {
  ackTimeoutMs: 2000,
  maxQueuedEvents: 10_000,
  maxFrameBytes: 65_536,
} as const;

/** What the hub knows when it creates a subscriber actor. */
export interface SubscriberInput {
  sub: number;
  client: number;
  /** Volume id, or `"*"` for every volume. */
  volume: string;
  ackTimeoutMs?: number;
  maxQueuedEvents?: number;
  maxFrameBytes?: number;
}

/** The subscriber's memory: the queue, the current batch cut into frames, the frame in flight. */
export interface SubscriberContext {
  sub: number;
  client: number;
  volume: string;
  ackTimeoutMs: number;
  maxQueuedEvents: number;
  maxFrameBytes: number;
  /** Events that arrived since the current batch was cut; they go out together next. */
  queue: WardenEvent[];
  /** The rest of the current batch, already split and numbered, not sent yet. */
  frames: NotificationFrame[];
  /** The one frame sent and not acknowledged yet. */
  inFlight: NotificationFrame | null;
  /** Seq of the next frame to be cut; seqs start at 1 and never repeat within a subscription. */
  nextSeq: number;
  /** The volume is gone: detach once everything queued has been acknowledged. */
  ending: boolean;
}

/** What happened to a subscriber (past tense: the machine reacts, it does not command). */
export type SubscriberEvent =
  | { type: 'EVENTS_PUBLISHED'; events: WardenEvent[] }
  | { type: 'ACK_RECEIVED'; seq: number }
  | { type: 'UNSUBSCRIBED' }
  | { type: 'CLIENT_DIED' }
  | { type: 'VOLUME_GONE' };

/** The one effect the machine asks for: send this frame to the client (the hub listens with `actor.on`). */
export interface FrameReady {
  type: 'frameReady';
  seq: number;
  events: WardenEvent[];
}

/** Events waiting to be sent (queued plus cut but unsent), i.e. what `maxQueuedEvents` bounds. */
export function countQueued(context: SubscriberContext): number {
  return context.frames.reduce((sum, frame) => sum + frame.events.length, context.queue.length);
}

/**
 * The subscriber machine. States: `attached` (nothing in flight), `delivering` (one frame in
 * flight, awaiting its ack), `zombie` (missed a deadline or overflowed: gets nothing more but
 * keeps its slot), `detached` (final).
 *
 * @example
 * const actor = createActor(subscriberMachine, { input: { sub: 1, client: 7, volume: '*' } });
 * actor.on('frameReady', ({ seq, events }) => socket.send({ id: 2000, sub: 1, seq, events }));
 * actor.start();
 * actor.send({ type: 'EVENTS_PUBLISHED', events: [event] }); // → frameReady seq 1
 * actor.send({ type: 'ACK_RECEIVED', seq: 1 });              // → attached
 */
export const subscriberMachine = setup({
  types: {
    input: {} as SubscriberInput,
    context: {} as SubscriberContext,
    events: {} as SubscriberEvent,
    emitted: {} as FrameReady,
  },
  delays: {
    ackTimeout: ({ context }) => context.ackTimeoutMs,
  },
  guards: {
    hasWork: ({ context }) => context.queue.length > 0 || context.frames.length > 0,
    isEnding: ({ context }) => context.ending,
    overflows: ({ context, event }) =>
      event.type === 'EVENTS_PUBLISHED' && countQueued(context) + event.events.length > context.maxQueuedEvents,
    acksInFlight: ({ context, event }) => event.type === 'ACK_RECEIVED' && context.inFlight?.seq === event.seq,
  },
  actions: {
    enqueue: assign({
      queue: ({ context, event }) =>
        event.type === 'EVENTS_PUBLISHED' && event.events.length > 0 ? [...context.queue, ...event.events] : context.queue,
    }),
    // Cuts the queue into frames when the previous batch is done, then puts the next frame in flight.
    takeNextFrame: assign(({ context }) => {
      const frames =
        context.frames.length > 0
          ? context.frames
          : splitFrames(context.sub, context.nextSeq, context.queue, context.maxFrameBytes);
      const queue = context.frames.length > 0 ? context.queue : [];
      const [inFlight, ...rest] = frames;
      return { queue, frames: rest, inFlight: inFlight ?? null, nextSeq: inFlight ? inFlight.seq + 1 : context.nextSeq };
    }),
    emitFrame: emit(({ context }) => ({
      type: 'frameReady' as const,
      seq: context.inFlight?.seq ?? 0,
      events: context.inFlight?.events ?? [],
    })),
    clearInFlight: assign({ inFlight: null }),
    markEnding: assign({ ending: true }),
    // Bounded memory: whatever a zombie or a detached subscriber would have received is dropped.
    dropEverything: assign({ queue: [], frames: [], inFlight: null }),
  },
}).createMachine({
  id: 'subscriber',
  description: 'One subscription: delivers notifications one acknowledged frame at a time (SPEC §8).',
  context: ({ input }) => ({
    sub: input.sub,
    client: input.client,
    volume: input.volume,
    ackTimeoutMs: input.ackTimeoutMs ?? SUBSCRIBER_DEFAULTS.ackTimeoutMs,
    maxQueuedEvents: input.maxQueuedEvents ?? SUBSCRIBER_DEFAULTS.maxQueuedEvents,
    maxFrameBytes: input.maxFrameBytes ?? SUBSCRIBER_DEFAULTS.maxFrameBytes,
    queue: [],
    frames: [],
    inFlight: null,
    nextSeq: 1,
    ending: false,
  }),
  initial: 'attached',
  states: {
    attached: {
      description: 'Idle: nothing in flight. Anything queued goes out at once; a gone volume with nothing left detaches.',
      always: [
        { guard: 'hasWork', target: 'delivering', description: 'Events are waiting: send the next frame.' },
        { guard: 'isEnding', target: 'detached', description: 'The volume is gone and everything was delivered.' },
      ],
      on: {
        EVENTS_PUBLISHED: [
          { guard: 'isEnding', description: 'Its volume is gone: volume.gone was the last event.' },
          { guard: 'overflows', target: 'zombie', description: 'More than maxQueuedEvents would be waiting.' },
          { actions: 'enqueue', description: 'New events: queued, then sent at once.' },
        ],
        ACK_RECEIVED: { description: 'Nothing is in flight: a stray ack is ignored.' },
        VOLUME_GONE: { actions: 'markEnding', description: 'The volume is gone: end once nothing is left to deliver.' },
        UNSUBSCRIBED: { target: 'detached', description: 'The client unsubscribed.' },
        CLIENT_DIED: { target: 'detached', description: 'The client disconnected or was released.' },
      },
    },
    delivering: {
      description: 'One frame in flight; waits up to ackTimeoutMs for its ack. New events queue for the next frame.',
      entry: ['takeNextFrame', 'emitFrame'],
      after: {
        ackTimeout: { target: 'zombie', description: 'The ack did not come in time.' },
      },
      on: {
        EVENTS_PUBLISHED: [
          { guard: 'isEnding', description: 'Its volume is gone: volume.gone was the last event.' },
          { guard: 'overflows', target: 'zombie', description: 'More than maxQueuedEvents would be waiting.' },
          { actions: 'enqueue', description: 'Queued: goes together in the next delivery.' },
        ],
        ACK_RECEIVED: [
          {
            guard: 'acksInFlight',
            target: 'attached',
            actions: 'clearInFlight',
            description: 'The frame in flight was acknowledged.',
          },
          { description: 'A stale or unknown seq: ignored, the deadline still runs.' },
        ],
        VOLUME_GONE: { actions: 'markEnding', description: 'The volume is gone: end once what is queued is acknowledged.' },
        UNSUBSCRIBED: { target: 'detached', description: 'The client unsubscribed.' },
        CLIENT_DIED: { target: 'detached', description: 'The client disconnected or was released.' },
      },
    },
    zombie: {
      description: 'Missed an ack deadline or overflowed its queue: gets nothing more, keeps its slot until it leaves.',
      entry: 'dropEverything',
      always: {
        guard: 'isEnding',
        target: 'detached',
        description: 'Its volume went while a frame was in flight: nothing can follow, the subscription ends.',
      },
      on: {
        EVENTS_PUBLISHED: { description: 'Dropped: a zombie receives nothing.' },
        ACK_RECEIVED: { description: 'Too late: a zombie stays a zombie.' },
        VOLUME_GONE: { target: 'detached', description: 'Nothing can be delivered any more: the subscription ends.' },
        UNSUBSCRIBED: { target: 'detached', description: 'The client unsubscribed: its slot is freed.' },
        CLIENT_DIED: { target: 'detached', description: 'The client died: its slot is freed.' },
      },
    },
    detached: {
      type: 'final',
      description: 'The subscription ended; its slot is free.',
      entry: 'dropEverything',
    },
  },
});

/** The machine's type, for the hub's actor map and for tests. */
export type SubscriberMachine = typeof subscriberMachine;
