import { assign, setup } from 'xstate';

/**
 * A small volume-like machine for the visualizer's tests: nested states, a delayed transition,
 * a guard, a targetless handler, a root-level transition and a final state, all described.
 */
export const demoVolumeMachine = setup({
  types: {
    context: {} as { id: string; root: string; checks: number },
    input: {} as { id: string; root: string },
    events: {} as { type: 'CHANGE' } | { type: 'CHECKED'; stale: boolean } | { type: 'PING' } | { type: 'REMOVE' },
  },
  guards: {
    isStale: ({ event }) => event.type === 'CHECKED' && event.stale,
  },
}).createMachine({
  id: 'volume',
  description: 'A demo volume',
  context: ({ input }) => ({ id: input.id, root: input.root, checks: 0 }),
  initial: 'idle',
  on: {
    REMOVE: { target: '.gone', description: 'The volume disappeared' },
  },
  states: {
    idle: {
      description: 'Caches are fresh; waiting for changes',
      on: {
        CHANGE: { target: 'busy', description: 'A file under the root changed' },
        PING: { description: 'Answers a liveness ping' },
      },
    },
    busy: {
      description: 'Something is happening on the volume',
      initial: 'settling',
      states: {
        settling: {
          description: 'Waiting for changes to settle',
          after: { 60000: { target: 'checking', description: 'Quiet long enough' } },
          on: { CHANGE: { target: 'settling', reenter: true } },
        },
        checking: {
          description: 'Comparing caches with their sources',
          entry: assign({ checks: ({ context }) => context.checks + 1 }),
          on: {
            CHECKED: [
              { guard: 'isStale', target: 'settling', description: 'Stale: settle again' },
              { target: '#volume.idle', description: 'Fresh' },
            ],
          },
        },
      },
    },
    gone: { type: 'final', description: 'The volume is gone' },
  },
});

/** Another machine, so grouping by kind has more than one group. */
export const demoLockMachine = setup({
  types: { events: {} as { type: 'LOCK' } | { type: 'UNLOCK' } },
}).createMachine({
  id: 'lock',
  initial: 'unlocked',
  states: {
    unlocked: { description: 'Nobody holds the lock', on: { LOCK: 'locked' } },
    locked: { description: 'A client holds the lock', on: { UNLOCK: 'unlocked' } },
  },
});
