/**
 * One cluster lock request, from its key's creation to its one outcome and, once granted, to its
 * release or loss. It owns its key in etcd: whichever way it ends, the key is deleted (or left to
 * the lease when etcd cannot be reached), and it answers exactly once.
 */
import { WardenError } from '../errors.js';
import { unreachable } from './etcd-client.js';
import type { ClusterLockMode } from './lock-keys.js';

/** A granted cluster lock: what a caller fences its writes with. */
export interface ClusterGrant {
  lock: string;
  mode: ClusterLockMode;
  owner: string;
  /** The key's create revision in etcd: strictly increasing per lock across hosts and restarts. */
  token: number;
}

/** Where a ticket is: `pending` until its one outcome, then `held`, `lost` or `done`. */
export type TicketState = 'pending' | 'held' | 'lost' | 'done';

/**
 * The handle `engine.request()` returns.
 *
 * @example
 * const ticket = engine.request('shared-disk', 'exclusive', 'backup', { wait: true, timeoutMs: 5000 });
 * const grant = await ticket.outcome;            // or EBUSY, ETIMEDOUT, ECANCELED, EAGAIN
 * void ticket.lost.then((why) => stopWriting(why));
 * await ticket.release();                         // ENOLCK if it was lost meanwhile
 */
export interface ClusterTicket {
  readonly lock: string;
  readonly mode: ClusterLockMode;
  readonly owner: string;
  readonly state: TicketState;
  /** Settles exactly once: the grant, or a `WardenError` (EBUSY, ETIMEDOUT, ECANCELED, EAGAIN, ECONNRESET). */
  readonly outcome: Promise<ClusterGrant>;
  /** Settles (never rejects) if a held grant is lost: lease expired, or the engine stopped. */
  readonly lost: Promise<WardenError>;
  /** Withdraws a pending request (outcome ECANCELED); no effect once it has an outcome. */
  cancel(): void;
  /** Unlocks a held grant. Rejects `ENOLCK` if it is not held (lost, released, never granted). */
  release(): Promise<void>;
  /** The requester died: its key goes at once, whatever the state (a pending outcome is ECONNRESET). */
  abandon(): void;
}

/** What a ticket needs from its engine. */
export interface TicketHost {
  /** Deletes the key now, retrying in the background while etcd is away and the lease lives. */
  removeKey(key: string, leaseId: string): Promise<void>;
  /** The ticket is finished with: forget it. */
  forget(ticket: Ticket): void;
  /** A held grant was lost: tell the engine's listeners. */
  reportLost(grant: ClusterGrant, reason: WardenError): void;
}

export class Ticket implements ClusterTicket {
  readonly outcome: Promise<ClusterGrant>;
  readonly lost: Promise<WardenError>;
  private stateNow: TicketState = 'pending';
  private settleOutcome!: { resolve(grant: ClusterGrant): void; reject(err: WardenError): void };
  private settleLost!: (reason: WardenError) => void;
  private grant: ClusterGrant | null = null;
  private lostReason: WardenError | null = null;
  /** Set once the key exists in etcd (with this lease): cleanup deletes it. */
  private key: { key: string; leaseId: string } | null = null;
  /** Stops whatever the pending request is waiting on (a watch, a timer). */
  private readonly stoppers = new Set<() => void>();

  constructor(
    private readonly host: TicketHost,
    readonly lock: string,
    readonly mode: ClusterLockMode,
    readonly owner: string,
  ) {
    this.outcome = new Promise((resolve, reject) => { this.settleOutcome = { resolve, reject }; });
    // A caller that never looks at the outcome must not crash the process with an unhandled rejection.
    this.outcome.catch(() => {});
    this.lost = new Promise((resolve) => { this.settleLost = resolve; });
  }

  get state(): TicketState {
    return this.stateNow;
  }

  /** The lease this ticket's key was created with, once it exists. */
  get leaseId(): string | null {
    return this.key?.leaseId ?? null;
  }

  /** Records that the key now exists; false if the ticket already has its outcome (then the key goes). */
  keyCreated(key: string, leaseId: string): boolean {
    this.key = { key, leaseId };
    if (this.stateNow === 'pending') return true;
    void this.host.removeKey(key, leaseId);
    return false;
  }

  /** Registers what to stop when the request ends (timer, watch), or runs it now if it has; returns the unregister. */
  onEnd(stop: () => void): () => void {
    if (this.stateNow !== 'pending') {
      stop();
      return () => {};
    }
    this.stoppers.add(stop);
    return () => this.stoppers.delete(stop);
  }

  isPending(): boolean {
    return this.stateNow === 'pending';
  }

  granted(token: number): void {
    if (this.stateNow !== 'pending') return;
    this.stateNow = 'held';
    this.stopWaiting();
    this.grant = { lock: this.lock, mode: this.mode, owner: this.owner, token };
    this.settleOutcome.resolve(this.grant);
  }

  /** The one failure outcome; the key, if made, is deleted. */
  fail(error: WardenError): void {
    if (this.stateNow !== 'pending') return;
    this.stateNow = 'done';
    this.stopWaiting();
    this.settleOutcome.reject(error);
    this.dropKey();
  }

  /** The lease under this ticket's key is gone: a held grant is lost, a pending request fails. */
  leaseLost(reason: WardenError): void {
    if (this.stateNow === 'pending') return this.fail(reason);
    if (this.stateNow !== 'held') return;
    this.stateNow = 'lost';
    this.lostReason = reason;
    this.key = null; // the lease took it; never touch the key again
    this.host.forget(this);
    this.settleLost(reason);
    this.host.reportLost(this.grant!, reason);
  }

  cancel(): void {
    this.fail(new WardenError('ECANCELED', `the request for cluster lock "${this.lock}" was cancelled`));
  }

  async release(): Promise<void> {
    if (this.stateNow === 'lost') {
      throw new WardenError('ENOLCK', `cluster lock "${this.lock}" was lost (${this.lostReason!.message}): it is no longer held`);
    }
    if (this.stateNow !== 'held') throw new WardenError('ENOLCK', `cluster lock "${this.lock}" is not held by this request`);
    this.stateNow = 'done';
    await this.dropKey();
  }

  abandon(): void {
    if (this.stateNow === 'pending') return this.fail(new WardenError('ECONNRESET', `the requester of cluster lock "${this.lock}" died`));
    if (this.stateNow !== 'held') return;
    this.stateNow = 'done';
    void this.dropKey();
  }

  /** The engine stopped: a pending request gets ECONNRESET, a held grant is lost with it. */
  engineStopped(reason: WardenError): void {
    this.leaseLost(reason);
  }

  /** An etcd call failed while pending: `EAGAIN`, as SPEC §15.4 answers when etcd is unreachable. */
  etcdFailed(cause: unknown): void {
    this.fail(cause instanceof WardenError ? cause : unreachable(cause));
  }

  private stopWaiting(): void {
    for (const stop of this.stoppers) stop();
    this.stoppers.clear();
  }

  private dropKey(): Promise<void> {
    this.host.forget(this);
    const key = this.key;
    this.key = null;
    return key ? this.host.removeKey(key.key, key.leaseId) : Promise.resolve();
  }
}
