/**
 * One simulated protocol client on the in-memory control socket. It remembers every request it
 * sent and every reply and notification it got, believes what the replies tell it (which locks it
 * holds, which subscriptions it has), and reports anything a correct daemon could never send.
 */
import type { MemoryPeer } from '../../src/adapters/socket-server.memory.js';
import type { AckMode } from './schedule.js';

/** One request as the client sent it, with every reply that came back for its `seq`. */
export interface SentRequest {
  seq: number;
  id: number;
  routine: string;
  volume?: string;
  /** A reply that may legitimately come later than the step that sent it (queued locks). */
  deferrable: boolean;
  /** Global send order: FIFO is judged on it. */
  order: number;
  step: number;
  replies: Array<Record<string, unknown>>;
  /** Set when a reply arrived in a step after the one that sent the request. */
  answeredLate?: boolean;
  mode?: AckMode;
  tokenSent?: number;
  /** The reboot lock was held when this lock_volume was sent: the answer must be ENOLCK. */
  rebootHeldAtSend?: boolean;
  /** Whether the client believed it held the volume when it sent this unlock. */
  heldAtSend?: number;
}

/** What the client knows of one of its subscriptions. */
export interface SubscriptionTrack {
  sub: number;
  volume: string;
  mode: AckMode;
  lastSeq: number;
  lastN: number;
  inFlight: { seq: number; at: number } | null;
  /** It acked after the deadline: the daemon must send nothing more. */
  zombie: boolean;
  /** It received its volume's `volume.gone`: the subscription is over. */
  ended: boolean;
}

/** What a client needs from the world around it. */
export interface ClientHost {
  now(): number;
  step(): number;
  nextOrder(): number;
  ackTimeoutMs: number;
  fail(message: string): void;
  /** A lock_volume answered OK (the FIFO check looks at these at the end of the step). */
  granted(client: SimClient, request: SentRequest, token: number): void;
}

const NOTIFICATION = 2000;
const ACK = 1007;
const ROUTINE_IDS: Record<string, number> = {
  hello: 1000, lock_volume: 1001, unlock_volume: 1002, lock_cancel: 1003, lock_reboot: 1004, unlock_reboot: 1005,
  status: 1006, subscribe: 1008, unsubscribe: 1009, can_unmount: 1010, check: 1011, retry: 1012,
};

/** One connection, reconnected by the world under a new `SimClient` after it dies. */
export class SimClient {
  /** Connection id from the hello reply. */
  id: number | null = null;
  alive = true;
  readonly requests = new Map<number, SentRequest>();
  /** Volumes this client believes it holds, with the token it was granted. */
  readonly holds = new Map<string, number>();
  rebootHeld = false;
  readonly subs = new Map<number, SubscriptionTrack>();
  private nextSeq = 1;

  constructor(readonly slot: number, private readonly peer: MemoryPeer, private readonly host: ClientHost) {
    peer.onFrame((frame) => this.onFrame(frame as Record<string, unknown>));
    this.send('hello', { name: `sim-${slot}`, pid: 100 + slot });
  }

  get closed(): boolean {
    return this.peer.closed;
  }

  /** Sends one request; returns what was recorded for it. */
  send(routine: string, args: Record<string, unknown>, extra: Partial<SentRequest> = {}): SentRequest {
    const seq = this.nextSeq++;
    const id = ROUTINE_IDS[routine]!;
    const request: SentRequest = {
      seq, id, routine, deferrable: false, order: this.host.nextOrder(), step: this.host.step(), replies: [],
      ...(typeof args.volume === 'string' ? { volume: args.volume } : {}),
      ...extra,
    };
    this.requests.set(seq, request);
    this.peer.send({ id, seq, ...args });
    return request;
  }

  /** Acks every frame in flight (a `manual` subscriber catching up, possibly too late). */
  ackAll(): void {
    for (const track of this.subs.values()) this.ack(track);
  }

  /** The client hangs up (or the daemon went away): it believes nothing any more. */
  die(): void {
    if (!this.peer.closed) this.peer.close();
    this.markDead();
  }

  markDead(): void {
    this.alive = false;
    this.holds.clear();
    this.rebootHeld = false;
  }

  /** Requests still waiting for their one reply. */
  unanswered(): SentRequest[] {
    return [...this.requests.values()].filter((r) => r.replies.length === 0);
  }

