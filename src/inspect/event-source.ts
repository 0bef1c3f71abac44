/**
 * Who an event came from when xstate cannot say. The runtimes call `actor.send` from outside any
 * actor (a socket handler, a timer), so the inspection event has no `sourceRef`; but the payload
 * usually names the actor on whose behalf it was sent: `client: 7` (or `client: { client: 7 }`)
 * is `client:7`, a `waiterId` is that waiter. Client 0 is the daemon itself, which asks for a
 * volume's lock on behalf of that volume.
 *
 * @example
 * sourceFromPayload({ type: 'LOCK_REQUESTED', client: { client: 7, name: 'make' } }, 'lock:path:/srv'); // 'client:7'
 * sourceFromPayload({ type: 'WAITER_LEFT', waiterId: 'path:/srv#3' }, 'lock:path:/srv');                // 'waiter:path:/srv#3'
 * sourceFromPayload({ type: 'FS_CHANGED', paths: [] }, 'volume:path:/srv');                               // null
 */
export function sourceFromPayload(event: unknown, targetId: string): string | null {
  if (typeof event !== 'object' || event === null) return null;
  const payload = event as { client?: unknown; waiterId?: unknown };
  if (typeof payload.waiterId === 'string' && payload.waiterId !== '') return `waiter:${payload.waiterId}`;
  const client = clientNumber(payload.client);
  if (client === undefined) return null;
  if (client > 0) return `client:${client}`;
  return targetId.startsWith('lock:') ? `volume:${targetId.slice('lock:'.length)}` : null;
}

function clientNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  if (typeof value === 'object' && value !== null) return clientNumber((value as { client?: unknown }).client);
  return undefined;
}
