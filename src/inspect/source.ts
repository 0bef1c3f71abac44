import type { RecordListener } from './hub.js';
import type { ActorInfo, EventRecord, MachineDefinition } from './records.js';

/**
 * What the visualizer server and the socket relay read: the daemon's own `InspectionHub`, or
 * the `volwarden visualize` mirror of a hub on the other end of the status socket. Both keep the
 * present (definitions, live actors, recent events) and fan new records out to listeners.
 *
 * @example
 * const source: InspectionSource = new InspectionHub();
 * const server = await startInspectServer(source, { port: 0 });
 */
export interface InspectionSource {
  /** Every machine definition known so far. */
  machines(): MachineDefinition[];
  /** The actors alive now (and those still in their grace period). */
  actors(): ActorInfo[];
  /** The most recent events, oldest first. */
  log(): EventRecord[];
  /** Current time as records are stamped. */
  now(): number;
  /** Calls `listener` with every record from now on; returns the unsubscribe function. */
  subscribe(listener: RecordListener): () => void;
}
