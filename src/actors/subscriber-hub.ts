/**
 * Owns every subscription of one warden (SPEC §8, routines 1007–1009, frame 2000): slots per
 * volume, type filters, routing, and one subscriber actor per subscription. Each actor is a
 * root actor held in a Map (not a spawned child: xstate copies a parent's children map on every
 * spawn), with id `subscriber:<client>:<sub>` so the visualizer can tell them apart.
 */
import { createActor, type Actor, type InspectionEvent, type Observer } from 'xstate';
import type { Clock } from '../adapters/types.js';
import { WardenError } from '../errors.js';
import { isEventType, toNotificationFrame, type NotificationFrame, type WardenEvent } from '../protocol/events.js';
import { SUBSCRIBER_DEFAULTS, countQueued, subscriberMachine } from '../machines/subscriber.js';
import type { Rights } from '../protocol/types.js';

/** The slice of a client connection the hub needs: who it is and how to reach it. */
export interface SubscriberClient {
  id: number;
  /** Sends one wire frame; a throw counts as an unsent frame (the ack deadline then decides). */
  send(frame: NotificationFrame): void;
  /** `status`: a status-socket client, counted against the status socket's own slots. */
  rights?: Rights;
  /** Called when one of its subscriptions ends (unsubscribed, volume gone, client died). */
  released?(): void;
}

/** Hub limits (SPEC §13 defaults) and the warden's clock and inspector. */
export interface SubscriberHubOptions {
  clock: Clock;
  ackTimeoutMs?: number;
  /**
   * Per volume, and for `"*"`, for each socket: status-socket subscribers have this many slots,
   * and control (and in-process) subscribers as many of their own, so the world-writable status
   * socket can never take them all (issue 17). Zombies keep their slot.
   */
  maxSubscribers?: number;
  maxQueuedEvents?: number;
  maxFrameBytes?: number;
  /** XState inspection observer handed to every subscriber actor. */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Reports a `client.send` that threw (the warden's logger). */
  onSendError?: (error: unknown, clientId: number) => void;
}

/** One row of `snapshot()`: enough for `status` and the visualizer. */
export interface SubscriptionView {
  sub: number;
  client: number;
  volume: string;
  state: 'attached' | 'delivering' | 'zombie' | 'detached';
  /** Events waiting to be sent (not counting the frame in flight). */
  queued: number;
}

interface Subscription {
  sub: number;
  client: SubscriberClient;
  volume: string;
  pool: Rights;
  /** `null`: every type. */
  filter: ReadonlySet<string> | null;
  actor: Actor<typeof subscriberMachine>;
}

/**
 * One per warden.
 *
 * @example
 * const hub = new SubscriberHub({ clock });
 * bus.addSink((ev) => hub.publish(ev));
 * const sub = hub.subscribe(client, '*', ['volume.ready']); // client.send gets {id:2000,sub,seq,events}
 * hub.ack(client.id, sub, 1);                               // on {"id":1007,"sub":sub,"seq":1}
 * hub.clientDied(client.id);                                 // on disconnect: frees its slots
 */
export class SubscriberHub {
  private readonly options: Required<Omit<SubscriberHubOptions, 'inspect' | 'onSendError'>> &
    Pick<SubscriberHubOptions, 'inspect' | 'onSendError'>;
  private readonly subscriptions = new Map<number, Subscription>();
  private lastSub = 0;
  private stopped = false;

  constructor(options: SubscriberHubOptions) {
    this.options = {
      ...options,
      ackTimeoutMs: options.ackTimeoutMs ?? SUBSCRIBER_DEFAULTS.ackTimeoutMs,
      maxSubscribers: options.maxSubscribers ?? 8,
      maxQueuedEvents: options.maxQueuedEvents ?? SUBSCRIBER_DEFAULTS.maxQueuedEvents,
      maxFrameBytes: options.maxFrameBytes ?? SUBSCRIBER_DEFAULTS.maxFrameBytes,
    };
  }

  /**
   * Routine 1008. `volume` is a volume id (already resolved by the caller) or `"*"`; `events`
   * keeps only those types. Returns the subscription number, unique in this hub.
   * Throws `ETOOMANYREFS` when the volume (or `"*"`) has no free slot, `EINVAL` for an empty or
   * unknown filter, `ECONNRESET` after `stop()`.
   */
  subscribe(client: SubscriberClient, volume: string, events?: readonly string[]): number {
    if (this.stopped) throw new WardenError('ECONNRESET', 'the warden is stopping: no new subscriptions');
    const filter = toFilter(events);
    const pool: Rights = client.rights === 'status' ? 'status' : 'control';
    const taken = [...this.subscriptions.values()].filter((s) => s.volume === volume && s.pool === pool).length;
    if (taken >= this.options.maxSubscribers) {
      const where = pool === 'status' ? ' from the status socket' : '';
      throw new WardenError('ETOOMANYREFS', `too many subscribers on ${volume}${where} (at most ${this.options.maxSubscribers})`);
    }
    const sub = ++this.lastSub;
    const actor = createActor(subscriberMachine, {
      id: `subscriber:${client.id}:${sub}`,
      clock: this.options.clock,
      inspect: this.options.inspect,
      input: {
        sub,
        client: client.id,
        volume,
        ackTimeoutMs: this.options.ackTimeoutMs,
        maxQueuedEvents: this.options.maxQueuedEvents,
        maxFrameBytes: this.options.maxFrameBytes,
      },
    });
    this.subscriptions.set(sub, { sub, client, volume, pool, filter, actor });
    actor.on('frameReady', ({ seq, events: batch }) => this.send(client, toNotificationFrame(sub, seq, batch)));
    // A detached subscriber is done: forget it so its slot frees (unsubscribe, death, volume gone).
    actor.subscribe({ complete: () => this.forget(sub, actor) });
    actor.start();
    return sub;
  }

