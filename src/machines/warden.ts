import { setup } from 'xstate';

/** Input of the warden root: how long to hold automatic checks after start (SPEC §13 `startupDelayMs`). */
export interface WardenInput {
  startupDelayMs: number;
}

export type WardenMachineEvent =
  | { type: 'ADAPTERS_READY' }
  | { type: 'STOP_REQUESTED' }
  | { type: 'HELPERS_STOPPED' };

/**
 * The warden's own lifecycle (SPEC §2): `starting → deferring → running → stopping → stopped`.
 * Volumes watch it: while it is `deferring` they remember changes without checking.
 *
 * @example
 * const actor = createActor(wardenMachine, { input: { startupDelayMs: 0 } }).start();
 * actor.send({ type: 'ADAPTERS_READY' }); // → running
 */
export const wardenMachine = setup({
  types: {
    context: {} as WardenInput,
    input: {} as WardenInput,
    events: {} as WardenMachineEvent,
  },
  delays: {
    startupDelay: ({ context }) => context.startupDelayMs,
  },
  guards: {
    hasStartupDelay: ({ context }) => context.startupDelayMs > 0,
  },
}).createMachine({
  id: 'warden',
  description: 'The daemon itself: holds every volume, lock, client and subscriber.',
  context: ({ input }) => ({ startupDelayMs: input.startupDelayMs }),
  initial: 'starting',
  states: {
    starting: {
      description: 'Loading volumes and opening adapters; lock requests are answered EAGAIN.',
      on: {
        ADAPTERS_READY: [
          { guard: 'hasStartupDelay', target: 'deferring', description: 'Volumes are loaded; wait out the startup delay.' },
          { target: 'running', description: 'Volumes are loaded; no startup delay configured.' },
        ],
        STOP_REQUESTED: { target: 'stopping', description: 'SIGTERM or stop() before start finished.' },
      },
    },
    deferring: {
      description: 'Startup delay: volumes remember changes but run no automatic checks.',
      after: { startupDelay: { target: 'running', description: 'The startup delay has passed.' } },
      on: { STOP_REQUESTED: { target: 'stopping', description: 'SIGTERM or stop() during the startup delay.' } },
    },
    running: {
      description: 'Normal operation: volumes settle, check and rebuild on their own.',
      on: { STOP_REQUESTED: { target: 'stopping', description: 'SIGTERM or stop().' } },
    },
    stopping: {
      description: 'No new connections; running helpers got SIGTERM and are given up to 10 s.',
      on: { HELPERS_STOPPED: { target: 'stopped', description: 'Every helper exited (or was killed) and counters are written.' } },
    },
    stopped: {
      type: 'final',
      description: 'Sockets closed and removed.',
    },
  },
});
