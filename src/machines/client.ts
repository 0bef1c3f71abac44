import { assign, setup } from 'xstate';
import type { Rights } from '../protocol/types.js';

export interface ClientInput {
  id: number;
  rights: Rights;
  name?: string;
  pid?: number;
  /** `socket` for connections, `library` for in-process callers (SPEC §1 client). */
  via: 'socket' | 'library';
}

export type ClientContext = Required<Pick<ClientInput, 'id' | 'rights' | 'via'>> & { name: string; pid?: number };

export type ClientEvent =
  | { type: 'HELLO_RECEIVED'; name?: string; pid?: number }
  | { type: 'DISCONNECTED' };

/**
 * One client: a socket connection or an in-process caller. Its death (`DISCONNECTED`) is what
 * every lock, waiter, reboot lock and subscriber that references it reacts to (SPEC §5 Death).
 *
 * @example
 * const c = createActor(clientMachine, { input: { id: 7, rights: 'control', via: 'socket' } }).start();
 */
export const clientMachine = setup({
  types: {
    context: {} as ClientContext,
    input: {} as ClientInput,
    events: {} as ClientEvent,
  },
}).createMachine({
  id: 'client',
  description: 'A connection to the daemon, or an in-process caller.',
  context: ({ input }) => ({ id: input.id, rights: input.rights, via: input.via, name: input.name ?? `client-${input.id}`, pid: input.pid }),
  initial: 'connected',
  states: {
    connected: {
      description: 'Alive: may hold locks, wait, and subscribe.',
      on: {
        HELLO_RECEIVED: {
          description: 'The client introduced itself.',
          actions: assign(({ context, event }) => ({ name: event.name ?? context.name, pid: event.pid ?? context.pid })),
        },
        DISCONNECTED: { target: 'dead', description: 'Connection closed (or lease dropped): its locks and waits are released.' },
      },
    },
    dead: { type: 'final', description: 'Gone; everything it held was handed on.' },
  },
});
