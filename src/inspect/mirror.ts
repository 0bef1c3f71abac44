import type { RecordListener } from './hub.js';
import type { ActorInfo, EventRecord, InspectRecord, MachineDefinition } from './records.js';
import { RingBuffer } from './ring-buffer.js';
import type { InspectionSource } from './source.js';

/** The present a mirror starts from: the daemon's reply to the `inspect` routine. */
export interface InspectionSnapshot {
  machines: MachineDefinition[];
  actors: ActorInfo[];
  log?: EventRecord[];
}

/**
 * A copy of a remote hub, kept current by the records it streams: what `volwarden visualize`
 * serves the page from. It applies records the way the page does (a `removed` record drops an
 * actor, an `actors` record replaces them all) and passes each one on to its own listeners.
 *
 * @example
 * const mirror = new InspectionMirror({ machines, actors, log });
 * feed.onRecords((records) => records.forEach((r) => mirror.apply(r)));
 * await startInspectServer(mirror, { port: 0 });
 */
export class InspectionMirror implements InspectionSource {
  private readonly definitions = new Map<string, MachineDefinition>();
  private readonly live = new Map<string, ActorInfo>();
  private readonly eventLog: RingBuffer<EventRecord>;
  private readonly listeners = new Set<RecordListener>();

  constructor(snapshot: InspectionSnapshot, options: { logLimit?: number } = {}) {
    this.eventLog = new RingBuffer(options.logLimit ?? 2000);
    for (const machine of snapshot.machines) this.definitions.set(machine.id, machine);
    for (const actor of snapshot.actors) this.live.set(actor.sessionId, actor);
    for (const event of snapshot.log ?? []) this.eventLog.push(event);
  }

  machines(): MachineDefinition[] {
    return [...this.definitions.values()];
  }

  actors(): ActorInfo[] {
    return [...this.live.values()];
  }

  log(): EventRecord[] {
    return this.eventLog.toArray();
  }

  now(): number {
    return Date.now();
  }

  subscribe(listener: RecordListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Applies one streamed record and passes it on to the listeners (the pages). */
  apply(record: InspectRecord): void {
    switch (record.kind) {
      case 'machines':
        for (const machine of record.machines) this.definitions.set(machine.id, machine);
        break;
      case 'machine':
        this.definitions.set(record.machine.id, record.machine);
        break;
      case 'actors':
        this.live.clear();
        for (const actor of record.actors) this.live.set(actor.sessionId, actor);
        break;
      case 'actor':
        this.live.set(record.actor.sessionId, record.actor);
        break;
      case 'removed':
        this.live.delete(record.sessionId);
        break;
      case 'event':
        this.eventLog.push(record);
        break;
      case 'dropped':
        break;
    }
    for (const listener of this.listeners) {
      try {
        listener(record);
      } catch {
        // One broken page must not starve the others.
      }
    }
  }
}
