import { createActor, createMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { simulatedClock, systemClock } from '../../src/adapters/clock.js';

describe('simulatedClock', () => {
  it('starts at the given instant and only moves when advanced', () => {
    const clock = simulatedClock(1_000);
    expect(clock.now()).toBe(1_000);
    clock.advance(250);
    expect(clock.now()).toBe(1_250);
  });

  it('fires timers when time passes their deadline, in deadline order', () => {
    const clock = simulatedClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('late'), 300);
    clock.setTimeout(() => fired.push('early'), 100);
    const cancelled = clock.setTimeout(() => fired.push('cancelled'), 200);
    clock.clearTimeout(cancelled);
    clock.advance(99);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual(['early']);
    clock.advance(1_000);
    expect(fired).toEqual(['early', 'late']);
  });

  it('fires a self-rearming timer once per period even when time jumps far ahead', () => {
    const clock = simulatedClock();
    const ticks: number[] = [];
    const tick = () => {
      ticks.push(clock.now());
      clock.setTimeout(tick, 1_000);
    };
    clock.setTimeout(tick, 1_000);
    clock.advance(5_500);
    expect(ticks).toEqual([1_000, 2_000, 3_000, 4_000, 5_000]);
    expect(clock.now()).toBe(5_500);
  });

  it('refuses to go back in time', () => {
    const clock = simulatedClock(100);
    expect(() => clock.set(50)).toThrow(RangeError);
  });

  it('drives an XState actor’s delayed transitions', () => {
    const clock = simulatedClock();
    const machine = createMachine({ initial: 'settling', states: { settling: { after: { 5000: 'checking' } }, checking: {} } });
    const actor = createActor(machine, { clock }).start();
    clock.advance(4_999);
    expect(actor.getSnapshot().value).toBe('settling');
    clock.advance(1);
    expect(actor.getSnapshot().value).toBe('checking');
  });
});

describe('systemClock', () => {
  it('reads the wall clock and runs real timers', async () => {
    const clock = systemClock();
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(1_000);
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 1));
    let fired = false;
    clock.clearTimeout(clock.setTimeout(() => (fired = true), 1));
    await new Promise((r) => setTimeout(r, 20));
    expect(fired).toBe(false);
  });
});
