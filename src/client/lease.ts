/**
 * A volume lock held over a socket connection: released with an exit status, and `lost` when
 * the connection drops first (SPEC §5: no lock outlives its holder's connection).
 */
import { WardenError } from '../errors.js';
import type { ClientConnection } from './connection.js';

/** A held volume lock (SPEC §12), as `volwarden/client` hands it out. */
export interface Lease {
  /** The volume id (`path:...` / `uuid:...`). */
  readonly volume: string;
  /** The fencing token of this grant (SPEC §5). */
  readonly token: number;
  /** Unlocks with `status` (0 = success, SPEC §4 counters). Rejects `ENOLCK` when already released. */
  release(status?: number): Promise<void>;
  /** Settles with the reason if the connection drops while the lock is held; never rejects. */
  readonly lost: Promise<WardenError>;
}

/**
 * Wraps a granted `lock_volume` as a {@link Lease}.
 *
 * @example
 * const { token } = await conn.request('lock_volume', { volume, wait: true });
 * const lease = createLease(conn, volume, token);
 */
export function createLease(conn: ClientConnection, volume: string, token: number): Lease {
  let held = true;
  let settle!: (reason: WardenError) => void;
  const lost = new Promise<WardenError>((resolve) => (settle = resolve));
  void conn.closed.then(() => {
    if (held) settle(new WardenError('ECONNRESET', `the connection to the daemon dropped while holding ${volume}: the lock is gone`));
  });
  return {
    volume,
    token,
    lost,
    async release(status = 0) {
      if (!held) throw new WardenError('ENOLCK', `the lease on ${volume} was already released`);
      held = false;
      await conn.request('unlock_volume', { volume, status, token });
    },
  };
}
