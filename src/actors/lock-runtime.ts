import { createActor, type Actor } from 'xstate';
import { WardenError } from '../errors.js';
import { lockMachine, type LockClient, type LockEmitted } from '../machines/lock.js';
import { waiterMachine, type WaiterOutput } from '../machines/waiter.js';
import type { LockView } from '../protocol/types.js';
import type { ActorEnv } from './env.js';

/**
 * The seam between the protocol and whoever decides grants. `LocalLockBackend` arbitrates in
 * this process; a backend that arbitrates across hosts (etcd: lease + revision as the fencing
 * token) implements the same five calls without touching the protocol, CLI or machine states.
 */
export interface LockBackend {
  /** Resolves with the fencing token once granted; rejects with a `WardenError` (EBUSY, ECANCELED, ...). */
  request(client: LockClient, options: { wait: boolean; timeoutMs?: number }): Promise<{ token: number }>;
  unlock(client: number, status: number, token?: number): void;
  cancel(client: number): void;
  clientDied(client: number): void;
  /** The volume went (ENOENT to every waiter), or the warden stopped (`reason`, e.g. ECONNRESET). */
  gone(reason?: WardenError): void;
  view(): LockView;
}

/** What the lock reports back to its volume and to subscribers. */
export interface LockObserver {
  granted(holder: LockClient, token: number): void;
  released(holder: LockClient, status: number): void;
  holderDied(holder: LockClient): void;
}

interface Pending {
  resolve(value: { token: number }): void;
  reject(error: WardenError): void;
  timeoutMs?: number;
}

/**
 * The in-process lock of one volume: the lock actor plus one waiter actor per queued request,
 * held in a Map (never as children of one parent: xstate copies the children map on every spawn).
 */
export class LocalLockBackend implements LockBackend {
  readonly actor: Actor<typeof lockMachine>;
  private readonly waiters = new Map<string, { actor: Actor<typeof waiterMachine>; client: number; pending: Pending }>();
  private readonly immediate = new Map<string, Pending>();
  private unlockOutcome: WardenError | null | undefined;
  /** Set when the lock ended because the warden stopped, not because the volume went. */
  private goneReason: WardenError | null = null;
  private nextRequest = 1;

  constructor(
    private readonly env: ActorEnv,
    private readonly volumeId: string,
    initialToken: number,
    private readonly observer: LockObserver,
    /** Persists the token before any grant is answered (SPEC §5: never repeats). */
    private readonly persistToken: (token: number) => void,
  ) {
    this.actor = createActor(lockMachine, {
      id: `lock:${volumeId}`,
      input: { volumeId, token: initialToken, maxWaiters: env.limits.maxWaiters },
      clock: env.clock,
      inspect: env.inspect,
    });
    this.actor.on('*', (event) => this.onEmitted(event as LockEmitted));
    this.actor.start();
  }

