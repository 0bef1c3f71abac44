import type { AnyStateMachine, InspectionEvent } from 'xstate';
import { actorKind, summarizeContext } from './actor-summary.js';
import { sourceFromPayload } from './event-source.js';
import { describeMachine, isStateMachine } from './machine-definition.js';
import type { ActorInfo, EventRecord, InspectRecord, MachineDefinition } from './records.js';
import { RingBuffer } from './ring-buffer.js';
import { TraceWriter, type TraceWriterOptions } from './trace-writer.js';

/** The timers the hub needs; xstate's `SimulatedClock` fits, `now` defaults to `Date.now`. */
export interface HubClock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  now?(): number;
}

/** Tuning for one hub; the defaults suit the daemon. */
export interface InspectionHubOptions {
  /** Timers and time for record stamps and the grace period (default: real timers, unref'd). */
  clock?: HubClock;
  /** How long a finished actor stays listed so its final state can be seen. Default 2000 ms. */
  graceMs?: number;
  /** How many events the in-memory log keeps. Default 2000. */
  logLimit?: number;
}

/** Receives every record the hub produces, in order. */
export type RecordListener = (record: InspectRecord) => void;

/** A running `--record` trace. */
export interface TraceRecorder {
  readonly path: string;
  /** Records lost because the disk fell behind or the size limit was hit. */
  readonly dropped: number;
  /** Stops recording and flushes the file. */
  close(): Promise<void>;
}

// An actor's latest snapshot; summarized into `info` only once someone looks (a listener or `actors()`).
interface Tracked {
  ref: ActorRefShape;
  snapshot: SnapshotShape;
  info?: ActorInfo;
  fingerprint?: string;
  removal?: unknown;
}

interface SnapshotShape {
  status?: unknown;
  value?: unknown;
  context?: unknown;
}

interface ActorRefShape {
  id: string;
  sessionId: string;
  logic?: unknown;
  _parent?: { id?: unknown };
}

const realClock: HubClock = {
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout(id) {
    clearTimeout(id as NodeJS.Timeout);
  },
};

/**
 * Collects the warden's XState inspection stream into what the visualizer needs: machine
 * definitions, live actors with their state, and a bounded event log. It turns each inspection
 * event into a small JSON-safe record (never a whole snapshot: those hold actor refs and cycles)
 * and fans the records out to listeners: the WebSocket server and the trace recorder.
 * One hub per warden; it holds no module state.
 *
 * @example
 * const hub = new InspectionHub();
 * hub.registerMachine(volumeMachine);
 * const actor = createActor(volumeMachine, { inspect: hub.observer, id: 'volume:path:/srv' });
 * const recorder = await hub.record('/tmp/trace.jsonl');
 * const server = await startInspectServer(hub, { port: 8080 });
 */
export class InspectionHub {
  /** Pass as `createActor(logic, { inspect: hub.observer })`; it never throws into xstate. */
  readonly observer: (event: InspectionEvent) => void;

  private readonly clock: HubClock;
  private readonly graceMs: number;
  private readonly definitions = new Map<string, MachineDefinition>();
  private readonly tracked = new Map<string, Tracked>();
  private readonly eventLog: RingBuffer<EventRecord>;
  private readonly listeners = new Set<RecordListener>();
  private readonly recorders = new Set<TraceRecorder>();
  private closed = false;

  constructor(options: InspectionHubOptions = {}) {
    this.clock = options.clock ?? realClock;
    this.graceMs = options.graceMs ?? 2000;
    this.eventLog = new RingBuffer(options.logLimit ?? 2000);
    this.observer = (event) => {
      try {
        this.inspect(event);
      } catch {
        // Inspection is a window, not a participant: a bug here must never break an actor.
      }
    };
  }

  /** Adds a machine's definition up front, so a trace's first line already lists it. */
  registerMachine(machine: AnyStateMachine): void {
    this.learnMachine(machine);
  }

  /** Every machine definition seen or registered so far. */
  machines(): MachineDefinition[] {
    return [...this.definitions.values()];
  }

  /** The actors alive now (and those that finished less than `graceMs` ago). */
  actors(): ActorInfo[] {
    return [...this.tracked.values()].map((t) => summarized(t).info);
  }

  /** The most recent events, oldest first, at most `logLimit`. */
  log(): EventRecord[] {
    return this.eventLog.toArray();
  }

  /** Current time as the hub stamps records. */
  now(): number {
    return this.clock.now?.() ?? Date.now();
  }

