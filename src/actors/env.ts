import type { InspectionEvent, Observer } from 'xstate';
import type { Clock } from '../adapters/types.js';

/** Limits a warden enforces (SPEC §13 defaults). */
export interface Limits {
  maxWaiters: number;
  maxClients: number;
  maxSubscribers: number;
  maxQueuedEvents: number;
  maxFrameBytes: number;
  ackTimeoutMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxWaiters: 10_000,
  maxClients: 1024,
  maxSubscribers: 8,
  maxQueuedEvents: 10_000,
  maxFrameBytes: 65_536,
  ackTimeoutMs: 2000,
};

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
