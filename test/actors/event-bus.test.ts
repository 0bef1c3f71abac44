import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { EventBus } from '../../src/actors/event-bus.js';
import type { WardenEvent } from '../../src/protocol/events.js';

function setup() {
  const clock = new SimulatedClock();
  clock.set(1_700_000_000_000);
  const errors: unknown[] = [];
  const bus = new EventBus({ clock, onSinkError: (err) => errors.push(err) });
  return { clock, bus, errors };
}

describe('EventBus', () => {
  it('stamps n strictly increasing from 1 and ts from the clock', () => {
    const { clock, bus } = setup();
    const first = bus.publish({ type: 'volume.appeared', volume: 'path:/data' });
    clock.increment(5);
    const second = bus.publish({ type: 'volume.changed', volume: 'path:/data', paths: ['a.txt'] });
    expect(first).toEqual({ type: 'volume.appeared', volume: 'path:/data', n: 1, ts: 1_700_000_000_000 });
    expect(second).toMatchObject({ n: 2, ts: 1_700_000_000_005, paths: ['a.txt'] });
  });

  it('numbers each bus on its own, so two wardens in one process do not interfere', () => {
    const a = setup().bus;
    const b = setup().bus;
    a.publish({ type: 'volume.ready', volume: 'x' });
    expect(b.publish({ type: 'volume.ready', volume: 'y' }).n).toBe(1);
  });

  it('delivers to sinks at once and to events$ subscribers after the publishing step, both in publish order', async () => {
    const { bus } = setup();
    const order: string[] = [];
    bus.addSink((ev) => order.push(`sink ${ev.n}`));
    bus.events$.subscribe((ev) => order.push(`rx ${ev.n}`));
    bus.publish({ type: 'volume.ready', volume: 'x' });
    bus.publish({ type: 'volume.gone', volume: 'x' });
    order.push('step done');
    await Promise.resolve();
    expect(order).toEqual(['sink 1', 'sink 2', 'step done', 'rx 1', 'rx 2']);
  });

  it('is hot: a late subscriber sees only later events, even those published in the same step', async () => {
    const { bus } = setup();
    bus.publish({ type: 'volume.ready', volume: 'x' });
    const seen: number[] = [];
    bus.events$.subscribe((ev) => seen.push(ev.n));
    bus.publish({ type: 'volume.ready', volume: 'x' });
    await Promise.resolve();
    expect(seen).toEqual([2]);
  });

  it('never waits for a slow subscriber: the publishing step finishes before it runs', async () => {
    const { bus } = setup();
    let stepFinishedAt = 0;
    let subscriberStartedAt = 0;
    bus.events$.subscribe(() => {
      subscriberStartedAt ||= performance.now();
      const until = performance.now() + 20;
      while (performance.now() < until); // a CPU-bound embedder
    });
    for (let i = 0; i < 5; i++) bus.publish({ type: 'volume.ready', volume: 'x' });
    stepFinishedAt = performance.now();
    await Promise.resolve();
    expect(subscriberStartedAt).toBeGreaterThanOrEqual(stepFinishedAt);
  });

  it('isolates a throwing subscriber: publish and the other subscribers carry on', async () => {
    const { bus, errors } = setup();
    const seen: number[] = [];
    bus.events$.subscribe(() => {
      throw new Error('embedder bug');
    });
    bus.events$.subscribe({
      next() {
        throw new Error('observer bug');
      },
    });
    bus.events$.subscribe((ev) => seen.push(ev.n));
    expect(() => bus.publish({ type: 'volume.ready', volume: 'x' })).not.toThrow();
    bus.publish({ type: 'volume.ready', volume: 'x' });
    await Promise.resolve();
    expect(seen).toEqual([1, 2]);
    expect(errors.map((e) => (e as Error).message)).toEqual(['embedder bug', 'observer bug', 'embedder bug', 'observer bug']);
  });

  it('isolates an error thrown inside an embedder’s operator chain', async () => {
    const { bus, errors } = setup();
    const seen: WardenEvent['type'][] = [];
    bus.events$
      .pipe(
        map((ev) => {
          if (ev.n === 1) throw new Error('operator bug');
          return ev;
        }),
      )
      .subscribe(() => {});
    bus.events$.pipe(map((ev) => ev.type)).subscribe((type) => seen.push(type));
    bus.publish({ type: 'volume.ready', volume: 'x' });
    bus.publish({ type: 'volume.gone', volume: 'x' });
    await Promise.resolve();
    expect(seen).toEqual(['volume.ready', 'volume.gone']);
    expect(errors.map((e) => (e as Error).message)).toEqual(['operator bug']);
  });

  it('isolates a throwing sink from the warden and from events$ subscribers', async () => {
    const { bus, errors } = setup();
    const seen: number[] = [];
    bus.addSink(() => {
      throw new Error('sink bug');
    });
    bus.events$.subscribe((ev) => seen.push(ev.n));
    expect(() => bus.publish({ type: 'volume.ready', volume: 'x' })).not.toThrow();
    await Promise.resolve();
    expect(seen).toEqual([1]);
    expect(errors).toHaveLength(1);
  });

  it('stops delivering to a removed sink', () => {
    const { bus } = setup();
    const seen: number[] = [];
    const remove = bus.addSink((ev) => seen.push(ev.n));
    bus.publish({ type: 'volume.ready', volume: 'x' });
    remove();
    bus.publish({ type: 'volume.ready', volume: 'x' });
    expect(seen).toEqual([1]);
  });

  it('completes events$ on complete(), after what was published before; later events are stamped but go nowhere', () => {
    const { bus } = setup();
    let completed = false;
    const seen: number[] = [];
    bus.events$.subscribe({ next: (ev) => seen.push(ev.n), complete: () => (completed = true) });
    bus.publish({ type: 'volume.ready', volume: 'x' });
    bus.complete();
    expect(completed).toBe(true);
    expect(bus.publish({ type: 'volume.ready', volume: 'x' }).n).toBe(2);
    expect(seen).toEqual([1]);
  });
});
