/**
 * The in-memory twin of the state directory. Pass the same instance to a new warden to
 * simulate a daemon restart: counters and fencing tokens survive, as they do on disk.
 */
import { copyRecord } from './volume-record.js';
import type { StateStore, VolumeRecord } from './types.js';

/**
 * A `StateStore` backed by a Map; records are copied in and out, so callers cannot alias them.
 *
 * @example
 * const state = new MemoryStateStore();
 * await createWarden({ adapters: { ...fakes, state } }).start(); // … stop, then start another on `state`
 */
export class MemoryStateStore implements StateStore {
  private readonly records = new Map<string, VolumeRecord>();
  /** How many times `save` was called (tests check that changes are persisted). */
  saves = 0;

  load(volumeId: string): VolumeRecord | undefined {
    const record = this.records.get(volumeId);
    return record === undefined ? undefined : copyRecord(record);
  }

  save(volumeId: string, record: VolumeRecord): void {
    this.saves += 1;
    this.records.set(volumeId, copyRecord(record));
  }

  /** Every record, keyed by volume id. */
  loadAll(): Map<string, VolumeRecord> {
    return new Map([...this.records].map(([id, record]) => [id, copyRecord(record)]));
  }
}
