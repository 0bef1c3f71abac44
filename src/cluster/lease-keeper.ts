/**
 * The daemon's etcd lease, kept alive by its own loop so loss is known in time. etcd3's `Lease`
 * declares a lease lost only after 2 × TTL without a keepalive, long after etcd has expired it
 * and granted its locks to another host; here the lease counts as lost at `sent + TTL − margin`,
 * where `sent` is when the last answered keepalive left this process (etcd's expiry is measured
 * from when it arrived, so never earlier). A lost lease is revoked (best effort) and a new one
 * granted as soon as etcd answers again.
 */
import type { Duplex } from 'node:stream';
import type { Etcd3 } from 'etcd3';
import type { Clock } from '../adapters/types.js';
import type { WardenError } from '../errors.js';
import { unreachable } from './etcd-client.js';

/** What the keeper tells its engine. */
export type LeaseEvent =
  | { type: 'live'; leaseId: string }
  | { type: 'lost'; leaseId: string; reason: WardenError }
  | { type: 'unreachable'; reason: WardenError };

export type LeaseState = 'connecting' | 'live' | 'unreachable' | 'stopped';

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2_000;

/**
 * Grants one lease, refreshes it every TTL/3, declares it lost when a refresh cannot be had in
 * time, and grants a new one after. Each lease id is handed out once (`live`), and lost once.
 *
 * @example
 * const keeper = new LeaseKeeper(client, 5, systemClock(), 1500, (e) => console.log(e.type));
 * keeper.start();   // 'live' once etcd grants; 'lost' if refreshes fail for ~TTL
 * await keeper.stop();   // revokes: every key on the lease vanishes at once
 */
export class LeaseKeeper {
  private stateNow: LeaseState = 'connecting';
  private lease: { id: string; deadline: number } | null = null;
  private error: WardenError | null = null;
  private retryMs = RETRY_MIN_MS;
  private refreshTimer: unknown = null;
  private expiryTimer: unknown = null;
  /** Bumped whenever the lease changes, so answers about an older lease are ignored. */
  private epoch = 0;

  constructor(
    private readonly client: Etcd3,
    private readonly ttlSec: number,
    private readonly clock: Clock,
    private readonly callTimeoutMs: number,
    private readonly listener: (event: LeaseEvent) => void,
  ) {}

  get state(): LeaseState {
    return this.stateNow;
  }

  /** Why the last grant or refresh failed, while not `live`. */
  get lastError(): WardenError | null {
    return this.error;
  }

  /** The live lease's id, or null: only while its local deadline has not passed. */
  liveLease(): string | null {
    if (this.stateNow !== 'live' || this.lease === null) return null;
    return this.clock.now() < this.lease.deadline ? this.lease.id : null;
  }

  start(): void {
    if (this.stateNow === 'stopped') return;
    this.grant();
  }

  /** Stops refreshing and revokes the lease, so this daemon's keys go now, not after the TTL. */
  async stop(): Promise<void> {
    const lease = this.lease;
    this.stateNow = 'stopped';
    this.epoch++;
    this.clearTimers();
    this.lease = null;
    if (lease) await this.revoke(lease.id);
  }

  // How long before etcd's expiry we stop trusting the lease: covers a late timer on a busy loop.
  private margin(): number {
    return Math.min(1_000, (this.ttlSec * 1000) / 4);
  }

  // As etcd's Go client: three refreshes per TTL (whole ms: timers and simulated clocks want integers).
  private refreshEveryMs(): number {
    return Math.round((this.ttlSec * 1000) / 3);
  }

  private grant(): void {
    const epoch = ++this.epoch;
    const sent = this.clock.now();
    this.client.leaseClient.leaseGrant({ TTL: this.ttlSec }).then(
      (res) => {
        if (epoch !== this.epoch) {
          void this.revoke(res.ID); // stopped while the grant was in flight
          return;
        }
        this.lease = { id: res.ID, deadline: sent + Number(res.TTL) * 1000 - this.margin() };
        this.stateNow = 'live';
        this.error = null;
        this.retryMs = RETRY_MIN_MS;
        this.armExpiry();
        this.scheduleRefresh(this.refreshEveryMs());
        this.listener({ type: 'live', leaseId: res.ID });
      },
      (err) => {
        if (epoch !== this.epoch) return;
        this.fail(unreachable(err));
      },
    );
  }

