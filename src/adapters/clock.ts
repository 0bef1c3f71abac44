/**
 * Time as an adapter (STYLE: "time is always an event"). The real clock wraps the global timers;
 * the simulated one is XState's own `SimulatedClock`, so one object drives both the machines
 * (`createActor(machine, { clock })`) and the adapters that schedule timeouts.
 */
import { SimulatedClock } from 'xstate';
import type { Clock } from './types.js';

/** A clock a test moves by hand; timers fire in deadline order as time passes over them. */
export type ManualClock = SimulatedClock & {
  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void;
  /** Moves time forward to the absolute instant `ms` (never backwards). */
  set(ms: number): void;
};

const MAX_STEPS = 1_000_000;

interface PendingTimer {
  start: number;
  timeout: number;
}

/**
 * The wall clock. Timers are ordinary (not unref'd): a pending settle timer keeps the daemon alive.
 *
 * @example
 * const warden = createWarden({ adapters: { clock: systemClock(), ... } });
 */
export function systemClock(): Clock {
  return {
    now: () => Date.now(),
    setTimeout: (fn: (...args: any[]) => void, ms: number) => setTimeout(fn, ms),
    clearTimeout: (id: any) => clearTimeout(id),
  };
}

/**
 * A simulated clock starting at `startMs`, so every timing test runs without real waiting.
 *
 * Unlike XState's bare `increment`, `advance` steps through each deadline in turn, so a timer
 * that re-arms itself (a 1 s pid poll) fires once per period even when time jumps by 10 s.
 *
 * @example
 * const clock = simulatedClock();
 * const actor = createActor(volumeMachine, { clock }).start();
 * clock.advance(5_000); // the settle timer fires
 */
export function simulatedClock(startMs = 0): ManualClock {
  const clock = new SimulatedClock() as ManualClock;
  const jumpTo = SimulatedClock.prototype.set.bind(clock);
  if (startMs > 0) jumpTo(startMs);

  // The deadline of the earliest timer due at or before `target`, if any.
  const nextDeadline = (target: number): number | undefined => {
    const timers = (clock as unknown as { timeouts?: Map<number, PendingTimer> }).timeouts;
    if (!timers) return undefined;
    let next: number | undefined;
    for (const timer of timers.values()) {
      const due = timer.start + timer.timeout;
      if (due <= target && (next === undefined || due < next)) next = due;
    }
    return next;
  };

  const stepTo = (target: number): void => {
    if (target < clock.now()) throw new RangeError(`simulated clock cannot go back from ${clock.now()} to ${target}`);
    let steps = 0;
    for (let due = nextDeadline(target); due !== undefined; due = nextDeadline(target)) {
      // A zero-delay timer that re-arms itself forever would otherwise hang the test silently.
      if (++steps > MAX_STEPS) throw new RangeError(`simulated clock: more than ${MAX_STEPS} timers fired in one advance`);
      jumpTo(Math.max(due, clock.now()));
    }
    jumpTo(target);
  };

  clock.advance = (ms: number) => stepTo(clock.now() + ms);
  clock.set = stepTo;
  return clock;
}
