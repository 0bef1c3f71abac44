import { describe, expect, it } from 'vitest';
import { sourceFromPayload } from '../../src/inspect/event-source.js';

describe('sourceFromPayload', () => {
  it('reads a client number, bare or as a holder, as that client', () => {
    expect(sourceFromPayload({ type: 'UNLOCK_REQUESTED', client: 12, status: 0 }, 'lock:path:/v')).toBe('client:12');
    expect(sourceFromPayload({ type: 'REBOOT_REQUESTED', client: { client: 3, name: 'shutdown' } }, 'rebootLock')).toBe('client:3');
  });

  it('reads a waiter id as that waiter', () => {
    expect(sourceFromPayload({ type: 'WAITER_LEFT', waiterId: 'path:/v#2' }, 'lock:path:/v')).toBe('waiter:path:/v#2');
  });

  it('names the volume for the daemon\'s own request to its lock, and nobody for the daemon elsewhere', () => {
    expect(sourceFromPayload({ type: 'LOCK_REQUESTED', client: { client: 0, name: 'volwarden' } }, 'lock:path:/v')).toBe('volume:path:/v');
    expect(sourceFromPayload({ type: 'REBOOT_REQUESTED', client: { client: 0 } }, 'rebootLock')).toBeNull();
  });

  it('names nobody when the payload does not say', () => {
    expect(sourceFromPayload({ type: 'FS_CHANGED', paths: ['/v/a'] }, 'volume:path:/v')).toBeNull();
    expect(sourceFromPayload({ type: 'X', client: 'seven' }, 'lock:path:/v')).toBeNull();
    expect(sourceFromPayload({ type: 'X', client: -1 }, 'lock:path:/v')).toBeNull();
    expect(sourceFromPayload(null, 'lock:path:/v')).toBeNull();
  });
});
