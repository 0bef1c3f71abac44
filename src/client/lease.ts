/**
 * A volume lock held over a socket connection: released with an exit status, and `lost` when
 * the connection drops first (SPEC §5: no lock outlives its holder's connection).
 */
import { WardenError, type ErrorCode } from '../errors.js';
import type { ClientConnection } from './connection.js';

/**
 * A held volume lock (SPEC §12), as `volwarden/client` hands it out.
 *
 * The daemon does not tell a socket holder that its volume went away: `lost` settles when the
 * connection drops, and otherwise only once `release` learns from the daemon that the lock is
 * no longer this lease's (the volume is gone: `ENOENT`).
 *
 * @example
 * const lease = await client.lockVolume('/srv/data', { wait: true });
 * void lease.lost.then((why) => abortBackup(why.code));   // ECONNRESET, or ENOENT / EPERM found by release
 * try { await backup(lease.token); await lease.release(0); } catch { await lease.release(1); }
 */
export interface Lease {
  /** The volume id (`path:...` / `uuid:...`). */
  readonly volume: string;
  /** The fencing token of this grant (SPEC §5). */
  readonly token: number;
  /**
   * Unlocks with `status` (an integer; 0 = success, SPEC §4 counters). Rejects `EINVAL` for a
   * bad status and `ECONNRESET` when the daemon is unreachable, both leaving the lease held so
   * it can be released again; `ENOENT` (volume gone) or `EPERM` (no longer the holder) mean the
   * lock is not ours any more; `ENOLCK` once the lease was released.
   */
  release(status?: number): Promise<void>;
  /**
   * Settles (never rejects) with the reason the lock was lost without being released: the
   * connection dropped (`ECONNRESET`), or `release` was answered `ENOENT`/`EPERM`/`ENOLCK`.
   */
  readonly lost: Promise<WardenError>;
}

// Answers after which the daemon no longer counts this lease as the holder.
const NOT_OURS_ANY_MORE: ReadonlySet<ErrorCode> = new Set(['ENOENT', 'EPERM', 'ENOLCK']);

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

  const unlock = async (status: number): Promise<void> => {
    if (!held) throw new WardenError('ENOLCK', `the lease on ${volume} was already released`);
    try {
      await conn.request('unlock_volume', { volume, status, token });
    } catch (error) {
      // EINVAL or a lost reply leave the daemon's lock in place: keep the lease releasable.
      if (error instanceof WardenError && NOT_OURS_ANY_MORE.has(error.code)) {
        held = false;
        settle(error);
      }
      throw error;
    }
    held = false;
  };

  // Releases run one after another, so a second call sees the first one's outcome.
  let queue: Promise<unknown> = Promise.resolve();
  return {
    volume,
    token,
    lost,
    release(status = 0) {
      const result = queue.then(() => unlock(status));
      queue = result.catch(() => {});
      return result;
    },
  };
}
