/**
 * Runs schedules in the simulated world: one schedule (optionally recording a visualizer trace),
 * or one seed — a schedule fast-check generates from the seed and, when it breaks an invariant,
 * shrinks to a short one that still does, replays with a trace and reports.
 */
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { InspectionHub } from '../../src/inspect/hub.js';
import {
  clientMachine,
  lockMachine,
  rebootLockMachine,
  volumeMachine,
  waiterMachine,
  wardenMachine,
} from '../../src/machines/index.js';
import { subscriberMachine } from '../../src/machines/subscriber.js';
import type { Violation } from './invariants.js';
import { formatSchedule, scheduleArb, type Step } from './schedule.js';
import { World } from './world.js';

/** What one schedule did. */
export interface RunResult {
  steps: number;
  restarts: number;
  violations: Violation[];
  /**
   * Events xstate dropped because their actor had stopped (`EVENT→actor kind`): not violations
   * by themselves (a volume that went, a warden that stopped), but worth a look when they pile up.
   */
  sentToStopped: string[];
}

/** What one seed did; `report` is empty when every invariant held. */
export interface SeedResult extends RunResult {
  seed: number;
  shrunk?: Step[];
  shrunkViolations?: Violation[];
  tracePath?: string;
  report: string;
}

/** Shrinking stops after this many replays (the smallest failing schedule so far is kept). */
const MAX_SHRINK_RUNS = 400;

/**
 * Runs one schedule from boot to rest and shutdown, stopping at the first step that breaks an
 * invariant. With `tracePath`, every inspection record is written there as JSONL.
 *
 * @example
 * const result = await runSchedule([{ kind: 'lock', slot: 0, vol: 0, wait: true }, { kind: 'advance', ms: 500 }]);
 * expect(result.violations).toEqual([]);
 */
export async function runSchedule(schedule: readonly Step[], options: { tracePath?: string } = {}): Promise<RunResult> {
  let hub: InspectionHub | undefined;
  const world = new World({ inspect: (event) => hub?.observer(event) });
  if (options.tracePath) {
    hub = new InspectionHub({
      clock: {
        now: () => world.clock.now(),
        setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
        clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
      },
    });
    for (const machine of [wardenMachine, volumeMachine, lockMachine, waiterMachine, clientMachine, rebootLockMachine, subscriberMachine]) {
      hub.registerMachine(machine);
    }
  }
  const recorder = hub && options.tracePath ? await hub.record(options.tracePath) : undefined;
  const { invariants } = world;
  const sentToStopped: string[] = [];
  const warn = console.warn;
  // xstate's development build warns on every event sent to a stopped actor: collect, don't print.
  console.warn = (...args: unknown[]) => {
    const match = typeof args[0] === 'string' ? /^Event "([^"]+)" was sent to stopped actor "([^:( ]+)/.exec(args[0]) : null;
    if (match) sentToStopped.push(`${match[1]}→${match[2]}`);
    else warn(...args);
  };
  try {
    await world.boot();
    for (const step of schedule) {
      await world.apply(step);
      if (invariants.violations.length > 0) break;
    }
    if (invariants.violations.length === 0) await world.drain();
  } catch (error) {
    invariants.fail(`the simulation threw: ${error instanceof Error ? error.stack : String(error)}`);
  } finally {
    try {
      await world.shutdown();
    } catch (error) {
      invariants.fail(`stopping the warden threw: ${String(error)}`);
    }
    await recorder?.close();
    await hub?.close();
    console.warn = warn;
  }
  return { steps: world.steps, restarts: world.restarts, violations: invariants.violations, sentToStopped };
}

/**
 * Generates a schedule of at most `maxSteps` steps from `seed` and runs it; on a violation,
 * shrinks it, replays the shrunk schedule with a trace under the OS temp dir and explains.
 *
 * @example
 * const result = await runSeed(42, 120);
 * if (result.report) console.error(result.report);
 */
export async function runSeed(seed: number, maxSteps: number): Promise<SeedResult> {
  let first: RunResult | undefined;
  let runs = 0;
  const property = fc.asyncProperty(scheduleArb(maxSteps), async (schedule) => {
    runs += 1;
    // Past the shrink budget every candidate "passes", so the smallest failure so far is kept.
    if (first !== undefined && runs > MAX_SHRINK_RUNS) return true;
    const result = await runSchedule(schedule);
    first ??= result;
    return result.violations.length === 0;
  });
  const details = await fc.check(property, { seed, numRuns: 1 });
  const original = first!;
  if (!details.failed || !details.counterexample) return { seed, ...original, report: '' };
  const shrunk = details.counterexample[0] as Step[];
  const tracePath = path.join(os.tmpdir(), `volwarden-sim-seed-${seed}.jsonl`);
  const replay = await runSchedule(shrunk, { tracePath });
  const report = [
    `sim: seed ${seed} broke an invariant after ${original.steps} steps`,
    ...original.violations.map((v) => `  step ${v.step}: ${v.message}`),
    `shrunk schedule (${shrunk.length} steps, ${runs - 1} shrink runs):`,
    '[',
    formatSchedule(shrunk),
    ']',
    'violations of the shrunk schedule:',
    ...(replay.violations.length > 0 ? replay.violations.map((v) => `  step ${v.step}: ${v.message}`) : ['  (none on replay: the failure depends on more than the schedule)']),
    `trace (load it in the visualizer): ${tracePath}`,
  ].join('\n');
  return { seed, ...original, shrunk, shrunkViolations: replay.violations, tracePath, report };
}
