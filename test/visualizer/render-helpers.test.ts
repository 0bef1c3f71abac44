import { describe, expect, it } from 'vitest';
import type { ActorInfo } from '../../src/inspect/records.js';
import { detailLine } from '../../visualizer/src/render-actors.js';
import { logCountText } from '../../visualizer/src/render-log.js';

const info = (id: string, kind: ActorInfo['kind'], context: Record<string, unknown>): ActorInfo => ({
  sessionId: 'x:1', id, kind, machineId: kind, parent: null, state: 'idle', status: 'active', context,
});

describe('actor detail line', () => {
  it('says who holds a lock and how many wait', () => {
    expect(detailLine(info('lock:path:/v', 'lock', { holder: { client: 7, name: 'make' }, queue: { chunks: [], size: 2 } }))).toBe('held by client:7 (make) · 2 waiting');
    expect(detailLine(info('lock:path:/v', 'lock', { holder: { client: 0, name: 'volwarden' }, queue: { chunks: [], size: 0 } }))).toBe('held by volwarden');
    expect(detailLine(info('lock:path:/v', 'lock', { holder: null, queue: { chunks: [], size: 0 } }))).toBeUndefined();
    expect(detailLine(info('rebootLock', 'reboot', { holder: { client: 2 }, waiter: { client: 5 } }))).toBe('held by client:2 · client:5 waiting');
  });

  it('says which client a waiter queues for, and a client\'s name', () => {
    expect(detailLine(info('waiter:path:/v#12', 'waiter', { client: 12, waiterId: 'path:/v#12' }))).toBe('for client:12');
    expect(detailLine(info('client:3', 'client', { id: 3, name: 'make' }))).toBe('make');
    expect(detailLine(info('client:3', 'client', { id: 3 }))).toBeUndefined();
  });
});

describe('event log count', () => {
  it('says when the table shows only the newest rows', () => {
    expect(logCountText({ shown: 120, matching: 120, total: 120, filtered: false })).toBe('120 events');
    expect(logCountText({ shown: 500, matching: 2051, total: 2051, filtered: false })).toBe('last 500 of 2051 events');
    expect(logCountText({ shown: 1, matching: 1, total: 1, filtered: false })).toBe('1 event');
  });

  it('says how many rows match a filter', () => {
    expect(logCountText({ shown: 12, matching: 12, total: 2051, filtered: true })).toBe('12 of 2051 events');
    expect(logCountText({ shown: 500, matching: 800, total: 2051, filtered: true })).toBe('last 500 of 800 matching, 2051 events');
  });
});
