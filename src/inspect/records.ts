/**
 * The JSON-safe shapes the inspection hub produces. One vocabulary for three consumers: the
 * live WebSocket stream, the recorded trace (`--record FILE.jsonl`, one record per line) and
 * the visualizer page, which imports these types and replays records through one reducer.
 *
 * @example
 * const line: InspectRecord = { kind: 'event', t: 1700000000000, type: 'FS_CHANGE', source: null, target: 'volume:path:/srv' };
 */

/** Kinds of actors the page groups by (SPEC §2), `other` for helpers such as invoked callbacks. */
export type ActorKind = 'warden' | 'volume' | 'lock' | 'waiter' | 'client' | 'subscriber' | 'reboot' | 'other';

/** One transition as the page draws it: an edge from its state to each target. */
export interface TransitionDefinition {
  /** The event descriptor as xstate knows it, e.g. `LOCK`, `xstate.after.500.volume.settling`. */
  event: string;
  /** Target state paths (`checking`, `busy.rebuilding`); empty for a targetless transition. */
  targets: string[];
  description?: string;
  /** Guard name, when the transition is guarded. */
  guard?: string;
  /** For `after` transitions: the delay in ms, or the name of a named delay. */
  delay?: number | string;
}

/** One state node; `path` is its keys from the machine root joined by `.` (`''` for the root). */
export interface StateDefinition {
  key: string;
  path: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** Key of the initial child state, for compound states. */
  initial?: string;
  description?: string;
  tags?: string[];
  /** Ids of the actors this state invokes while active. */
  invoke?: string[];
  transitions: TransitionDefinition[];
  states: StateDefinition[];
}

/** A machine's statechart, compact enough to send to the page and write as the trace header. */
export interface MachineDefinition {
  id: string;
  description?: string;
  root: StateDefinition;
}

/** A live actor as the page lists it. */
export interface ActorInfo {
  /** xstate's process-unique session id; actor ids can repeat over time, this never does. */
  sessionId: string;
  /** Actor id, e.g. `volume:path:/srv/data`. */
  id: string;
  kind: ActorKind;
  /** Machine id for state machines, `null` for other logic (callbacks, promises). */
  machineId: string | null;
  /** Parent actor's id, `null` for root actors. */
  parent: string | null;
  /** The state value (`'idle'`, `{ busy: 'rebuilding' }`), `null` for non-machine actors. */
  state: unknown;
  /** `active`, `done`, `stopped` or `error`. */
  status: string;
  /** Only small JSON-safe context fields (id, root, holder, ...). */
  context: Record<string, unknown>;
}

/** One event delivered to an actor: the event log's row. */
export interface EventRecord {
  kind: 'event';
  t: number;
  type: string;
  /**
   * Sending actor's id, `null` when sent from outside any actor and the payload names nobody.
   * The runtimes send most events from outside any actor: then the actor the payload names
   * (`client: 7` → `client:7`, a `waiterId`) stands in, and `sourceFrom` says so.
   */
  source: string | null;
  /** `payload` when `source` was read from the event's payload rather than reported by xstate. */
  sourceFrom?: 'payload';
  target: string;
}

/** Every record the hub emits and a trace holds, each on its own line. */
export type InspectRecord =
  | { kind: 'machines'; t: number; machines: MachineDefinition[] }
  | { kind: 'machine'; t: number; machine: MachineDefinition }
  | { kind: 'actors'; t: number; actors: ActorInfo[]; log?: EventRecord[] }
  | { kind: 'actor'; t: number; actor: ActorInfo }
  | { kind: 'removed'; t: number; sessionId: string; id: string }
  | { kind: 'dropped'; t: number; count: number; reason: string }
  | EventRecord;
