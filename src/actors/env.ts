import type { InspectionEvent, Observer } from 'xstate';
import type { Clock } from '../adapters/types.js';

/** Limits a warden enforces (SPEC §13 defaults; the socket budgets are issue 17's). */
export interface Limits {
  maxWaiters: number;
  /** Connections on the control socket (SPEC §10's `EMFILE`). */
  maxClients: number;
  /** Connections on the status socket, a budget of its own (default: `maxClients`). */
  maxStatusClients?: number;
  /** Subscriptions per volume (and for `"*"`) from each socket: status subscribers never take control clients' slots. */
  maxSubscribers: number;
  maxQueuedEvents: number;
  maxFrameBytes: number;
  ackTimeoutMs: number;
  /** A status-socket connection with no subscription and no request in flight is closed after this long. */
  statusIdleTimeoutMs: number;
  /** Unread replies one connection may leave before the next reply closes it. */
  maxClientBufferBytes: number;
  /** Unfinished lines plus unread replies of all connections of one socket together. */
  maxSocketBufferBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxWaiters: 10_000,
  maxClients: 1024,
  maxSubscribers: 8,
  maxQueuedEvents: 10_000,
  maxFrameBytes: 65_536,
  ackTimeoutMs: 2000,
  statusIdleTimeoutMs: 60_000,
  maxClientBufferBytes: 1024 * 1024,
  maxSocketBufferBytes: 64 * 1024 * 1024,
};

/**
 * How many connections the status socket takes.
 *
 * @example
 * statusClientLimit({ ...DEFAULT_LIMITS, maxClients: 64 });  // 64
 */
export function statusClientLimit(limits: Limits): number {
  return limits.maxStatusClients ?? limits.maxClients;
}

/** A minimal structured logger (pino satisfies it). */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };

/** What every actor of one warden shares: its clock, its inspector, its limits, its log. */
export interface ActorEnv {
  clock: Clock;
  inspect: ((event: InspectionEvent) => void) | undefined;
  limits: Limits;
  log: Logger;
}

/** Accepts an xstate inspection observer in either form (function or `{ next }`), or several. */
export function combineInspectors(
  ...inspectors: Array<((event: InspectionEvent) => void) | Observer<InspectionEvent> | undefined>
): ((event: InspectionEvent) => void) | undefined {
  const fns = inspectors
    .filter((i): i is NonNullable<typeof i> => i !== undefined)
    .map((i) => (typeof i === 'function' ? i : (event: InspectionEvent) => i.next?.(event)));
  if (fns.length === 0) return undefined;
  return (event) => {
    for (const fn of fns) {
      try {
        fn(event);
      } catch {
        // An inspector must never break the warden it watches.
      }
    }
  };
}