  request(client: LockClient, options: { wait: boolean; timeoutMs?: number }): Promise<{ token: number }> {
    if (this.isDead()) return Promise.reject(new WardenError('ENOENT', `volume ${this.volumeId} is gone`));
    const requestId = `${this.volumeId}#${this.nextRequest++}`;
    return new Promise((resolve, reject) => {
      const pending: Pending = { resolve, reject, ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) };
      // The lock decides granted, refused or queued (then a waiter actor owns the reply): at once, or,
      // when asked from inside one of its own steps (an observer callback), as soon as that step ends.
      this.immediate.set(requestId, pending);
      this.actor.send({ type: 'LOCK_REQUESTED', requestId, client, wait: options.wait });
    });
  }

  unlock(client: number, status: number, token?: number): void {
    if (this.isDead()) throw new WardenError('ENOENT', `volume ${this.volumeId} is gone`);
    this.unlockOutcome = undefined;
    this.actor.send({ type: 'UNLOCK_REQUESTED', requestId: 'unlock', client, status, token });
    const outcome = this.unlockOutcome;
    this.unlockOutcome = undefined;
    if (outcome) throw outcome;
  }

  cancel(client: number): void {
    for (const waiter of [...this.waiters.values()]) {
      if (waiter.client === client) waiter.actor.send({ type: 'CANCELLED' });
    }
  }

  clientDied(client: number): void {
    for (const waiter of [...this.waiters.values()]) {
      if (waiter.client === client) waiter.actor.send({ type: 'CLIENT_DIED' });
    }
    if (!this.isDead()) this.actor.send({ type: 'CLIENT_DIED', client });
  }

  gone(reason?: WardenError): void {
    if (this.isDead()) return;
    this.goneReason = reason ?? null;
    this.actor.send({ type: 'VOLUME_GONE' });
    // Anything still waiting (it was not in the queue any more) is answered too: exactly one reply each.
    for (const waiter of [...this.waiters.values()]) waiter.actor.send({ type: 'VOLUME_GONE' });
    this.actor.stop();
    // A request still in the lock's mailbox when it died is answered as if it came just after.
    for (const pending of this.immediate.values()) pending.reject(this.goneReason ?? new WardenError('ENOENT', `volume ${this.volumeId} is gone`));
    this.immediate.clear();
  }

  isDead(): boolean {
    return this.actor.getSnapshot().status !== 'active';
  }

  holder(): LockClient | null {
    return this.actor.getSnapshot().context.holder;
  }

  view(): LockView {
    const snapshot = this.actor.getSnapshot();
    const state = snapshot.status === 'active' ? (snapshot.value as LockView['state']) : 'dead';
    const { holder, queue, token } = snapshot.context;
    return { state, ...(holder ? { holder: { ...holder } } : {}), waiters: queue.size, token };
  }

  private onEmitted(event: LockEmitted): void {
    switch (event.type) {
      case 'granted': {
        this.persistToken(event.token);
        this.observer.granted(event.client, event.token);
        const now = this.take(event.requestId);
        if (now) now.resolve({ token: event.token });
        else this.waiters.get(event.requestId)?.actor.send({ type: 'LOCK_GRANTED', token: event.token });
        return;
      }
      case 'queued': {
        const pending = this.take(event.requestId)!;
        this.spawnWaiter(event.requestId, event.client.client, pending);
        return;
      }
      case 'refused': {
        const error = new WardenError(event.code, this.refusal(event.code));
        if (event.requestId === 'unlock') this.unlockOutcome = error;
        else this.take(event.requestId)?.reject(error);
        return;
      }
      case 'released':
        this.unlockOutcome = null;
        this.observer.released(event.holder, event.status);
        return;
      case 'holderDied':
        this.observer.holderDied(event.holder);
        return;
      case 'dead':
        for (const queued of event.waiters) this.waiters.get(queued.waiterId)?.actor.send({ type: 'VOLUME_GONE' });
        return;
    }
  }

  /** A refusal in words that fit this lock (the shared defaults cover several routines). */
  private refusal(code: Extract<LockEmitted, { type: 'refused' }>['code']): string {
    const holder = this.holder();
    const by = holder ? ` by ${holder.name || `client ${holder.client}`}` : '';
    switch (code) {
      case 'EDEADLK': return `you already hold the lock of ${this.volumeId}`;
      case 'EALREADY': return `you already wait for the lock of ${this.volumeId}`;
      case 'EBUSY': return `${this.volumeId} is locked${by}: wait for it or try again later`;
      case 'ENOBUFS': return `too many waiters already queue for ${this.volumeId}: try again later`;
      case 'ENOLCK': return `${this.volumeId} is not locked`;
      case 'EPERM': return `you do not hold the lock of ${this.volumeId} (or your token is not the current one)`;
    }
  }

  /** The pending request the lock just answered; it leaves the map so it is answered once. */
  private take(requestId: string): Pending | undefined {
    const pending = this.immediate.get(requestId);
    this.immediate.delete(requestId);
    return pending;
  }

  private spawnWaiter(waiterId: string, client: number, pending: Pending): void {
    const { timeoutMs } = pending;
    const actor = createActor(waiterMachine, {
      id: `waiter:${waiterId}`,
      input: { waiterId, volumeId: this.volumeId, client, ...(timeoutMs !== undefined ? { timeoutMs } : {}) },
      clock: this.env.clock,
      inspect: this.env.inspect,
    });
    this.waiters.set(waiterId, { actor, client, pending });
    actor.subscribe({
      complete: () => this.waiterEnded(waiterId, actor.getSnapshot().output as WaiterOutput),
    });
    actor.start();
  }

  private waiterEnded(waiterId: string, output: WaiterOutput): void {
    const waiter = this.waiters.get(waiterId);
    if (!waiter) return;
    this.waiters.delete(waiterId);
    if (output.outcome === 'granted') {
      waiter.pending.resolve({ token: output.token });
      return;
    }
    if (!this.isDead()) this.actor.send({ type: 'WAITER_LEFT', waiterId });
    // A dead client gets no reply; everyone else gets exactly one.
    if (output.code === null) return;
    const stopped = output.code === 'ENOENT' ? this.goneReason : null;
    waiter.pending.reject(stopped ?? new WardenError(output.code, output.code === 'ENOENT' ? `volume ${this.volumeId} is gone` : undefined));
  }
}
