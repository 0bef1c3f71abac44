/** The key layout and the holders view of cluster locks (pure: no etcd). */
import { describe, expect, it } from 'vitest';
import { blockingRange, decodeOwner, encodeOwner, lockRange, modeOfKey, requestKey, viewOf, type LockKey } from '../../src/cluster/lock-keys.js';

const key = (mode: 'x' | 's', id: string, createRevision: number, owner = id): LockKey => ({
  key: `/vw/lock/disk/${mode}/${id}`,
  createRevision,
  value: { host: `host-${id}`, owner, mode: mode === 'x' ? 'exclusive' : 'shared' },
});

describe('cluster lock keys', () => {
  it('puts the mode in the path and the lease and sequence in the name', () => {
    expect(requestKey('/vw/', 'disk', 'exclusive', 'abc', 3)).toBe('/vw/lock/disk/x/abc-3');
    expect(requestKey('/vw/', 'disk', 'shared', 'abc', 4)).toBe('/vw/lock/disk/s/abc-4');
    expect(modeOfKey('/vw/lock/disk/x/abc-3')).toBe('exclusive');
    expect(modeOfKey('/vw/lock/disk/s/abc-4')).toBe('shared');
  });

  it('blocks an exclusive request on every key and a shared one on exclusive keys only', () => {
    expect(blockingRange('/vw/', 'disk', 'exclusive')).toEqual({ key: '/vw/lock/disk/', rangeEnd: '/vw/lock/disk0' });
    expect(blockingRange('/vw/', 'disk', 'shared')).toEqual({ key: '/vw/lock/disk/x/', rangeEnd: '/vw/lock/disk/x0' });
  });

  it('keeps one lock name out of another that starts the same way', () => {
    const a = lockRange('/vw/', 'disk');
    const inside = (k: string) => k >= a.key && k < a.rangeEnd;
    expect(inside(requestKey('/vw/', 'disk', 'shared', '1', 1))).toBe(true);
    expect(inside(requestKey('/vw/', 'disk.b', 'shared', '1', 1))).toBe(false);
    expect(inside(requestKey('/vw/', 'disk-2', 'exclusive', '1', 1))).toBe(false);
  });

  it('round-trips the owner, and survives a mangled value', () => {
    const owner = { host: 'web-1', owner: 'rsync', mode: 'shared' as const };
    expect(decodeOwner('/vw/lock/d/s/1-1', encodeOwner(owner))).toEqual(owner);
    expect(decodeOwner('/vw/lock/d/x/1-1', 'not json')).toEqual({ host: '?', owner: '?', mode: 'exclusive' });
  });
});

describe('the holders view', () => {
  it('is empty for no keys', () => {
    expect(viewOf([])).toEqual({ holders: [], waiters: 0 });
  });

  it('holds the oldest exclusive key alone', () => {
    expect(viewOf([key('s', 'b', 9), key('x', 'a', 5), key('s', 'c', 10)])).toEqual({
      holders: [{ host: 'host-a', owner: 'a', mode: 'exclusive', token: 5 }],
      waiters: 2,
    });
  });

  it('holds every shared key up to the first exclusive one, whatever the order they arrive in', () => {
    const view = viewOf([key('x', 'w', 7), key('s', 'r2', 6), key('s', 'r1', 4), key('s', 'late', 8)]);
    expect(view.holders.map((h) => [h.owner, h.token])).toEqual([['r1', 4], ['r2', 6]]);
    expect(view.waiters).toBe(2);
  });
});
