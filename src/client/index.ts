/**
 * `volwarden/client`: the lock, reboot, status and subscribe calls of the library API (SPEC §12)
 * over the daemon's socket (SPEC §10), for Node helpers that run outside the daemon.
 *
 * @example
 * import { connect } from 'volwarden/client';
 * const warden = await connect({ name: 'backup' });
 * const lease = await warden.lockVolume('/srv/data', { wait: true });
 * try { await backup(lease.token); await lease.release(0); } catch { await lease.release(1); }
 * await warden.close();
 */
import type { Observable } from 'rxjs';
import { defaultControlSocket } from '../config/paths.js';
import { WardenError } from '../errors.js';
import type { WardenEvent } from '../protocol/events.js';
import type { Rights, StatusResult } from '../protocol/types.js';
import { connectClient, type ClientConnection } from './connection.js';
import { createLease, type Lease } from './lease.js';
import { observeEvents, type SubscribeOptions } from './subscribe.js';

export type { Lease } from './lease.js';
export type { SubscribeOptions } from './subscribe.js';
export { connectClient } from './connection.js';
export type { ClientConnection, HelloInfo, NotificationFrame } from './connection.js';
export { defaultPaths, defaultControlSocket } from '../config/paths.js';
export { WardenError, ERROR_CODES } from '../errors.js';
export type { ErrorCode } from '../errors.js';
export type { WardenEvent, EventType } from '../protocol/events.js';
export type { StatusResult, VolumeStatus, LockView, HolderView, StaleCache } from '../protocol/types.js';

/** Where to connect and how to appear in `status` (as the lock holder's name). */
export interface ConnectOptions {
  /** Socket path; default `$VOLWARDEN_SOCKET`, else the control socket of SPEC §13. */
  socket?: string;
  /** Display name (default: the script's name). */
  name?: string;
}

/** A held reboot lock (SPEC §6). */
export interface RebootLease {
  release(): Promise<void>;
}

/** One connection to a daemon, with the library's calls. Every rejection is a `WardenError`. */
export interface WardenClient {
  /** The client number the daemon assigned in its `hello` reply (`client`; as shown in `status` holders). */
  readonly clientId: number;
  /** `control` or `status` (the status socket only allows status, subscribe, can-unmount). */
  readonly rights: Rights;
  /** The daemon's version, from its `hello` reply (as `status().daemon.version`). */
  readonly version: string;
  /** The socket this client is connected to. */
  readonly socket: string;
  /**
   * Takes a volume lock (id or absolute root). `wait` queues FIFO; `timeoutMs` bounds the wait
   * (`ETIMEDOUT`). One connection holds a volume once: a second call gets `EDEADLK`.
   */
  lockVolume(volume: string, options?: { wait?: boolean; timeoutMs?: number }): Promise<Lease>;
  /** Takes the reboot lock; `EBUSY` carries `busyVolume`. */
  lockReboot(options?: { wait?: boolean }): Promise<RebootLease>;
  /** Resolves if the volume may be unmounted now; `EBUSY` if not. */
  canUnmount(volume: string): Promise<void>;
  /** The `status` routine's result (SPEC §10), for every volume or one (`ENOENT` if unknown). */
  status(volume?: string): Promise<StatusResult>;
  /** Skips the settle timer; resolves the volume's state right after. */
  check(volume: string): Promise<string>;
  /** Clears `gaveUp` and the counters. */
  retry(volume: string): Promise<void>;
  /** Notifications, acknowledged as they are emitted; unsubscribing sends `unsubscribe`. */
  subscribe(volume?: string, options?: SubscribeOptions): Observable<WardenEvent>;
  /** Hangs up: held locks are released by the daemon as the death of this client. */
  close(): Promise<void>;
  /** Settles once the connection is gone, whoever closed it. */
  readonly closed: Promise<void>;
}

/**
 * Connects to a daemon and says hello.
 *
 * @example
 * const client = await connect({ socket: '/run/volwarden/status.sock' });
 * client.subscribe('*').subscribe((e) => console.log(e.n, e.type, e.volume));
 */
export async function connect(options: ConnectOptions = {}): Promise<WardenClient> {
  const socket = options.socket ?? defaultControlSocket();
  const conn = await connectClient(socket, { name: options.name ?? defaultName(), pid: process.pid });
  return wrap(conn, socket);
}

/**
 * The high-level calls on an already open connection (for callers that manage it themselves).
 *
 * @example
 * const client = wrap(await connectClient(path, { name: 'x' }), path);
 */
export function wrap(conn: ClientConnection, socket: string): WardenClient {
  return {
    clientId: conn.clientId,
    rights: conn.rights,
    version: String(conn.version),
    socket,
    closed: conn.closed,

    async lockVolume(volume, opts = {}) {
      const reply = await conn.request('lock_volume', {
        volume,
        wait: opts.wait ?? false,
        ...(opts.timeoutMs !== undefined ? { timeoutMs: Math.max(0, Math.round(opts.timeoutMs)) } : {}),
      });
      const token = typeof reply.token === 'number' ? reply.token : 0;
      return createLease(conn, await volumeId(conn, volume), token);
    },

    async lockReboot(opts = {}) {
      await conn.request('lock_reboot', { wait: opts.wait ?? false });
      let held = true;
      return {
        async release() {
          if (!held) throw new WardenError('ENOLCK', 'the reboot lock was already released');
          held = false;
          await conn.request('unlock_reboot');
        },
      };
    },

    async canUnmount(volume) {
      await conn.request('can_unmount', { volume });
    },

    async status(volume) {
      const reply = await conn.request('status', volume === undefined ? {} : { volume });
      return toStatus(reply);
    },

    async check(volume) {
      const reply = await conn.request('check', { volume });
      return String(reply.state);
    },

    async retry(volume) {
      await conn.request('retry', { volume });
    },

    subscribe: (volume = '*', opts = {}) => observeEvents(conn, volume, opts),

    close: () => conn.close(),
  };
}

// Leases name the volume by id, like the library's, even when locked by root path.
async function volumeId(conn: ClientConnection, volume: string): Promise<string> {
  if (!volume.startsWith('/')) return volume;
  try {
    const status = toStatus(await conn.request('status', { volume }));
    return status.volumes[0]?.id ?? volume;
  } catch {
    return volume;
  }
}

function toStatus(reply: Record<string, unknown>): StatusResult {
  const { daemon, volumes, reboot } = reply as unknown as StatusResult;
  return { daemon, volumes, reboot };
}

function defaultName(): string {
  const script = process.argv[1];
  return script ? script.split('/').pop()! : 'node';
}
