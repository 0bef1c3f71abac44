import { describe, expect, it } from 'vitest';
import { createActor, createMachine } from 'xstate';
import { actorKind, summarizeContext } from '../../src/inspect/actor-summary.js';

describe('actorKind', () => {
  it('groups by machine id', () => {
    expect(actorKind('warden', 'warden')).toBe('warden');
    expect(actorKind('rebootLock', 'rebootLock')).toBe('reboot');
    expect(actorKind('subscriber', 'subscriber:3:1')).toBe('subscriber');
  });

  it('falls back to the actor id prefix, then to other', () => {
    expect(actorKind('demo', 'volume:path:/x')).toBe('volume');
    expect(actorKind(null, 'waiter:path:/x:2')).toBe('waiter');
    expect(actorKind(null, 'fsWatch')).toBe('other');
  });
});

describe('summarizeContext', () => {
  it('keeps small JSON-safe fields', () => {
    expect(summarizeContext({ id: 'path:/x', root: '/x', holder: { client: 3, owner: 'make' }, waiters: 2, stale: null }))
      .toEqual({ id: 'path:/x', root: '/x', holder: { client: 3, owner: 'make' }, waiters: 2, stale: null });
  });

  it('replaces actor refs by their id and collections by their size', () => {
    const ref = createActor(createMachine({})).start();
    const summary = summarizeContext({ watcher: ref, queue: new Map([[1, 2]]), list: Array.from({ length: 50 }, (_, i) => i) });
    expect(summary).toEqual({ watcher: `actor:${ref.id}`, queue: '[1 entries]', list: '[50 items]' });
  });

  it('drops functions, class instances, big values and survives cycles', () => {
    const cyclic: Record<string, unknown> = { name: 'c' };
    cyclic.self = cyclic;
    const summary = summarizeContext({ fn: () => 1, buf: Buffer.alloc(10), big: { a: 'x'.repeat(190), b: 'y'.repeat(190) }, cyclic, long: 'z'.repeat(500) });
    expect(Object.keys(summary).sort()).toEqual(['cyclic', 'long']);
    expect(summary.long).toHaveLength(201);
    expect(() => JSON.stringify(summary)).not.toThrow();
  });

  it('returns an empty object for a missing context', () => {
    expect(summarizeContext(undefined)).toEqual({});
  });
});
