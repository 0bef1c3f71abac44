import path from 'node:path';
import type { Observable } from 'rxjs';
import { systemClock } from '../adapters/clock.js';
import { createNodeFs } from '../adapters/fs.js';
import { createProcMountTable } from '../adapters/mount-table.js';
import { createNodeProcesses } from '../adapters/processes.js';
import { createFileStateStore } from '../adapters/state-store.js';
import type { Adapters } from '../adapters/types.js';
import { WardenError } from '../errors.js';
import type { WardenEvent } from '../protocol/events.js';
import type { StatusResult } from '../protocol/types.js';
import { SocketRouter, type Listen, type ListenOptions } from './socket-router.js';
import { Warden, type WardenOptions } from './warden.js';

/** A held volume lock (SPEC §12). */
export interface Lease {
  readonly volume: string;
  /** The fencing token of this grant (SPEC §5). */
  readonly token: number;
  /** Unlocks with `status` (0 = success, SPEC §4 counters). */
  release(status?: number): Promise<void>;
  /** Settles if the lock is lost without being released (volume gone, warden stopped). */
  readonly lost: Promise<WardenError>;
  /** Drops the client without unlocking: counts as its death (a failure, then handoff). */
  drop(): void;
}

/** A held reboot lock (SPEC §6). */
export interface RebootLease {
  release(): Promise<void>;
}

/** The embeddable warden (SPEC §12). */
export interface WardenHandle {
  start(): Promise<void>;
  status(volume?: string): StatusResult;
  readonly events$: Observable<WardenEvent>;
  lockVolume(volume: string, options?: { wait?: boolean; timeoutMs?: number; owner?: string }): Promise<Lease>;
  lockReboot(options?: { wait?: boolean; owner?: string }): Promise<RebootLease>;
  canUnmount(volume: string): Promise<void>;
  /** Skips the settle timer; returns the state right after. */
  check(volume: string): string;
  /** Clears `gaveUp` and the counters. */
  retry(volume: string): void;
  listen(options: ListenOptions): Promise<void>;
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
  const core = new Warden(options, defaultAdapters(options));
  let router: SocketRouter | null = null;
  const control = () => ({ id: 0, rights: 'control' as const });

  return {
    core,
    events$: core.events$,
    start: () => core.start(),
    status: (volume) => core.status(volume),
    check: (volume) => core.check(control(), volume),
    retry: (volume) => core.retry(control(), volume),
    canUnmount: (volume) => core.canUnmount(volume),

    async lockVolume(volume, opts = {}) {
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
      await router?.close();
      await core.stop();
    },
  };
}
