/**
 * Cluster locks on etcd (SPEC §15.4): one engine per daemon ("host"), one lease for all its keys,
 * any number of lock names under the configured prefix. It knows nothing of volumes or clients;
 * a lock backend wraps it. Semantics are SPEC §5 and §15.2 across hosts:
 * - FIFO by create revision: every request writes its key and, in the same transaction, reads
 *   the earlier keys that block it (any key for exclusive, exclusive keys for shared); it then
 *   watches the newest of them until it is deleted, then the next, as etcd's lock and rwmutex
 *   recipes watch their predecessor (no polling, no herd). Consecutive shared requests wait for
 *   the same exclusive keys, so they are granted together.
 * - The fencing token is the key's create revision.
 * - A lost lease loses every lock held with it (`onLost`, `ticket.lost`; late release: ENOLCK);
 *   with no live lease, requests fail at once with EAGAIN `etcd unreachable: …`, and the engine
 *   grants itself a new lease as soon as etcd answers.
 */
import { hostname } from 'node:os';
import type { Etcd3 } from 'etcd3';
import { systemClock } from '../adapters/clock.js';
import type { Clock } from '../adapters/types.js';
import { WardenError } from '../errors.js';
import { Ticket, type ClusterGrant, type ClusterTicket, type TicketHost } from './cluster-ticket.js';
import { createEtcdClient, DEFAULT_CALL_TIMEOUT_MS, unreachable } from './etcd-client.js';
import { CLUSTER_LOCK_NAME, parseEtcdOptions, type EtcdConfig, type EtcdConfigInput } from './etcd-options.js';
import { LeaseKeeper, type LeaseEvent, type LeaseState } from './lease-keeper.js';
import { blockingRange, encodeOwner, lockRange, requestKey, viewOf, type ClusterLockMode, type ClusterLockView } from './lock-keys.js';
import { createIfFree, deleteKey, enqueue, readAll, readEarlier, watchDeletion, type QueuePosition } from './lock-ops.js';

export type { ClusterGrant, ClusterTicket } from './cluster-ticket.js';
export type { ClusterLockMode, ClusterLockView } from './lock-keys.js';

export interface EtcdLockEngineOptions {
  /** The daemon config's `etcd` block (validated here; defaults applied). */
  etcd: EtcdConfigInput;
  /** This daemon's name in every host's `holders()` (default: the machine's hostname). */
  host?: string;
  /** Timers for request timeouts and the lease loop (default: the wall clock). */
  clock?: Clock;
  /** How long one etcd call may take before it counts as unreachable (default 1000 ms). */
  callTimeoutMs?: number;
}

/** What `status()` says: `live` when locks can be taken; otherwise why not. */
export interface EngineStatus {
  state: LeaseState;
  /** `etcd unreachable: …` while not live. */
  error?: string;
}

const KEY_RETRY_MIN_MS = 100;
const KEY_RETRY_MAX_MS = 2_000;

/**
 * Makes a lock engine for one daemon; call `start()` before requesting.
 *
 * @example
 * const engine = createEtcdLockEngine({ etcd: { endpoints: ['http://127.0.0.1:2379'], leaseTtlSec: 5 }, host: 'web-1' });
 * engine.start();
 * await engine.whenLive();
 * const ticket = engine.request('shared-disk', 'exclusive', 'rsync', { wait: true, timeoutMs: 10_000 });
 * const { token } = await ticket.outcome;
 * await ticket.release();
 * await engine.stop();
 */
export function createEtcdLockEngine(options: EtcdLockEngineOptions): EtcdLockEngine {
  return new EtcdLockEngine(options);
}

export class EtcdLockEngine implements TicketHost {
  readonly host: string;
  readonly config: EtcdConfig;
  private readonly client: Etcd3;
  private readonly clock: Clock;
  private readonly keeper: LeaseKeeper;
  private readonly tickets = new Set<Ticket>();
  private readonly lostListeners = new Set<(grant: ClusterGrant, reason: WardenError) => void>();
  private readonly liveWaiters = new Set<() => void>();
  private seq = 0;
  private stopped = false;

