import { describe, expect, it } from 'vitest';
import { createActor, type AnyEventObject } from 'xstate';
import { getShortestPaths, getSimplePaths } from 'xstate/graph';
import { simulatedClock } from '../../src/adapters/clock.js';
import { wardenMachine } from '../../src/machines/warden.js';

type Snap = ReturnType<typeof wardenMachine.transition>;
const ORDER = ['starting', 'deferring', 'running', 'stopping', 'stopped'];

function eventsFor(snapshot: Snap): AnyEventObject[] {
  if (snapshot.status !== 'active') return [];
  const events: AnyEventObject[] = [{ type: 'ADAPTERS_READY' }, { type: 'STOP_REQUESTED' }, { type: 'HELPERS_STOPPED' }];
  if (snapshot.value === 'deferring') events.push({ type: 'xstate.after.startupDelay.warden.deferring' });
  return events;
}

/** Replays a graph path against a real warden actor on a simulated clock. */
function replay(steps: Array<{ event: AnyEventObject; state: Snap }>, startupDelayMs: number): void {
  const clock = simulatedClock();
  const actor = createActor(wardenMachine, { clock, input: { startupDelayMs } }).start();
  for (const step of steps) {
    if (step.event.type === 'xstate.init') continue;
    const before = ORDER.indexOf(String(actor.getSnapshot().value));
    if (step.event.type.startsWith('xstate.after.')) clock.advance(startupDelayMs);
    else actor.send(step.event as never);
    const after = actor.getSnapshot();
    expect(after.value).toBe(step.state.value);
    // The lifecycle only ever moves forward, and stopped is final.
    expect(ORDER.indexOf(String(after.value))).toBeGreaterThanOrEqual(before);
    if (after.value === 'stopped') expect(after.status).toBe('done');
  }
}

describe('warden machine (model-based)', () => {
  for (const startupDelayMs of [0, 250]) {
    it(`walks every shortest and simple path on a simulated clock (startupDelayMs ${startupDelayMs})`, () => {
      const options = { events: eventsFor as never, input: { startupDelayMs } };
      const shortest = getShortestPaths(wardenMachine, options);
      const simple = getSimplePaths(wardenMachine, options);
      const reached = new Set<string>();
      for (const path of [...shortest, ...simple]) {
        replay(path.steps as never, startupDelayMs);
        reached.add(String(path.state.value));
      }
      const expected = startupDelayMs > 0 ? ORDER : ORDER.filter((s) => s !== 'deferring');
      expect([...reached].sort()).toEqual([...expected].sort());
    });
  }

  it('does not leave deferring before the startup delay has passed', () => {
    const clock = simulatedClock();
    const actor = createActor(wardenMachine, { clock, input: { startupDelayMs: 1000 } }).start();
    actor.send({ type: 'ADAPTERS_READY' });
    clock.advance(999);
    expect(actor.getSnapshot().value).toBe('deferring');
    clock.advance(1);
    expect(actor.getSnapshot().value).toBe('running');
  });
});
