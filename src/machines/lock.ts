import { assign, emit, setup } from 'xstate';
import type { HolderView } from '../protocol/types.js';
import { emptyFifo, fifoFirst, fifoPush, fifoRemove, fifoShift, fifoSome, fifoToArray, type Fifo } from './fifo.js';

/** A client as the lock knows it: who holds or waits. `client` 0 is the daemon itself. */
export type LockClient = HolderView;

export interface QueuedRequest {
  /** The waiter actor's id; the wiring routes the eventual reply with it. */
  waiterId: string;
  client: LockClient;
}

export interface LockInput {
  volumeId: string;
  /** The last token ever granted (persisted), so the next grant is `token + 1`. */
  token: number;
  maxWaiters: number;
}

export interface LockContext {
  volumeId: string;
  holder: LockClient | null;
  /** Waiters in arrival order (chunked, so 10,000 waiters stay linear). */
  queue: Fifo<QueuedRequest>;
  token: number;
  maxWaiters: number;
}

export type LockEvent =
  | { type: 'LOCK_REQUESTED'; requestId: string; client: LockClient; wait: boolean }
  | { type: 'UNLOCK_REQUESTED'; requestId: string; client: number; status: number; token?: number }
  | { type: 'WAITER_LEFT'; waiterId: string }
  | { type: 'CLIENT_DIED'; client: number }
  | { type: 'VOLUME_GONE' };

/** What the lock decided; the wiring turns these into replies, waiter events and notifications. */
export type LockEmitted =
  | { type: 'granted'; requestId: string; client: LockClient; token: number }
  | { type: 'queued'; requestId: string; client: LockClient; position: number }
  | { type: 'refused'; requestId: string; code: 'EDEADLK' | 'EALREADY' | 'EBUSY' | 'ENOBUFS' | 'ENOLCK' | 'EPERM' }
  | { type: 'released'; requestId: string; holder: LockClient; status: number }
  | { type: 'holderDied'; holder: LockClient }
  | { type: 'dead'; waiters: QueuedRequest[] };

/** A handoff grants to the first queued request (dead clients already left the queue). */
const nextHolder = (context: LockContext) => {
  const next = fifoFirst(context.queue);
  return next ? { holder: next.client, queue: fifoShift(context.queue), token: context.token + 1 } : { holder: null };
};

/**
 * The exclusive per-volume lock (SPEC §5): one holder, a FIFO queue of waiters, a fencing token
 * that grows by one with every grant. Checks that need the world (rights, warden state, reboot
 * lock, unknown volume) happen before a request reaches it; the rest happen here in §5 order.
 *
 * @example
 * lock.send({ type: 'LOCK_REQUESTED', requestId: 'r1', client: { client: 3, name: 'make' }, wait: true });
 */
