import { INSPECT_FRAME_ID } from '../protocol/types.js';
import type { InspectionSnapshot } from './mirror.js';
import type { InspectRecord } from './records.js';
import type { InspectionSource } from './source.js';

/** Where the frames go: a socket connection (`Connection` fits). */
export interface FrameSink {
  send(frame: object): void;
  readonly closed: boolean;
}

/** One connection's running stream. */
export interface InspectionStream {
  /** The present when the stream began: the `inspect` reply's fields. */
  readonly snapshot: InspectionSnapshot;
  /** Stops streaming; idempotent. */
  stop(): void;
}

const DEFAULT_MAX_BATCH = 500;

/**
 * Starts relaying a hub's records to one socket client (routine `inspect`, SPEC §14 via
 * `volwarden visualize`): takes the snapshot and subscribes in the same tick, so nothing falls
 * between them, then sends `{"id":2001,"records":[...]}` frames batched per tick (at most
 * `maxBatch` records each, so a burst never builds one huge line). Nothing is queued beyond one
 * batch here; a client that stops reading is dropped by the socket server's output bound.
 *
 * @example
 * const stream = streamInspection(hub, conn);
 * conn.send(okReply(req, { ...stream.snapshot }));
 * // on disconnect:
 * stream.stop();
 */
export function streamInspection(source: InspectionSource, sink: FrameSink, options: { maxBatch?: number } = {}): InspectionStream {
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  let pending: InspectRecord[] = [];
  let scheduled: NodeJS.Immediate | undefined;
  let stopped = false;

  const stop = () => {
    if (stopped) return;
    stopped = true;
    unsubscribe();
    if (scheduled !== undefined) clearImmediate(scheduled);
    scheduled = undefined;
    pending = [];
  };
  const flush = () => {
    scheduled = undefined;
    if (sink.closed) return stop();
    if (pending.length === 0) return;
    const records = pending;
    pending = [];
    sink.send({ id: INSPECT_FRAME_ID, records });
  };
  const snapshot: InspectionSnapshot = { machines: source.machines(), actors: source.actors(), log: source.log() };
  const unsubscribe = source.subscribe((record) => {
    if (stopped) return;
    pending.push(record);
    if (pending.length >= maxBatch) {
      if (scheduled !== undefined) clearImmediate(scheduled);
      flush();
    } else {
      scheduled ??= setImmediate(flush);
    }
  });
  return { snapshot, stop };
}
