import { describe, expect, it } from 'vitest';
import type { ActorInfo } from '../../src/inspect/records.js';
import { activePaths, stateText } from '../../visualizer/src/active-states.js';
import { eventLabel, eventName } from '../../visualizer/src/event-label.js';
import { applyRecord, emptyView, filterLog, findActor, groupActors } from '../../visualizer/src/view-state.js';

const info = (sessionId: string, id: string, kind: ActorInfo['kind'], extra: Partial<ActorInfo> = {}): ActorInfo => ({
  sessionId, id, kind, machineId: kind, parent: null, state: 'idle', status: 'active', context: {}, ...extra,
});

describe('view state', () => {
  it('groups actors by kind in the page order, sorted by id', () => {
    const view = emptyView();
    applyRecord(view, { kind: 'actors', t: 0, actors: [
      info('1', 'volume:path:/b', 'volume'), info('2', 'warden', 'warden'), info('3', 'volume:path:/a', 'volume'),
      info('4', 'fsWatch', 'other', { machineId: null }), info('5', 'rebootLock', 'reboot'), info('6', 'client:1', 'client'),
    ] });
    expect(groupActors(view).map((g) => [g.title, g.actors.map((a) => a.id)])).toEqual([
      ['Warden', ['warden']],
      ['Volumes', ['volume:path:/a', 'volume:path:/b']],
      ['Clients', ['client:1']],
      ['Reboot lock', ['rebootLock']],
      ['Other actors', ['fsWatch']],
    ]);
  });

  it('sorts ids with their numbers as numbers, so clients and a volume\'s waiters come in order', () => {
    const view = emptyView();
    applyRecord(view, { kind: 'actors', t: 0, actors: [
      info('1', 'client:10', 'client'), info('2', 'client:7', 'client'), info('3', 'client:1', 'client'),
      info('4', 'waiter:path:/v#12', 'waiter'), info('5', 'waiter:path:/v#3', 'waiter'), info('6', 'waiter:path:/v#100', 'waiter'),
    ] });
    expect(groupActors(view).map((g) => g.actors.map((a) => a.id))).toEqual([
      ['waiter:path:/v#3', 'waiter:path:/v#12', 'waiter:path:/v#100'],
      ['client:1', 'client:7', 'client:10'],
    ]);
  });

  it('lists an actor of a kind it does not know under other actors', () => {
    const view = emptyView();
    applyRecord(view, { kind: 'actors', t: 0, actors: [
      info('1', 'gizmo:1', 'gizmo' as ActorInfo['kind'], { machineId: null }), info('2', 'fsWatch', 'other', { machineId: null }),
    ] });
    expect(groupActors(view).map((g) => [g.title, g.actors.map((a) => a.id)])).toEqual([['Other actors', ['fsWatch', 'gizmo:1']]]);
  });

  it('applies actor updates and removals by session id', () => {
    const view = emptyView();
    applyRecord(view, { kind: 'actor', t: 1, actor: info('1', 'lock:a', 'lock') });
    applyRecord(view, { kind: 'actor', t: 2, actor: info('1', 'lock:a', 'lock', { state: 'locked' }) });
    expect(findActor(view, 'lock:a')?.state).toBe('locked');
    applyRecord(view, { kind: 'removed', t: 3, sessionId: '1', id: 'lock:a' });
    expect(findActor(view, 'lock:a')).toBeUndefined();
    expect(view.t).toBe(3);
  });

  it('prefers the live instance of an actor id over one in its grace period', () => {
    const view = emptyView();
    applyRecord(view, { kind: 'actor', t: 1, actor: info('1', 'client:1', 'client', { status: 'stopped', state: 'dead' }) });
    applyRecord(view, { kind: 'actor', t: 2, actor: info('2', 'client:1', 'client') });
    expect(findActor(view, 'client:1')?.sessionId).toBe('2');
  });

  it('keeps the log bounded', () => {
    const view = emptyView();
    for (let i = 0; i < 100; i += 1) applyRecord(view, { kind: 'event', t: i, type: 'E', source: null, target: 'x' }, 10);
    expect(view.log.length).toBeLessThanOrEqual(13);
    expect(view.log.at(-1)?.t).toBe(99);
  });

  it('filters the log by source or target actor', () => {
    const log = [
      { kind: 'event' as const, t: 1, type: 'A', source: 'client:1', target: 'lock:v' },
      { kind: 'event' as const, t: 2, type: 'B', source: null, target: 'volume:v' },
    ];
    expect(filterLog(log, 'client:1').map((e) => e.type)).toEqual(['A']);
    expect(filterLog(log, 'volume:v').map((e) => e.type)).toEqual(['B']);
    expect(filterLog(log, '  ')).toHaveLength(2);
  });

  it('matches a whole actor id exactly, so client:1 leaves out client:10', () => {
    const log = [
      { kind: 'event' as const, t: 1, type: 'A', source: 'client:1', target: 'lock:v' },
      { kind: 'event' as const, t: 2, type: 'B', source: 'client:10', target: 'lock:v' },
      { kind: 'event' as const, t: 3, type: 'C', source: null, target: 'client:10' },
    ];
    expect(filterLog(log, 'client:1', new Set(['client:1', 'client:10'])).map((e) => e.type)).toEqual(['A']);
    // An id only the log knows (its actor is gone) is still matched whole.
    expect(filterLog(log, 'client:1').map((e) => e.type)).toEqual(['A']);
    // Any other text is a substring match.
    expect(filterLog(log, 'client:', new Set(['client:1'])).map((e) => e.type)).toEqual(['A', 'B', 'C']);
    expect(filterLog(log, 'lock', new Set(['lock:v'])).map((e) => e.type)).toEqual(['A', 'B']);
  });

  it('keeps notes about dropped records', () => {
    const view = emptyView();
    applyRecord(view, { kind: 'dropped', t: 1, count: 3, reason: 'the trace writer fell behind' });
    expect(view.notes).toEqual(['3 record(s) missing: the trace writer fell behind']);
  });
});

describe('state values', () => {
  it('lists every active path of nested and parallel values', () => {
    expect([...activePaths('idle')]).toEqual(['idle']);
    expect([...activePaths({ busy: 'rebuilding' })]).toEqual(['busy', 'busy.rebuilding']);
    expect([...activePaths({ p: { a: 'x', b: 'y' } })]).toEqual(['p', 'p.a', 'p.a.x', 'p.b', 'p.b.y']);
    expect([...activePaths(null)]).toEqual([]);
  });

  it('prints a state value as one line', () => {
    expect(stateText('idle')).toBe('idle');
    expect(stateText({ busy: 'rebuilding' })).toBe('busy.rebuilding');
    expect(stateText({ p: { a: 'x', b: 'y' } })).toBe('p.a.x, p.b.y');
  });
});

describe('event labels', () => {
  it('turns xstate internal events into readable labels', () => {
    expect(eventName('xstate.after.500.volume.settling')).toBe('after 500ms');
    expect(eventLabel({ event: 'xstate.after.settle.volume.settling', targets: [], delay: 'settle' })).toBe('after settle');
    expect(eventName('xstate.done.actor.rebuild')).toBe('done: rebuild');
    expect(eventName('xstate.error.actor.rebuild')).toBe('error: rebuild');
    expect(eventName('xstate.done.state.volume.busy')).toBe('done');
    expect(eventName('')).toBe('always');
    expect(eventLabel({ event: 'LOCK', targets: ['locked'], guard: 'isFree' })).toBe('LOCK [isFree]');
  });
});
