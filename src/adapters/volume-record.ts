/** The persisted record of one volume (SPEC §4 counters, §5 token), shared by both state stores. */
import type { VolumeRecord } from './types.js';

/**
 * Just the fields of a {@link VolumeRecord}, copied (so nothing aliases the caller's object).
 *
 * @example
 * copyRecord({ failures: 1, attempts: 2, token: 3, volumeId: 'x' } as VolumeRecord); // → { failures: 1, attempts: 2, token: 3 }
 */
export function copyRecord(record: VolumeRecord): VolumeRecord {
  const { failures, attempts, token, helper } = record;
  if (helper === undefined) return { failures, attempts, token };
  return { failures, attempts, token, helper: { pid: helper.pid, identity: helper.identity } };
}