  /** Routine 1007 (no reply): only the seq in flight counts; anything else is ignored. */
  ack(clientId: number, sub: number, seq: number): void {
    const found = this.subscriptions.get(sub);
    if (found?.client.id === clientId) found.actor.send({ type: 'ACK_RECEIVED', seq });
  }

  /** Routine 1009. Throws `ENOENT` when `sub` is not one of this client's subscriptions. */
  unsubscribe(clientId: number, sub: number): void {
    const found = this.subscriptions.get(sub);
    if (found?.client.id !== clientId) throw new WardenError('ENOENT', `no subscription ${sub} for this client`);
    found.actor.send({ type: 'UNSUBSCRIBED' });
  }

  /** A client connection closed (or an in-process client was released): frees all its slots. */
  clientDied(clientId: number): void {
    for (const found of [...this.subscriptions.values()]) {
      if (found.client.id === clientId) found.actor.send({ type: 'CLIENT_DIED' });
    }
  }

  /**
   * Routes one stamped event to `"*"` subscribers and to that volume's, honouring filters.
   * A `volume.gone` then ends that volume's subscriptions once it has been delivered.
   */
  publish(event: WardenEvent): void {
    this.publishAll([event]);
  }

  /** Routes several events at once: each subscriber gets its share as one batch, in order. */
  publishAll(events: readonly WardenEvent[]): void {
    if (this.stopped || events.length === 0) return;
    for (const found of [...this.subscriptions.values()]) {
      const share = events.filter((ev) => routes(found, ev));
      if (share.length > 0) found.actor.send({ type: 'EVENTS_PUBLISHED', events: share });
    }
    const gone = new Set(events.filter((ev) => ev.type === 'volume.gone').map((ev) => ev.volume));
    for (const volume of gone) this.volumeGone(volume);
  }

  /**
   * Ends every one-volume subscription of `volumeId` after what is queued for it is acknowledged
   * (at once for zombies). `publish` calls it for `volume.gone`; call it directly only when the
   * event itself is not published.
   */
  volumeGone(volumeId: string): void {
    if (volumeId === '*') return;
    for (const found of [...this.subscriptions.values()]) {
      if (found.volume === volumeId) found.actor.send({ type: 'VOLUME_GONE' });
    }
  }

  /** How many subscriptions `clientId` holds (zombies included). */
  subscriptionsOf(clientId: number): number {
    let count = 0;
    for (const found of this.subscriptions.values()) if (found.client.id === clientId) count++;
    return count;
  }

  /** Every live subscription, in subscription order, for `status` and the visualizer. */
  snapshot(): SubscriptionView[] {
    return [...this.subscriptions.values()].map(({ sub, client, volume, actor }) => {
      const snap = actor.getSnapshot();
      return { sub, client: client.id, volume, state: snap.value, queued: countQueued(snap.context) };
    });
  }

  /** Warden stop: stops every subscriber actor; the hub takes no new subscriptions. */
  stop(): void {
    this.stopped = true;
    for (const found of [...this.subscriptions.values()]) found.actor.stop();
    this.subscriptions.clear();
  }

  private send(client: SubscriberClient, frame: NotificationFrame): void {
    try {
      client.send(frame);
    } catch (error) {
      // An unsent frame is an unacked frame: the ack deadline turns the subscriber into a zombie.
      this.options.onSendError?.(error, client.id);
    }
  }

  private forget(sub: number, actor: Actor<typeof subscriberMachine>): void {
    const found = this.subscriptions.get(sub);
    if (found?.actor !== actor) return;
    this.subscriptions.delete(sub);
    found.client.released?.();
  }
}

function routes(found: Subscription, event: WardenEvent): boolean {
  if (found.volume !== '*' && found.volume !== event.volume) return false;
  return found.filter === null || found.filter.has(event.type);
}

function toFilter(events: readonly string[] | undefined): ReadonlySet<string> | null {
  if (events === undefined) return null;
  const unknown = events.filter((type) => !isEventType(type));
  if (events.length === 0 || unknown.length > 0) {
    throw new WardenError(
      'EINVAL',
      events.length === 0 ? 'events: give at least one event type, or omit it for all' : `events: unknown type ${unknown[0]}`,
    );
  }
  return new Set(events);
}
