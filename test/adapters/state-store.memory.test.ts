import { describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../src/adapters/state-store.memory.js';

describe('MemoryStateStore', () => {
  it('returns copies of what was saved, so callers cannot change stored records', () => {
    const store = new MemoryStateStore();
    const record = { failures: 1, attempts: 2, token: 3 };
    store.save('path:/v', record);
    record.token = 99;
    const loaded = store.load('path:/v')!;
    loaded.failures = 42;
    expect(store.load('path:/v')).toEqual({ failures: 1, attempts: 2, token: 3 });
    expect(store.load('path:/other')).toBeUndefined();
    expect(store.saves).toBe(1);
    expect([...store.loadAll().keys()]).toEqual(['path:/v']);
  });
});
