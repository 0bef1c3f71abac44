import path from 'node:path';
import type { Observable } from 'rxjs';
import { systemClock } from '../adapters/clock.js';
import { createNodeFs } from '../adapters/fs.js';
import { createProcMountTable } from '../adapters/mount-table.js';
import { createNodeProcesses } from '../adapters/processes.js';
import { createFileStateStore } from '../adapters/state-store.js';
import type { Adapters } from '../adapters/types.js';
import { parseEtcdOptions } from '../cluster/etcd-options.js';
import { WardenError } from '../errors.js';
import type { WardenEvent } from '../protocol/events.js';
import type { StatusResult } from '../protocol/types.js';
import { SocketRouter, type Listen, type ListenOptions } from './socket-router.js';
import { Warden, type WardenOptions } from './warden.js';

/**
 * A held volume lock (SPEC §12), as `warden.lockVolume` hands it out.
 *
 * @example
 * const lease = await warden.lockVolume('/srv/data', { wait: true, owner: 'backup' });
 * void lease.lost.then((why) => abortBackup(why.code));   // ENOENT (volume gone) or ECONNRESET (warden stopped)
 * try { await backup(lease.token); await lease.release(0); } catch { await lease.release(1); }
 */
export interface Lease {
  /** The volume id (`path:...` / `uuid:...`), even when locked by root path. */
  readonly volume: string;
  /** The fencing token of this grant (SPEC §5). */
  readonly token: number;
  /**
   * Unlocks with `status` (a safe integer; 0 = success, anything else counts as a failure, SPEC §4)
   * and hands the lock off. Rejects `EINVAL` for a non-integer status without using up the lease;
   * `ENOLCK` once released or dropped; `ENOENT` if the volume is gone.
   */
  release(status?: number): Promise<void>;
  /**
   * Settles (never rejects) if the lock is lost without being released: `ENOENT` when the volume
   * goes, `ECONNRESET` when the warden stops. Never settles after `release` or `drop`.
   */
  readonly lost: Promise<WardenError>;
  /** Drops the client without unlocking: counts as its death (a failure, then handoff). */
  drop(): void;
}

/** A held reboot lock (SPEC §6). */
export interface RebootLease {
  /** Releases the reboot lock; volume locks and automatic rebuilds resume. */
  release(): Promise<void>;
}

/**
 * The embeddable warden (SPEC §12). Every rejection and throw is a `WardenError`; a volume is
 * named by its id or its absolute root (anything but a string is `EINVAL`).
 *
 * @example
 * const warden = createWarden({ roots: ['/srv/data'] });
 * await warden.start();
 * await warden.canUnmount('/srv/data');   // throws WardenError EBUSY while locked or stale
 */
export interface WardenHandle {
  /** Starts watching every root; resolves once every volume has loaded its manifest. Idempotent. */
  start(): Promise<void>;
  /** The `status` routine's result (SPEC §10), for every volume or one; `ENOENT` for an unknown one. */
  status(volume?: string): StatusResult;
  /** Every notification (SPEC §8) as it is published; completes when the warden stops. */
  readonly events$: Observable<WardenEvent>;
  /**
   * Takes the volume's lock as a new in-process client (`owner` is its name in `status`).
   * Resolves with the {@link Lease}; rejects with SPEC §5's codes: `EAGAIN` (not started),
   * `ENOLCK` (reboot lock held), `ENOENT`, `EBUSY` (held, no `wait`), `ETIMEDOUT`, `ENOBUFS`,
   * `EINVAL` (bad volume or `timeoutMs`).
   */
  lockVolume(volume: string, options?: { wait?: boolean; timeoutMs?: number; owner?: string }): Promise<Lease>;
  /**
   * Takes the reboot lock (SPEC §6) once every volume is clean. Rejects `EAGAIN` (not started),
   * `EALREADY` (already held), `EBUSY` with `busyVolume` (a volume is busy and no `wait`, or
   * another caller already waits).
   */
  lockReboot(options?: { wait?: boolean; owner?: string }): Promise<RebootLease>;
  /** Resolves if the volume may be unmounted now (SPEC §7); rejects `EBUSY` (locked, or stale: a rebuild starts) or `ENOENT`. */
  canUnmount(volume: string): Promise<void>;
  /** Skips the settle timer; returns the state right after. */
  check(volume: string): string;
  /** Clears `gaveUp` and the counters. */
  retry(volume: string): void;
  /**
   * Serves the socket protocol (SPEC §10) on `socket` (control) and `statusSocket`; rejects
   * `EBUSY` (already running there), `EPERM`, or `EINVAL` (unusable path); opens nothing then.
   */
  listen(options: ListenOptions): Promise<void>;
  /** Closes the sockets, stops helpers (SIGTERM, up to 10 s), writes counters; held leases settle `lost`. */
  stop(): Promise<void>;
  /** The actor-level warden, for tools (visualizer, simulation). */
  readonly core: Warden;
}