  /** Calls `listener` with every record from now on; returns the unsubscribe function. */
  subscribe(listener: RecordListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Starts writing a JSONL trace: the machine definitions first, the live actors next, then
   * every record with its time. Rejects with a one-line `WardenError` if the file can't be written.
   *
   * @example
   * const recorder = await hub.record('trace.jsonl');
   * await recorder.close();
   */
  async record(path: string, options: TraceWriterOptions = {}): Promise<TraceRecorder> {
    const writer = await TraceWriter.open(path, options);
    const t = this.now();
    writer.write({ kind: 'machines', t, machines: this.machines() });
    const alive = this.actors();
    if (alive.length > 0) writer.write({ kind: 'actors', t, actors: alive });
    const unsubscribe = this.subscribe((record) => writer.write(record));
    const recorders = this.recorders;
    const recorder: TraceRecorder = {
      path,
      get dropped() {
        return writer.dropped;
      },
      close() {
        unsubscribe();
        recorders.delete(recorder);
        return writer.close();
      },
    };
    this.recorders.add(recorder);
    return recorder;
  }

  /** Cancels grace timers, closes recorders and stops fanning out; actors keep running. */
  async close(): Promise<void> {
    this.closed = true;
    for (const tracked of this.tracked.values()) {
      if (tracked.removal !== undefined) this.clock.clearTimeout(tracked.removal);
    }
    await Promise.all([...this.recorders].map((recorder) => recorder.close()));
    this.listeners.clear();
  }

  private inspect(event: InspectionEvent): void {
    if (this.closed) return;
    const ref = event.actorRef as unknown as ActorRefShape;
    switch (event.type) {
      case '@xstate.actor':
        if (isStateMachine(ref.logic)) this.learnMachine(ref.logic);
        return;
      case '@xstate.event':
        this.onEvent(ref, event.sourceRef as unknown as ActorRefShape | undefined, event.event);
        return;
      case '@xstate.snapshot':
        this.onSnapshot(ref, event.snapshot as SnapshotShape);
        return;
      default:
        return;
    }
  }

  private learnMachine(machine: AnyStateMachine): void {
    if (this.definitions.has(machine.id)) return;
    const definition = describeMachine(machine);
    this.definitions.set(machine.id, definition);
    this.emit({ kind: 'machine', t: this.now(), machine: definition });
  }

  private onEvent(target: ActorRefShape, source: ActorRefShape | undefined, event: { type: unknown }): void {
    const record: EventRecord = {
      kind: 'event',
      t: this.now(),
      type: String(event.type),
      source: source?.id ?? null,
      target: target.id,
    };
    if (record.source === null) {
      const named = sourceFromPayload(event, target.id);
      if (named !== null) {
        record.source = named;
        record.sourceFrom = 'payload';
      }
    }
    this.eventLog.push(record);
    this.emit(record);
  }

  private onSnapshot(ref: ActorRefShape, snapshot: SnapshotShape): void {
    const previous = this.tracked.get(ref.sessionId);
    const tracked: Tracked = { ref, snapshot };
    if (this.listeners.size > 0) {
      // Someone is watching: summarize now, and only tell them about real changes.
      const { info, fingerprint } = summarized(tracked);
      if (previous !== undefined && summarized(previous).fingerprint === fingerprint) return;
      this.replace(previous, tracked);
      this.emit({ kind: 'actor', t: this.now(), actor: info });
    } else {
      // Nobody is watching (the daemon's usual case): keep the snapshot, summarize it on demand.
      this.replace(previous, tracked);
    }
  }

  private replace(previous: Tracked | undefined, tracked: Tracked): void {
    if (previous?.removal !== undefined) this.clock.clearTimeout(previous.removal);
    const sessionId = tracked.ref.sessionId;
    this.tracked.set(sessionId, tracked);
    const status = typeof tracked.snapshot.status === 'string' ? tracked.snapshot.status : 'active';
    if (status !== 'active') {
      tracked.removal = this.clock.setTimeout(() => this.remove(sessionId), this.graceMs);
    }
  }

  private remove(sessionId: string): void {
    const tracked = this.tracked.get(sessionId);
    if (tracked === undefined) return;
    this.tracked.delete(sessionId);
    this.emit({ kind: 'removed', t: this.now(), sessionId, id: tracked.ref.id });
  }

  private emit(record: InspectRecord): void {
    for (const listener of this.listeners) {
      try {
        listener(record);
      } catch {
        // One broken listener must not starve the others.
      }
    }
  }
}

// Turns a tracked snapshot into what the page lists, once; later calls reuse it.
function summarized(tracked: Tracked): { info: ActorInfo; fingerprint: string } {
  if (tracked.info !== undefined && tracked.fingerprint !== undefined) return { info: tracked.info, fingerprint: tracked.fingerprint };
  const { ref, snapshot } = tracked;
  const machine = isStateMachine(ref.logic) ? ref.logic : undefined;
  const machineId = machine?.id ?? null;
  const parentId = ref._parent?.id;
  const info: ActorInfo = {
    sessionId: ref.sessionId,
    id: ref.id,
    kind: actorKind(machineId, ref.id),
    machineId,
    parent: typeof parentId === 'string' ? parentId : null,
    state: machine === undefined ? null : jsonSafe(snapshot.value),
    status: typeof snapshot.status === 'string' ? snapshot.status : 'active',
    context: summarizeContext(snapshot.context),
  };
  tracked.info = info;
  tracked.fingerprint = JSON.stringify([info.state, info.status, info.context]);
  return { info, fingerprint: tracked.fingerprint };
}

// State values are strings or nested plain objects of strings; anything else is not drawn.
function jsonSafe(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === 'string') return value;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return null;
  }
}