export const lockMachine = setup({
  types: {
    context: {} as LockContext,
    input: {} as LockInput,
    events: {} as LockEvent,
    emitted: {} as LockEmitted,
  },
  guards: {
    requesterHolds: ({ context, event }) =>
      event.type === 'LOCK_REQUESTED' && context.holder?.client === event.client.client,
    requesterWaits: ({ context, event }) =>
      event.type === 'LOCK_REQUESTED' && fifoSome(context.queue, (q) => q.client.client === event.client.client),
    noWait: ({ event }) => event.type === 'LOCK_REQUESTED' && !event.wait,
    // The daemon's own rebuild (client 0) always queues: refusing it would leave its volume
    // `checking` for ever, with nobody to ask again (SPEC §4: it stays checking until granted).
    queueFull: ({ context, event }) =>
      event.type === 'LOCK_REQUESTED' && event.client.client !== 0 && context.queue.size >= context.maxWaiters,
    callerIsHolder: ({ context, event }) =>
      event.type === 'UNLOCK_REQUESTED' &&
      context.holder?.client === event.client &&
      (event.token === undefined || event.token === context.token),
    holderDied: ({ context, event }) => event.type === 'CLIENT_DIED' && context.holder?.client === event.client,
    hasWaiters: ({ context }) => context.queue.size > 0,
  },
}).createMachine({
  id: 'lock',
  description: 'The exclusive lock of one volume, with FIFO waiters and fencing tokens.',
  context: ({ input }) => ({ volumeId: input.volumeId, holder: null, queue: emptyFifo<QueuedRequest>(), token: input.token, maxWaiters: input.maxWaiters }),
  initial: 'unlocked',
  on: {
    VOLUME_GONE: {
      target: '.dead',
      description: 'The volume went: every waiter gets ENOENT.',
      actions: emit(({ context }) => ({ type: 'dead' as const, waiters: fifoToArray(context.queue) })),
    },
    WAITER_LEFT: {
      description: 'A waiter was cancelled, timed out or its client died.',
      actions: assign(({ context, event }) => ({ queue: fifoRemove(context.queue, (q) => q.waiterId === event.waiterId) })),
    },
  },
  states: {
    unlocked: {
      description: 'Nobody holds the lock.',
      on: {
        LOCK_REQUESTED: {
          target: 'locked',
          description: 'Granted at once.',
          actions: [
            assign(({ context, event }) => ({ holder: event.client, token: context.token + 1 })),
            emit(({ context, event }) => ({ type: 'granted' as const, requestId: event.requestId, client: event.client, token: context.token })),
          ],
        },
        UNLOCK_REQUESTED: {
          description: 'Not locked: ENOLCK.',
          actions: emit(({ event }) => ({ type: 'refused' as const, requestId: event.requestId, code: 'ENOLCK' as const })),
        },
      },
    },
    locked: {
      description: 'One holder; others wait in arrival order.',
      on: {
        LOCK_REQUESTED: [
          {
            guard: 'requesterHolds',
            description: 'Double lock: EDEADLK.',
            actions: emit(({ event }) => ({ type: 'refused' as const, requestId: event.requestId, code: 'EDEADLK' as const })),
          },
          {
            guard: 'requesterWaits',
            description: 'Double wait: EALREADY.',
            actions: emit(({ event }) => ({ type: 'refused' as const, requestId: event.requestId, code: 'EALREADY' as const })),
          },
          {
            guard: 'noWait',
            description: 'Held and the caller will not wait: EBUSY.',
            actions: emit(({ event }) => ({ type: 'refused' as const, requestId: event.requestId, code: 'EBUSY' as const })),
          },
          {
            guard: 'queueFull',
            description: 'More than maxWaiters: ENOBUFS.',
            actions: emit(({ event }) => ({ type: 'refused' as const, requestId: event.requestId, code: 'ENOBUFS' as const })),
          },
          {
            description: 'Queued behind the holder (FIFO).',
            actions: [
              assign(({ context, event }) => ({ queue: fifoPush(context.queue, { waiterId: event.requestId, client: event.client }) })),
              emit(({ context, event }) => ({
                type: 'queued' as const,
                requestId: event.requestId,
                client: event.client,
                position: context.queue.size,
              })),
            ],
          },
        ],
        UNLOCK_REQUESTED: [
          {
            guard: 'callerIsHolder',
            target: 'handoff',
            description: 'The holder unlocked: account its status and hand off.',
            actions: emit(({ context, event }) => ({
              type: 'released' as const,
              requestId: event.requestId,
              holder: context.holder!,
              status: event.status,
            })),
          },
          {
            description: 'Not the holder, or a stale fencing token: EPERM.',
            actions: emit(({ event }) => ({ type: 'refused' as const, requestId: event.requestId, code: 'EPERM' as const })),
          },
        ],
        CLIENT_DIED: [
          {
            guard: 'holderDied',
            target: 'handoff',
            description: 'The holder died without unlocking: a failure, then handoff.',
            actions: [
              emit(({ context }) => ({ type: 'holderDied' as const, holder: context.holder! })),
              assign(({ context, event }) => ({ queue: fifoRemove(context.queue, (q) => q.client.client === event.client) })),
            ],
          },
          {
            description: 'A waiting client died: it leaves the queue.',
            actions: assign(({ context, event }) => ({ queue: fifoRemove(context.queue, (q) => q.client.client === event.client) })),
          },
        ],
      },
    },
    handoff: {
      description: 'Passing the lock to the first live waiter, if any.',
      always: [
        {
          guard: 'hasWaiters',
          target: 'locked',
          description: 'The first waiter becomes holder with the next token.',
          actions: [
            emit(({ context }) => ({
              type: 'granted' as const,
              requestId: fifoFirst(context.queue)!.waiterId,
              client: fifoFirst(context.queue)!.client,
              token: context.token + 1,
            })),
            assign(({ context }) => nextHolder(context)),
          ],
        },
        { target: 'unlocked', actions: assign({ holder: null }), description: 'Nobody waits.' },
      ],
    },
    dead: {
      type: 'final',
      description: 'The volume is gone; a later unlock gets ENOENT.',
    },
  },
});
