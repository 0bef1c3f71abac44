import type { ActorInfo, ActorKind, EventRecord, InspectRecord, MachineDefinition } from '../../src/inspect/records.js';

/** Everything the page shows at one moment; the live stream and a replayed trace both build it. */
export interface ViewState {
  machines: Record<string, MachineDefinition>;
  /** Keyed by session id. */
  actors: Record<string, ActorInfo>;
  log: EventRecord[];
  /** Time of the last record applied. */
  t: number | null;
  /** Gaps the producer reported (`dropped` records). */
  notes: string[];
}

/** One group of the actor list. */
export interface ActorGroup {
  kind: ActorKind;
  title: string;
  actors: ActorInfo[];
}

const GROUPS: ReadonlyArray<[ActorKind, string]> = [
  ['warden', 'Warden'],
  ['volume', 'Volumes'],
  ['lock', 'Locks'],
  ['waiter', 'Waiters'],
  ['client', 'Clients'],
  ['subscriber', 'Subscribers'],
  ['reboot', 'Reboot lock'],
  ['other', 'Other actors'],
];

const KNOWN_KINDS: ReadonlySet<string> = new Set(GROUPS.map(([kind]) => kind));
const DEFAULT_LOG_LIMIT = 2000;
const MAX_NOTES = 20;

/** A view with nothing in it yet. */
export function emptyView(): ViewState {
  return { machines: {}, actors: {}, log: [], t: null, notes: [] };
}

/**
 * Applies one record to a view in place (the live page applies thousands; copying each time
 * would be wasteful). Replays clone at checkpoints with `cloneView`.
 *
 * @example
 * const view = emptyView();
 * applyRecord(view, { kind: 'event', t: 1, type: 'PING', source: null, target: 'warden' });
 */
export function applyRecord(view: ViewState, record: InspectRecord, logLimit = DEFAULT_LOG_LIMIT): ViewState {
  view.t = record.t;
  switch (record.kind) {
    case 'machines':
      for (const machine of record.machines) view.machines[machine.id] = machine;
      break;
    case 'machine':
      view.machines[record.machine.id] = record.machine;
      break;
    case 'actors':
      view.actors = {};
      for (const actor of record.actors) view.actors[actor.sessionId] = actor;
      if (record.log !== undefined) view.log = record.log.slice(-logLimit);
      break;
    case 'actor':
      view.actors[record.actor.sessionId] = record.actor;
      break;
    case 'removed':
      delete view.actors[record.sessionId];
      break;
    case 'dropped':
      view.notes.push(`${record.count} record(s) missing: ${record.reason}`);
      if (view.notes.length > MAX_NOTES) view.notes.splice(0, view.notes.length - MAX_NOTES);
      break;
    case 'event':
      view.log.push(record);
      // Trim in chunks so a long stream costs amortized O(1) per event.
      if (view.log.length > logLimit + Math.ceil(logLimit / 4)) view.log.splice(0, view.log.length - logLimit);
      break;
  }
  return view;
}

/** An independent copy (records themselves are immutable and shared). */
export function cloneView(view: ViewState): ViewState {
  return { machines: { ...view.machines }, actors: { ...view.actors }, log: view.log.slice(), t: view.t, notes: view.notes.slice() };
}

// Numbers inside ids compare as numbers: `client:7` before `client:10`, and a volume's waiters
// (`waiter:path:/v#3`, `#12`: numbered as their requests arrived) in arrival order.
const idOrder = new Intl.Collator('en', { numeric: true }).compare;

/**
 * The actor list's groups in a fixed order (warden, volumes, locks, waiters, clients,
 * subscribers, reboot lock, others), each sorted by id with numbers compared as numbers; an
 * actor of a kind the page does not know is listed under others. Empty groups are left out.
 *
 * @example
 * groupActors(view).map((g) => g.title); // ['Warden', 'Volumes']
 */
export function groupActors(view: ViewState): ActorGroup[] {
  const byKind = new Map<ActorKind, ActorInfo[]>();
  for (const actor of Object.values(view.actors)) {
    const kind = KNOWN_KINDS.has(actor.kind) ? actor.kind : 'other';
    const list = byKind.get(kind) ?? [];
    list.push(actor);
    byKind.set(kind, list);
  }
  const groups: ActorGroup[] = [];
  for (const [kind, title] of GROUPS) {
    const actors = byKind.get(kind);
    if (actors === undefined) continue;
    actors.sort((a, b) => idOrder(a.id, b.id) || idOrder(a.sessionId, b.sessionId));
    groups.push({ kind, title, actors });
  }
  return groups;
}

/** Finds the actor the page has selected (by actor id: it survives restarts with new session ids). */
export function findActor(view: ViewState, actorId: string): ActorInfo | undefined {
  let found: ActorInfo | undefined;
  for (const actor of Object.values(view.actors)) {
    if (actor.id !== actorId) continue;
    // Prefer a live instance over one lingering in its grace period.
    if (found === undefined || (found.status !== 'active' && actor.status === 'active')) found = actor;
  }
  return found;
}

/**
 * The log rows matching an actor filter. A filter that is an actor's whole id (one of
 * `actorIds`, or a source or target in the log) matches that actor only, so `client:1` leaves
 * out `client:10`; any other text matches every source or target containing it. An empty
 * filter keeps every row.
 *
 * @example
 * filterLog(view.log, 'client:1', new Set(['client:1', 'client:10'])); // rows to or from client:1 only
 */
export function filterLog(log: readonly EventRecord[], filter: string, actorIds: ReadonlySet<string> = new Set()): EventRecord[] {
  const needle = filter.trim();
  if (needle === '') return log.slice();
  const exact = actorIds.has(needle) || log.some((row) => row.target === needle || row.source === needle);
  if (exact) return log.filter((row) => row.target === needle || row.source === needle);
  return log.filter((row) => row.target.includes(needle) || (row.source !== null && row.source.includes(needle)));
}
