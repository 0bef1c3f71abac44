import { assign, emit, setup } from 'xstate';
import type { Rights } from '../protocol/types.js';

export interface ClientInput {
  id: number;
  rights: Rights;
  name?: string;
  pid?: number;
  /** `socket` for connections, `library` for in-process callers (SPEC §1 client). */
  via: 'socket' | 'library';
  /**
   * Status-socket connections only: closed after this long with no subscription and no request
   * in flight, so forgotten or hostile idle connections give their slot back (issue 17).
   */
  idleTimeoutMs?: number;
}

export type ClientContext = Required<Pick<ClientInput, 'id' | 'rights' | 'via'>> & {
  name: string;
  pid?: number;
  idleTimeoutMs?: number;
  /** Requests received and not answered yet (a deferred `can_unmount`). */
  inFlight: number;
  /** Subscriptions this client holds, zombies included. */
  subscriptions: number;
};

export type ClientEvent =
  | { type: 'HELLO_RECEIVED'; name?: string; pid?: number }
  | { type: 'REQUEST_STARTED' }
  | { type: 'REQUEST_FINISHED' }
  | { type: 'SUBSCRIPTIONS_CHANGED'; count: number }
  | { type: 'DISCONNECTED' };

/** What the machine tells its owner: time to close this connection. */
export type ClientEmitted = { type: 'idleTimedOut'; idleMs: number };

/** Longest delay a timer takes (2^31-1 ms, ~24.8 days): "never" for clients without an idle timeout. */
const NEVER_MS = 2_147_483_647;

/**
 * One client: a socket connection or an in-process caller. Its death (`DISCONNECTED`) is what
 * every lock, waiter, reboot lock and subscriber that references it reacts to (SPEC §5 Death).
 * A status-socket client with an `idleTimeoutMs` that holds no subscription and awaits no reply
 * for that long emits `idleTimedOut`; its owner then closes the connection.
 *
 * @example
 * const c = createActor(clientMachine, { input: { id: 7, rights: 'status', via: 'socket', idleTimeoutMs: 60_000 }, clock }).start();
 * c.on('idleTimedOut', () => connection.close({ id: 0, ret: 'ETIMEDOUT' }));
 */
export const clientMachine = setup({
  types: {
    context: {} as ClientContext,
    input: {} as ClientInput,
    events: {} as ClientEvent,
    emitted: {} as ClientEmitted,
  },
  delays: {
    idleTimeout: ({ context }) => context.idleTimeoutMs ?? NEVER_MS,
  },
  guards: {
    idle: ({ context }) => context.idleTimeoutMs !== undefined && context.inFlight === 0 && context.subscriptions === 0,
  },
}).createMachine({
  id: 'client',
  description: 'A connection to the daemon, or an in-process caller.',
  context: ({ input }) => ({
    id: input.id,
    rights: input.rights,
    via: input.via,
    name: input.name ?? `client-${input.id}`,
    pid: input.pid,
    idleTimeoutMs: input.idleTimeoutMs,
    inFlight: 0,
    subscriptions: 0,
  }),
  initial: 'connected',
  states: {
    connected: {
      description: 'Alive: may hold locks, wait, and subscribe. Any activity restarts the idle timer.',
      after: {
        idleTimeout: {
          guard: 'idle',
          description: 'A status-socket client with nothing to wait for stayed silent for idleTimeoutMs: its connection is closed.',
          actions: emit(({ context }) => ({ type: 'idleTimedOut' as const, idleMs: context.idleTimeoutMs ?? NEVER_MS })),
        },
      },
      on: {
        HELLO_RECEIVED: {
          description: 'The client introduced itself.',
          actions: assign(({ context, event }) => ({ name: event.name ?? context.name, pid: event.pid ?? context.pid })),
        },
        REQUEST_STARTED: {
          target: 'connected',
          reenter: true,
          description: 'A request arrived: the idle timer starts over.',
          actions: assign({ inFlight: ({ context }) => context.inFlight + 1 }),
        },
        REQUEST_FINISHED: {
          target: 'connected',
          reenter: true,
          description: 'A request was answered: the idle timer starts over.',
          actions: assign({ inFlight: ({ context }) => Math.max(0, context.inFlight - 1) }),
        },
        SUBSCRIPTIONS_CHANGED: {
          target: 'connected',
          reenter: true,
          description: 'It subscribed or a subscription ended: a subscriber is never idle.',
          actions: assign({ subscriptions: ({ event }) => event.count }),
        },
        DISCONNECTED: { target: 'dead', description: 'Connection closed (or lease dropped): its locks and waits are released.' },
      },
    },
    dead: { type: 'final', description: 'Gone; everything it held was handed on.' },
  },
});