  private onFrame(frame: Record<string, unknown>): void {
    if (frame.id === NOTIFICATION) return this.onNotification(frame);
    const seq = frame.seq;
    const request = typeof seq === 'number' ? this.requests.get(seq) : undefined;
    if (!request) return this.host.fail(`client ${this.id} got a reply for no request: ${JSON.stringify(frame)}`);
    request.replies.push(frame);
    if (request.replies.length > 1) {
      return this.host.fail(`client ${this.id}: ${request.routine} seq ${seq} answered twice: ${JSON.stringify(request.replies)}`);
    }
    if (frame.id !== request.id + 100) this.host.fail(`client ${this.id}: reply id ${String(frame.id)} for request id ${request.id}`);
    if (request.step !== this.host.step()) request.answeredLate = true;
    if (request.answeredLate && !request.deferrable) {
      this.host.fail(`client ${this.id}: ${request.routine} seq ${seq} answered only in a later step`);
    }
    this.believe(request, frame);
  }

  private believe(request: SentRequest, reply: Record<string, unknown>): void {
    const ok = reply.ret === 'OK';
    switch (request.routine) {
      case 'hello':
        if (ok && typeof reply.client === 'number') this.id = reply.client;
        return;
      case 'lock_volume':
        if (request.rebootHeldAtSend && reply.ret !== 'ENOLCK') {
          this.host.fail(`client ${this.id}: lock_volume while the reboot lock was held answered ${String(reply.ret)}, not ENOLCK`);
        }
        if (ok) {
          const token = reply.token;
          if (typeof token !== 'number') return this.host.fail(`client ${this.id}: lock_volume OK without a token`);
          this.holds.set(request.volume!, token);
          this.host.granted(this, request, token);
        }
        return;
      case 'unlock_volume':
        if (!ok) return;
        if (request.heldAtSend === undefined) {
          this.host.fail(`client ${this.id}: unlock_volume of ${request.volume} accepted though the client holds no lock there`);
        } else if (request.tokenSent !== undefined && request.tokenSent !== request.heldAtSend) {
          this.host.fail(`client ${this.id}: unlock_volume with the stale token ${request.tokenSent} accepted (current ${request.heldAtSend})`);
        }
        this.holds.delete(request.volume!);
        return;
      case 'lock_reboot':
        if (ok) this.rebootHeld = true;
        return;
      case 'unlock_reboot':
        if (ok) this.rebootHeld = false;
        else if (this.rebootHeld) this.host.fail(`client ${this.id}: unlock_reboot by its holder answered ${String(reply.ret)}`);
        return;
      case 'subscribe':
        if (ok && typeof reply.sub === 'number' && !this.subs.has(reply.sub)) {
          this.subs.set(reply.sub, {
            sub: reply.sub, volume: request.volume ?? '*', mode: request.mode ?? 'prompt',
            lastSeq: 0, lastN: 0, inFlight: null, zombie: false, ended: false,
          });
        }
        return;
    }
  }

  private onNotification(frame: Record<string, unknown>): void {
    const { sub, seq, events } = frame as { sub: number; seq: number; events: Array<{ type: string; volume: string; n: number }> };
    const track = this.subs.get(sub);
    const who = `client ${this.id} sub ${sub}`;
    if (!track) return this.host.fail(`${who}: notification for an unknown subscription`);
    if (track.zombie) this.host.fail(`${who}: notification seq ${seq} after it missed its ack deadline (zombie)`);
    if (track.ended) this.host.fail(`${who}: notification seq ${seq} after volume.gone ended the subscription`);
    if (track.inFlight) this.host.fail(`${who}: notification seq ${seq} while seq ${track.inFlight.seq} is still unacknowledged`);
    if (seq !== track.lastSeq + 1) this.host.fail(`${who}: notification seq ${seq} after seq ${track.lastSeq}`);
    if (!Array.isArray(events) || events.length === 0) this.host.fail(`${who}: notification without events`);
    for (const event of events ?? []) {
      if (!(event.n > track.lastN)) this.host.fail(`${who}: event n ${event.n} not after ${track.lastN}`);
      track.lastN = event.n;
      if (track.volume !== '*' && event.volume !== track.volume) this.host.fail(`${who}: event for ${event.volume} on a ${track.volume} subscription`);
      if (track.volume !== '*' && event.type === 'volume.gone') track.ended = true;
    }
    track.lastSeq = seq;
    track.inFlight = { seq, at: this.host.now() };
    if (track.mode === 'prompt') queueMicrotask(() => this.ack(track));
  }

  private ack(track: SubscriptionTrack): void {
    if (!this.alive || this.peer.closed || !track.inFlight) return;
    // The deadline timer fires when the clock reaches it, so acking at or after it is too late.
    if (this.host.now() - track.inFlight.at >= this.host.ackTimeoutMs) track.zombie = true;
    const { seq } = track.inFlight;
    // Cleared first: the ack may bring the next frame before `send` returns (synchronous delivery).
    track.inFlight = null;
    this.peer.send({ id: ACK, sub: track.sub, seq });
  }
}
