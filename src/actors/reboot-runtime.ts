import { createActor, type Actor } from 'xstate';
import { WardenError } from '../errors.js';
import { rebootLockMachine, type RebootEmitted } from '../machines/reboot-lock.js';
import type { HolderView, StatusResult } from '../protocol/types.js';
import type { ActorEnv } from './env.js';

interface Pending {
  resolve(): void;
  reject(error: WardenError): void;
}

/** What the reboot lock needs from its warden. */
export interface RebootHost {
  /** Examines every volume (SPEC §6): the first busy volume's id, or null when all are clean. */
  examine(): Promise<string | null>;
  /**
   * The first volume that is locked or rebuilding right now, without looking at files. Called in
   * the same tick as a grant, so a volume locked while `examine` was reading cannot slip past it.
   */
  busyNow(): string | null;
  heldChanged(held: boolean, holder: HolderView): void;
}

/** The reboot lock actor wired to the warden: examination, the single waiter, release on death. */
export class RebootRuntime {
  readonly actor: Actor<typeof rebootLockMachine>;
  private readonly pending = new Map<string, Pending>();
  private waiterPending: Pending | null = null;
  /** Requests whose volumes are being examined; a client that dies meanwhile must not be granted. */
  private readonly examining = new Set<{ client: number; died: boolean }>();
  private nextRequest = 1;
  private reexamining = false;
  private reexamineAgain = false;
  /** A volume or lock changed while a request's examination ran: its findings may be out of date. */
  private changedWhileExamining = false;

  constructor(env: ActorEnv, private readonly host: RebootHost) {
    this.actor = createActor(rebootLockMachine, { id: 'rebootLock', clock: env.clock, inspect: env.inspect });
    this.actor.on('*', (event) => this.onEmitted(event as RebootEmitted));
    this.actor.start();
  }

  held(): boolean {
    return this.actor.getSnapshot().value === 'held';
  }

  async lock(client: HolderView, wait: boolean): Promise<void> {
    const state = this.actor.getSnapshot().value;
    const request = { client: client.client, died: false };
    if (this.examining.size === 0) this.changedWhileExamining = false;
    this.examining.add(request);
    let busyVolume: string | null;
    try {
      // Held already: answer EALREADY without examining (a shutdown may proceed).
      busyVolume = state === 'held' ? null : await this.host.examine();
    } finally {
      this.examining.delete(request);
    }
    // Its death was already delivered: granting now would leave the lock held by nobody alive.
    if (request.died) throw new WardenError('ECONNRESET', 'the client disconnected while the volumes were examined');
    if (state !== 'held') busyVolume ??= this.host.busyNow();
    const requestId = `reboot#${this.nextRequest++}`;
    const answer = new Promise<void>((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject });
      this.actor.send({ type: 'REBOOT_REQUESTED', requestId, client, wait, busyVolume });
      this.pending.delete(requestId);
    });
    // What made it wait may have cleared while the volumes were examined (a handoff re-examines
    // only a waiting lock): if anything changed meanwhile, look once more now that it waits.
    if (this.changedWhileExamining && this.actor.getSnapshot().context.waiter?.client === client.client) this.reexamine();
    return answer;
  }

  unlock(client: number): void {
    let refused: WardenError | null = null;
    const requestId = `unlock#${this.nextRequest++}`;
    this.pending.set(requestId, { resolve: () => {}, reject: (e) => { refused = e; } });
    this.actor.send({ type: 'UNLOCK_REQUESTED', requestId, client });
    this.pending.delete(requestId);
    if (refused) throw refused;
  }

  clientDied(client: number): void {
    for (const request of this.examining) if (request.client === client) request.died = true;
    this.actor.send({ type: 'CLIENT_DIED', client });
  }

  /** After any volume or lock change while someone waits: examine again, grant when all are clean. */
  reexamine(): void {
    if (this.actor.getSnapshot().value !== 'waiting') {
      if (this.examining.size > 0) this.changedWhileExamining = true;
      return;
    }
    if (this.reexamining) {
      this.reexamineAgain = true;
      return;
    }
    this.reexamining = true;
    void this.host.examine().then(
      (busy) => {
        this.reexamining = false;
        if (busy === null && this.host.busyNow() === null) this.actor.send({ type: 'VOLUMES_SETTLED' });
        if (this.reexamineAgain) {
          this.reexamineAgain = false;
          this.reexamine();
        }
      },
      () => {
        this.reexamining = false;
      },
    );
  }

  view(): StatusResult['reboot'] {
    const snapshot = this.actor.getSnapshot();
    const { holder, waiter } = snapshot.context;
    return {
      state: snapshot.value as StatusResult['reboot']['state'],
      ...(holder ? { holder: { ...holder } } : {}),
      ...(waiter ? { waiter: { ...waiter } } : {}),
    };
  }

  stop(): void {
    this.actor.stop();
  }

  private onEmitted(event: RebootEmitted): void {
    switch (event.type) {
      case 'granted':
        if (event.requestId) this.pending.get(event.requestId)?.resolve();
        else {
          this.waiterPending?.resolve();
          this.waiterPending = null;
        }
        this.host.heldChanged(true, event.client);
        return;
      case 'waiting':
        this.waiterPending = this.pending.get(event.requestId) ?? null;
        return;
      case 'refused':
        this.pending.get(event.requestId)?.reject(
          new WardenError(event.code, rebootRefusal(event), event.busyVolume !== undefined ? { busyVolume: event.busyVolume } : undefined),
        );
        return;
      case 'released':
        if (event.requestId) this.pending.get(event.requestId)?.resolve();
        this.host.heldChanged(false, event.client);
        return;
      case 'waiterLeft':
        this.waiterPending = null;
        return;
    }
  }
}

/** A reboot-lock refusal in words (the shared defaults speak of volume locks). */
function rebootRefusal(event: Extract<RebootEmitted, { type: 'refused' }>): string {
  switch (event.code) {
    case 'EALREADY': return 'the reboot lock is already held: a shutdown may proceed';
    case 'EBUSY':
      return event.busyVolume !== undefined
        ? `${event.busyVolume} is busy (locked, stale or rebuilding): try again, or wait for it`
        : 'another caller already waits for the reboot lock';
    case 'ENOLCK': return 'the reboot lock is not held';
    case 'EPERM': return 'you do not hold the reboot lock';
  }
}
