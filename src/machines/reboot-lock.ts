import { assign, emit, setup } from 'xstate';
import type { HolderView } from '../protocol/types.js';

export interface RebootContext {
  holder: HolderView | null;
  waiter: HolderView | null;
}

export type RebootEvent =
  /** `busyVolume` is what examining every volume found (null: all clean). */
  | { type: 'REBOOT_REQUESTED'; requestId: string; client: HolderView; wait: boolean; busyVolume: string | null }
  | { type: 'VOLUMES_SETTLED' }
  | { type: 'UNLOCK_REQUESTED'; requestId: string; client: number }
  | { type: 'CLIENT_DIED'; client: number };

export type RebootEmitted =
  | { type: 'granted'; requestId: string | null; client: HolderView }
  | { type: 'refused'; requestId: string; code: 'EALREADY' | 'EBUSY' | 'ENOLCK' | 'EPERM'; busyVolume?: string }
  | { type: 'waiting'; requestId: string; client: HolderView }
  | { type: 'released'; requestId: string | null; client: HolderView }
  | { type: 'waiterLeft'; client: HolderView };

/**
 * The system-wide reboot lock (SPEC §6): taken by a shutdown sequence once every volume is clean;
 * one waiter at most. While held, volume locks answer ENOLCK and no automatic rebuild starts.
 *
 * @example
 * reboot.send({ type: 'REBOOT_REQUESTED', requestId: 'r', client: { client: 2, name: 'shutdown' }, wait: true, busyVolume: null });
 */
export const rebootLockMachine = setup({
  types: {
    context: {} as RebootContext,
    events: {} as RebootEvent,
    emitted: {} as RebootEmitted,
  },
  guards: {
    allClean: ({ event }) => event.type === 'REBOOT_REQUESTED' && event.busyVolume === null,
    wantsToWait: ({ event }) => event.type === 'REBOOT_REQUESTED' && event.wait,
    isHolder: ({ context, event }) =>
      (event.type === 'UNLOCK_REQUESTED' || event.type === 'CLIENT_DIED') && context.holder?.client === event.client,
    isWaiter: ({ context, event }) => event.type === 'CLIENT_DIED' && context.waiter?.client === event.client,
  },
}).createMachine({
  id: 'rebootLock',
  description: 'The system-wide reboot lock.',
  context: { holder: null, waiter: null },
  initial: 'free',
  states: {
    free: {
      description: 'Nobody holds or waits for the reboot lock.',
      on: {
        REBOOT_REQUESTED: [
          {
            guard: 'allClean',
            target: 'held',
            description: 'Every volume is clean and unlocked: granted.',
            actions: [
              assign(({ event }) => ({ holder: event.client })),
              emit(({ event }) => ({ type: 'granted' as const, requestId: event.requestId, client: event.client })),
            ],
          },
          {
            guard: 'wantsToWait',
            target: 'waiting',
            description: 'Busy: become the single reboot waiter.',
            actions: [
              assign(({ event }) => ({ waiter: event.client })),
              emit(({ event }) => ({ type: 'waiting' as const, requestId: event.requestId, client: event.client })),
            ],
          },
          {
            description: 'Busy and the caller will not wait: EBUSY with busyVolume.',
            actions: emit(({ event }) => ({
              type: 'refused' as const,
              requestId: event.requestId,
              code: 'EBUSY' as const,
              busyVolume: event.busyVolume ?? undefined,
            })),
          },
        ],
        UNLOCK_REQUESTED: {
          description: 'Nothing held: ENOLCK.',
          actions: emit(({ event }) => ({ type: 'refused' as const, requestId: event.requestId, code: 'ENOLCK' as const })),
        },
      },
    },
    waiting: {
      description: 'One caller waits for every volume to become clean.',
      on: {
        VOLUMES_SETTLED: {
          target: 'held',
          description: 'Every volume is clean: the waiter gets the reboot lock.',
          actions: [
            emit(({ context }) => ({ type: 'granted' as const, requestId: null, client: context.waiter! })),
            assign(({ context }) => ({ holder: context.waiter, waiter: null })),
          ],
        },
        REBOOT_REQUESTED: {
          description: 'A second caller while one waits: EBUSY.',
          actions: emit(({ event }) => ({
            type: 'refused' as const,
            requestId: event.requestId,
            code: 'EBUSY' as const,
            busyVolume: event.busyVolume ?? undefined,
          })),
        },
        UNLOCK_REQUESTED: {
          description: 'Nothing held yet: ENOLCK.',
          actions: emit(({ event }) => ({ type: 'refused' as const, requestId: event.requestId, code: 'ENOLCK' as const })),
        },
        CLIENT_DIED: {
          guard: 'isWaiter',
          target: 'free',
          description: 'The waiter died: nobody waits any more.',
          actions: [
            emit(({ context }) => ({ type: 'waiterLeft' as const, client: context.waiter! })),
            assign({ waiter: null }),
          ],
        },
      },
    },
    held: {
      description: 'A shutdown holds it: volume locks answer ENOLCK, no automatic rebuilds.',
      on: {
        REBOOT_REQUESTED: {
          description: 'Someone already holds it: EALREADY (a shutdown may proceed).',
          actions: emit(({ event }) => ({ type: 'refused' as const, requestId: event.requestId, code: 'EALREADY' as const })),
        },
        UNLOCK_REQUESTED: [
          {
            guard: 'isHolder',
            target: 'free',
            description: 'unlock_reboot by the holder.',
            actions: [
              emit(({ context, event }) => ({ type: 'released' as const, requestId: event.requestId, client: context.holder! })),
              assign({ holder: null }),
            ],
          },
          {
            description: 'Not the holder: EPERM.',
            actions: emit(({ event }) => ({ type: 'refused' as const, requestId: event.requestId, code: 'EPERM' as const })),
          },
        ],
        CLIENT_DIED: {
          guard: 'isHolder',
          target: 'free',
          description: 'The holder died: released.',
          actions: [
            emit(({ context }) => ({ type: 'released' as const, requestId: null, client: context.holder! })),
            assign({ holder: null }),
          ],
        },
      },
    },
  },
});