/** Real adapters unless overridden; in-memory twins live beside each adapter (`*.memory.ts`). */
export function defaultAdapters(options: WardenOptions): Adapters {
  const given = options.adapters ?? {};
  const state = given.state ?? (options.stateDir ? createFileStateStore(path.resolve(options.stateDir)) : undefined);
  return {
    fs: given.fs ?? createNodeFs(),
    processes: given.processes ?? createNodeProcesses(),
    clock: given.clock ?? systemClock(),
    mounts: given.mounts ?? createProcMountTable(),
    ...(state ? { state } : {}),
  };
}

/**
 * Creates a warden for in-process use. Nothing is shared between wardens.
 *
 * @example
 * const warden = createWarden({ roots: ['/srv/data'], settleMs: 500 });
 * await warden.start();
 * const lease = await warden.lockVolume('/srv/data', { wait: true, owner: 'backup' });
 * try { await backup(); await lease.release(0); } catch { await lease.release(1); }
 * await warden.stop();
 */
export function createWarden(options: WardenOptions = {}, listenImpl?: Listen): WardenHandle {
  // A bad `etcd` block is the embedder's typo: say so now, not at the first cluster volume.
  if (options.etcd !== undefined) parseEtcdOptions(options.etcd);
  const core = new Warden(options, defaultAdapters(options));
  let router: SocketRouter | null = null;
  const control = () => ({ id: 0, rights: 'control' as const });

  return {
    core,
    events$: core.events$,
    start: () => core.start(),
    status: (volume) => core.status(volume === undefined ? undefined : volumeRef('status', volume)),
    check: (volume) => core.check(control(), volumeRef('check', volume)),
    retry: (volume) => core.retry(control(), volumeRef('retry', volume)),
    canUnmount: async (volume) => core.canUnmount(volumeRef('canUnmount', volume)),

    async lockVolume(volume, opts = {}) {
      volumeRef('lockVolume', volume);
      const client = core.libraryClient(opts.owner ?? 'library');
      let token: number;
      try {
        ({ token } = await core.lockVolume(client, volume, {
          wait: opts.wait ?? false,
          ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
        }));
      } catch (err) {
        core.clients.died(client.id);
        throw err;
      }
      const volumeId = core.volume(volume).id;
      let settle!: (reason: WardenError) => void;
      const lost = new Promise<WardenError>((resolve) => (settle = resolve));
      core.onLost(client.id, (reason) => {
        core.onLost(client.id, null);
        settle(reason);
      });
      let done = false;
      return {
        volume: volumeId,
        token,
        lost,
        async release(status = 0) {
          exitStatus(status);
          if (done) throw new WardenError('ENOLCK', 'this lease was already released');
          done = true;
          core.onLost(client.id, null);
          try {
            core.unlockVolume(client, volumeId, status, token);
          } finally {
            core.clients.died(client.id);
          }
        },
        drop() {
          if (done) return;
          done = true;
          core.onLost(client.id, null);
          core.clients.died(client.id);
        },
      };
    },

    async lockReboot(opts = {}) {
      const client = core.libraryClient(opts.owner ?? 'library');
      try {
        await core.lockReboot(client, opts.wait ?? false);
      } catch (err) {
        core.clients.died(client.id);
        throw err;
      }
      return {
        async release() {
          try {
            core.unlockReboot(client);
          } finally {
            core.clients.died(client.id);
          }
        },
      };
    },

    async listen(listenOptions) {
      router ??= new SocketRouter(core, listenImpl);
      await router.open(listenOptions);
      core.setControlSocket(path.resolve(listenOptions.socket));
    },

    async stop() {
      // SPEC §13 order: stop accepting, stop helpers and write counters, then close connections.
      // Closing them first would make every holder "die" and hand locks to queued rebuilds.
      router?.stopAccepting();
      await core.stop();
      await router?.close();
    },
  };
}

// Library callers are not type-checked at runtime: a non-string ref must be EINVAL, not a TypeError.
function volumeRef(call: string, volume: unknown): string {
  if (typeof volume === 'string') return volume;
  throw new WardenError('EINVAL', `${call}(volume): volume must be a volume id or an absolute root path, got ${shown(volume)}`);
}

// Same rule as the socket's unlock_volume schema: any safe integer, negative ones included.
function exitStatus(status: unknown): void {
  if (Number.isSafeInteger(status)) return;
  throw new WardenError('EINVAL', `release(status): status must be an integer exit status (0 = success), got ${shown(status)}`);
}

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