  constructor(options: EtcdLockEngineOptions) {
    this.config = parseEtcdOptions(options.etcd);
    this.host = options.host ?? hostname();
    this.clock = options.clock ?? systemClock();
    const callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.client = createEtcdClient(this.config, callTimeoutMs);
    this.keeper = new LeaseKeeper(this.client, this.config.leaseTtlSec, this.clock, callTimeoutMs, (e) => this.onLease(e));
  }

  /** Grants the lease and keeps it; safe to call once the engine exists, a no-op after `stop()`. */
  start(): void {
    if (!this.stopped) this.keeper.start();
  }

  /** Resolves once a lease is live (at once if it is); rejects ECONNRESET if the engine stops first. */
  whenLive(): Promise<void> {
    if (this.keeper.liveLease() !== null) return Promise.resolve();
    if (this.stopped) return Promise.reject(new WardenError('ECONNRESET', 'the cluster lock engine stopped'));
    return new Promise((resolve, reject) => {
      const done = () => (this.stopped ? reject(new WardenError('ECONNRESET', 'the cluster lock engine stopped')) : resolve());
      this.liveWaiters.add(done);
    });
  }

  status(): EngineStatus {
    const error = this.keeper.state === 'live' ? undefined : this.keeper.lastError?.message;
    return { state: this.keeper.state, ...(error !== undefined ? { error } : {}) };
  }

  /**
   * Asks for lock `name` in `mode` for `owner` (a name shown in every host's `holders()`).
   * `wait: false`: granted now or EBUSY. `timeoutMs`: ETIMEDOUT after that long waiting.
   */
  request(name: string, mode: ClusterLockMode, owner: string, options: { wait?: boolean; timeoutMs?: number } = {}): ClusterTicket {
    const ticket = new Ticket(this, name, mode, owner);
    const problem = this.refusal(name, mode, options.timeoutMs);
    if (problem) {
      ticket.fail(problem);
      return ticket;
    }
    this.tickets.add(ticket);
    if (options.timeoutMs !== undefined) {
      const timer = this.clock.setTimeout(
        () => ticket.fail(new WardenError('ETIMEDOUT', `timed out after ${options.timeoutMs} ms waiting for cluster lock "${name}"`)),
        options.timeoutMs,
      );
      ticket.onEnd(() => this.clock.clearTimeout(timer));
    }
    void this.acquire(ticket, options.wait ?? false);
    return ticket;
  }

  /** Every host's holders of lock `name` (`{host, owner, mode, token}`) and how many wait. Rejects EAGAIN when etcd is unreachable. */
  async holders(name: string): Promise<ClusterLockView> {
    if (!CLUSTER_LOCK_NAME.test(name)) throw new WardenError('EINVAL', `cluster lock name must match ${CLUSTER_LOCK_NAME.source}`);
    try {
      return viewOf(await readAll(this.client, lockRange(this.config.prefix, name)));
    } catch (err) {
      throw unreachable(err);
    }
  }

  /** Calls `listener` for each held grant that is lost; returns the function that unsubscribes. */
  onLost(listener: (grant: ClusterGrant, reason: WardenError) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** Ends every request (pending: ECONNRESET; held: lost) and revokes the lease, so every key goes at once. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const reason = new WardenError('ECONNRESET', 'the cluster lock engine stopped');
    for (const ticket of [...this.tickets]) ticket.engineStopped(reason);
    for (const wake of this.liveWaiters) wake();
    this.liveWaiters.clear();
    await this.keeper.stop();
    this.client.close();
  }

  /** @internal TicketHost */
  async removeKey(key: string, leaseId: string): Promise<void> {
    let delay = KEY_RETRY_MIN_MS;
    // Until the key is gone, or its lease is (then etcd removed it for us).
    while (!this.stopped && this.keeper.liveLease() === leaseId) {
      try {
        await deleteKey(this.client, key);
        return;
      } catch {
        await new Promise((resolve) => this.clock.setTimeout(resolve, delay));
        delay = Math.min(KEY_RETRY_MAX_MS, delay * 2);
      }
    }
  }

  /** @internal TicketHost */
  forget(ticket: Ticket): void {
    this.tickets.delete(ticket);
  }

