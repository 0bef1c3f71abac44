import { assign, setup } from 'xstate';
import type { ErrorCode } from '../errors.js';

export interface WaiterInput {
  waiterId: string;
  volumeId: string;
  client: number;
  /** `lock_volume`'s `timeoutMs`; undefined waits forever. */
  timeoutMs?: number;
}

export interface WaiterContext extends WaiterInput {
  token: number | null;
  code: ErrorCode | null;
}

export type WaiterEvent =
  | { type: 'LOCK_GRANTED'; token: number }
  | { type: 'CANCELLED' }
  | { type: 'CLIENT_DIED' }
  | { type: 'VOLUME_GONE' };

/** How the request ended; the wiring sends the deferred reply from it. */
export type WaiterOutput =
  | { outcome: 'granted'; token: number }
  | { outcome: 'abandoned'; code: 'ECANCELED' | null }
  | { outcome: 'rejected'; code: 'ETIMEDOUT' | 'ENOENT' };

/**
 * One queued `lock_volume` request (SPEC §2 waiter). It ends exactly once — that is the
 * invariant "every waiter gets exactly one reply" — in `granted`, `abandoned` or `rejected`.
 *
 * @example
 * const w = createActor(waiterMachine, { input: { waiterId: 'w1', volumeId: 'path:/v', client: 4, timeoutMs: 500 }, clock });
 */
export const waiterMachine = setup({
  types: {
    context: {} as WaiterContext,
    input: {} as WaiterInput,
    events: {} as WaiterEvent,
    output: {} as WaiterOutput,
  },
  delays: {
    timeout: ({ context }) => context.timeoutMs ?? 0,
  },
  guards: {
    hasTimeout: ({ context }) => context.timeoutMs !== undefined,
  },
}).createMachine({
  id: 'waiter',
  description: 'A client queued for a volume lock.',
  context: ({ input }) => ({ ...input, token: null, code: null }),
  initial: 'waiting',
  states: {
    waiting: {
      description: 'In the FIFO queue; the lock_volume reply is deferred.',
      initial: 'deciding',
      states: {
        deciding: {
          always: [{ guard: 'hasTimeout', target: 'timed' }, { target: 'untimed' }],
        },
        timed: {
          description: 'Waiting with a deadline (timeoutMs).',
          after: {
            timeout: {
              target: '#waiter.rejected',
              description: 'timeoutMs passed: ETIMEDOUT.',
              actions: assign({ code: 'ETIMEDOUT' as const }),
            },
          },
        },
        untimed: { description: 'Waiting without a deadline.' },
      },
      on: {
        LOCK_GRANTED: {
          target: 'granted',
          description: 'The lock was handed to this waiter.',
          actions: assign(({ event }) => ({ token: event.token })),
        },
        CANCELLED: { target: 'abandoned', description: 'lock_cancel: ECANCELED.', actions: assign({ code: 'ECANCELED' as const }) },
        CLIENT_DIED: { target: 'abandoned', description: 'The client disconnected: no reply.' },
        VOLUME_GONE: { target: 'rejected', description: 'The volume went: ENOENT.', actions: assign({ code: 'ENOENT' as const }) },
      },
    },
    granted: { type: 'final', description: 'Replied OK with a fencing token.' },
    abandoned: { type: 'final', description: 'Cancelled (ECANCELED) or the client died (no reply).' },
    rejected: { type: 'final', description: 'Replied with an error (ETIMEDOUT, ENOENT).' },
  },
  output: ({ context }): WaiterOutput => {
    if (context.token !== null) return { outcome: 'granted', token: context.token };
    if (context.code === 'ETIMEDOUT' || context.code === 'ENOENT') return { outcome: 'rejected', code: context.code };
    return { outcome: 'abandoned', code: context.code === 'ECANCELED' ? 'ECANCELED' : null };
  },
});