  private fail(reason: WardenError): void {
    this.stateNow = 'unreachable';
    this.error = reason;
    this.listener({ type: 'unreachable', reason });
    const delay = this.retryMs;
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    this.refreshTimer = this.clock.setTimeout(() => this.grant(), delay);
  }

  private scheduleRefresh(ms: number): void {
    if (this.refreshTimer !== null) this.clock.clearTimeout(this.refreshTimer);
    this.refreshTimer = this.clock.setTimeout(() => this.refresh(), ms);
  }

  private armExpiry(): void {
    if (this.expiryTimer !== null) this.clock.clearTimeout(this.expiryTimer);
    const lease = this.lease!;
    this.expiryTimer = this.clock.setTimeout(() => this.expire(lease.id, null), Math.max(0, lease.deadline - this.clock.now()));
  }

  private refresh(): void {
    this.refreshTimer = null;
    const lease = this.lease;
    if (!lease || this.stateNow !== 'live') return;
    const epoch = this.epoch;
    const sent = this.clock.now();
    // Never wait past the deadline: a silent member must not use up the time another could answer in.
    const wait = Math.max(50, Math.min(this.callTimeoutMs, Math.round((lease.deadline - sent) / 2)));
    keepaliveOnce(this.client, lease.id, wait).then(
      (ttl) => {
        if (epoch !== this.epoch) return;
        if (ttl <= 0) return this.expire(lease.id, 'etcd says the lease expired');
        lease.deadline = Math.max(lease.deadline, sent + ttl * 1000 - this.margin());
        if (this.clock.now() >= lease.deadline) return this.expire(lease.id, null);
        this.armExpiry();
        this.scheduleRefresh(this.refreshEveryMs());
      },
      (err) => {
        if (epoch !== this.epoch) return;
        this.error = unreachable(err);
        this.scheduleRefresh(RETRY_MIN_MS);
      },
    );
  }

  private expire(leaseId: string, said: string | null): void {
    if (this.lease?.id !== leaseId || this.stateNow === 'stopped') return;
    this.epoch++;
    this.clearTimers();
    this.lease = null;
    const why = said ?? `no keepalive answered within the ${this.ttlSec} s lease TTL${this.error ? ` (${this.error.message})` : ''}`;
    const reason = unreachable(new Error(`lease lost: ${why}`));
    this.stateNow = 'unreachable';
    this.error = reason;
    this.listener({ type: 'lost', leaseId, reason });
    void this.revoke(leaseId); // if etcd is there after all, our keys go now rather than at its expiry
    this.grant();
  }

  private async revoke(leaseId: string): Promise<void> {
    try {
      await this.client.leaseClient.leaseRevoke({ ID: leaseId });
    } catch {
      // Unreachable or already expired: etcd drops the keys at expiry either way.
    }
  }

  private clearTimers(): void {
    if (this.refreshTimer !== null) this.clock.clearTimeout(this.refreshTimer);
    if (this.expiryTimer !== null) this.clock.clearTimeout(this.expiryTimer);
    this.refreshTimer = null;
    this.expiryTimer = null;
  }
}

/** One keepalive round trip on its own stream, bounded by `waitMs`; resolves etcd's remaining TTL (0: expired). */
async function keepaliveOnce(client: Etcd3, leaseId: string, waitMs: number): Promise<number> {
  // A grpc-js duplex call underneath; etcd3's interface type leaves out the EventEmitter half.
  const stream = (await client.leaseClient.leaseKeepAlive({ deadline: Date.now() + waitMs })) as unknown as Duplex;
  try {
    return await new Promise<number>((resolve, reject) => {
      stream.once('data', (res: { TTL: string }) => resolve(Number(res.TTL)));
      stream.once('error', reject);
      stream.once('end', () => reject(new Error('keepalive stream ended')));
      stream.write({ ID: leaseId });
    });
  } finally {
    stream.removeAllListeners('data');
    stream.on('error', () => {}); // a late cancel after end must not become an unhandled 'error'
    stream.end();
  }
}
