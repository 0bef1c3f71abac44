import type { ActorKind } from './records.js';

const KIND_BY_MACHINE_ID: Record<string, ActorKind> = {
  warden: 'warden',
  volume: 'volume',
  lock: 'lock',
  waiter: 'waiter',
  client: 'client',
  subscriber: 'subscriber',
  rebootLock: 'reboot',
};

const MAX_CONTEXT_FIELDS = 16;
const MAX_STRING = 200;
const MAX_FIELD_JSON = 300;

/**
 * Which group the page lists an actor under: by machine id first, then by the actor id's
 * prefix (`volume:path:/srv` → volume), so a demo or embedder machine still lands somewhere sensible.
 *
 * @example
 * actorKind('rebootLock', 'rebootLock'); // 'reboot'
 * actorKind(null, 'fsWatch');            // 'other'
 */
export function actorKind(machineId: string | null, actorId: string): ActorKind {
  if (machineId !== null && KIND_BY_MACHINE_ID[machineId] !== undefined) return KIND_BY_MACHINE_ID[machineId];
  const prefix = actorId.split(':')[0] ?? '';
  return KIND_BY_MACHINE_ID[prefix] ?? 'other';
}

/**
 * Keeps only the small, JSON-safe context fields worth showing (ids, roots, holders, counters).
 * Context holds actor refs, Maps and buffers; serializing it whole would leak cycles and megabytes
 * into every record, so anything large or exotic is left out or replaced by a short marker.
 *
 * @example
 * summarizeContext({ id: 'path:/x', root: '/x', watcher: actorRef }); // { id: 'path:/x', root: '/x', watcher: 'actor:fsWatch' }
 */
export function summarizeContext(context: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof context !== 'object' || context === null) return out;
  let count = 0;
  for (const key of Object.keys(context)) {
    if (count >= MAX_CONTEXT_FIELDS) break;
    const value = smallValue((context as Record<string, unknown>)[key], 2);
    if (value === undefined) continue;
    const json = JSON.stringify(value);
    if (json === undefined || json.length > MAX_FIELD_JSON) continue;
    out[key] = value;
    count += 1;
  }
  return out;
}

function smallValue(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'object':
      return smallObject(value, depth);
    default:
      return undefined;
  }
}

function smallObject(value: object | null, depth: number): unknown {
  if (value === null) return null;
  if (isActorRef(value)) return `actor:${value.id}`;
  if (Array.isArray(value)) {
    if (depth === 0 || value.length > 8) return `[${value.length} items]`;
    return value.map((item) => smallValue(item, depth - 1) ?? null);
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    if (value instanceof Map || value instanceof Set) return `[${value.size} entries]`;
    return undefined;
  }
  if (depth === 0) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value).slice(0, MAX_CONTEXT_FIELDS)) {
    const small = smallValue(item, depth - 1);
    if (small !== undefined) out[key] = small;
  }
  return out;
}

function isActorRef(value: object): value is { id: string } {
  const candidate = value as { sessionId?: unknown; send?: unknown; id?: unknown };
  return typeof candidate.sessionId === 'string' && typeof candidate.send === 'function' && typeof candidate.id === 'string';
}