  /** @internal TicketHost */
  reportLost(grant: ClusterGrant, reason: WardenError): void {
    for (const listener of [...this.lostListeners]) {
      try {
        listener(grant, reason);
      } catch {
        // One listener's bug must not keep the others from hearing of the loss.
      }
    }
  }

  private refusal(name: string, mode: ClusterLockMode, timeoutMs: number | undefined): WardenError | null {
    if (this.stopped) return new WardenError('ECONNRESET', 'the cluster lock engine stopped');
    if (!CLUSTER_LOCK_NAME.test(name)) return new WardenError('EINVAL', `cluster lock name must match ${CLUSTER_LOCK_NAME.source}`);
    if (mode !== 'exclusive' && mode !== 'shared') return new WardenError('EINVAL', 'mode must be "exclusive" or "shared"');
    if (timeoutMs !== undefined && !(Number.isSafeInteger(timeoutMs) && timeoutMs >= 0 && timeoutMs <= 2_147_483_647)) {
      return new WardenError('EINVAL', 'timeoutMs must be an integer number of milliseconds (0 to 2147483647)');
    }
    if (this.keeper.liveLease() === null) return this.keeper.lastError ?? unreachable(new Error('no etcd lease yet (still connecting)'));
    return null;
  }

  private async acquire(ticket: Ticket, wait: boolean): Promise<void> {
    const leaseId = this.keeper.liveLease()!;
    const key = requestKey(this.config.prefix, ticket.lock, ticket.mode, BigInt(leaseId).toString(16), ++this.seq);
    const value = encodeOwner({ host: this.host, owner: ticket.owner, mode: ticket.mode });
    const blocking = blockingRange(this.config.prefix, ticket.lock, ticket.mode);
    try {
      if (!wait) {
        const revision = await createIfFree(this.client, blocking, key, value, leaseId);
        if (revision === null) return ticket.fail(new WardenError('EBUSY', `cluster lock "${ticket.lock}" is held`));
        if (ticket.keyCreated(key, leaseId)) this.grantIfLive(ticket, revision);
        return;
      }
      let position: QueuePosition = await enqueue(this.client, blocking, key, value, leaseId);
      if (!ticket.keyCreated(key, leaseId)) return;
      // Wait for the newest earlier key to go, then the next: each watch starts at the revision the
      // keys were read at, so one deleted meanwhile is reported at once. Read again only when the
      // slice is used up or a watch cannot tell.
      for (;;) {
        let sure = true;
        for (const earlier of position.earlier) {
          sure = await this.deletion(ticket, earlier, position.watchFrom);
          if (!ticket.isPending()) return;
          if (!sure) break;
        }
        if (sure && !position.more) break;
        position = await readEarlier(this.client, blocking, position.revision);
        if (!ticket.isPending()) return;
      }
      this.grantIfLive(ticket, position.revision);
    } catch (err) {
      ticket.etcdFailed(err);
    }
  }

  // A grant is only as good as the lease under it: past the lease's local deadline, say EAGAIN.
  private grantIfLive(ticket: Ticket, revision: number): void {
    if (this.keeper.liveLease() === ticket.leaseId) ticket.granted(revision);
    else ticket.etcdFailed(this.keeper.lastError ?? unreachable(new Error('the etcd lease lapsed')));
  }

  // Resolves true when `key` is deleted, false when the watch cannot tell; at once if the ticket ends meanwhile.
  private deletion(ticket: Ticket, key: string, fromRevision: number): Promise<boolean> {
    return new Promise((resolve) => {
      let unregister = () => {};
      const stop = watchDeletion(this.client, key, fromRevision, (deleted) => {
        unregister();
        resolve(deleted);
      });
      unregister = ticket.onEnd(() => {
        stop();
        resolve(false);
      });
    });
  }

  private onLease(event: LeaseEvent): void {
    if (event.type === 'live') {
      for (const wake of this.liveWaiters) wake();
      this.liveWaiters.clear();
      return;
    }
    if (event.type !== 'lost') return;
    for (const ticket of [...this.tickets]) {
      if (ticket.leaseId === event.leaseId || ticket.leaseId === null) ticket.leaseLost(event.reason);
    }
  }
}
