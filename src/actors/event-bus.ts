/**
 * The warden's notification bus (SPEC §8, §12 `warden.events$`): stamps each event with `n` and
 * `ts`, then hands it synchronously, in publish order, to the registered sinks (the subscriber
 * hub) and to in-process rxjs subscribers.
 *
 * Back-pressure: the bus never buffers. Delivery is synchronous inside `publish`, so a slow
 * embedder slows the warden; an embedder that needs time must buffer or reschedule itself, e.g.
 * `warden.events$.pipe(observeOn(asyncScheduler)).subscribe(...)`. Socket subscribers are
 * bounded separately by the hub (acks, `maxQueuedEvents`, zombies).
 *
 * Isolation: a sink or subscriber that throws is reported to `onSinkError` and the rest carry
 * on; the warden never sees the error. This also holds for errors in an embedder's operator
 * chain (`events$.pipe(map(...))`), which would otherwise be rethrown asynchronously by rxjs.
 */
import { Observable, Subject, Subscriber, type Observer, type Operator, type Subscription } from 'rxjs';
import type { Clock } from '../adapters/types.js';
import type { EventInput, WardenEvent } from '../protocol/events.js';

/** Receives every stamped event synchronously; the subscriber hub is one. */
export type EventSink = (event: WardenEvent) => void;

/** What a bus needs from its warden. */
export interface EventBusOptions {
  /** Source of `ts`; the warden's clock, so simulated time stamps simulated events. */
  clock: Pick<Clock, 'now'>;
  /** Where a throwing sink or subscriber is reported (the warden's logger). Defaults to `console.error`. */
  onSinkError?: (error: unknown, event?: WardenEvent) => void;
}

/**
 * One per warden (no module state, so two wardens in one process do not share numbering).
 *
 * @example
 * const bus = new EventBus({ clock });
 * bus.addSink((ev) => hub.publish(ev));
 * bus.events$.subscribe((ev) => console.log(ev.n, ev.type));
 * bus.publish({ type: 'volume.ready', volume: 'path:/data' }); // → { type, volume, ts, n: 1 }
 * bus.complete(); // on warden stop
 */
export class EventBus {
  /** Hot and multicast: a subscriber sees the events published after it subscribed. */
  readonly events$: Observable<WardenEvent>;
  private readonly subject = new Subject<WardenEvent>();
  private readonly sinks = new Set<EventSink>();
  private readonly clock: Pick<Clock, 'now'>;
  private readonly onSinkError: (error: unknown, event?: WardenEvent) => void;
  private lastN = 0;
  private completed = false;

  constructor(options: EventBusOptions) {
    this.clock = options.clock;
    this.onSinkError = options.onSinkError ?? ((error) => console.error('volwarden: event subscriber failed:', error));
    this.events$ = new IsolatingObservable<WardenEvent>((subscriber) => this.subject.subscribe(subscriber), this.onSinkError);
  }

  /**
   * Stamps and delivers one event; returns it as delivered. After `complete()` the event is
   * still stamped (numbering stays strictly increasing) but goes nowhere.
   */
  publish(input: EventInput): WardenEvent {
    const event = { ...input, ts: this.clock.now(), n: ++this.lastN } as WardenEvent;
    if (this.completed) return event;
    for (const sink of [...this.sinks]) {
      try {
        sink(event);
      } catch (error) {
        this.onSinkError(error, event);
      }
    }
    try {
      this.subject.next(event);
    } catch (error) {
      // Only reachable with rxjs's deprecated synchronous error handling; still never the warden's problem.
      this.onSinkError(error, event);
    }
    return event;
  }

  /** Registers a sink; returns its removal, like every subscription in volwarden. */
  addSink(sink: EventSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  /** Ends `events$` (warden stop); later events are stamped but not delivered. */
  complete(): void {
    if (this.completed) return;
    this.completed = true;
    this.sinks.clear();
    this.subject.complete();
  }
}

type NextFn<T> = (value: T) => void;

/**
 * An Observable whose consumer callbacks can throw without harm: each callback runs in a
 * try/catch that reports to `onError`, and a subscriber without an `error` callback reports
 * there too instead of rxjs's asynchronous rethrow. `lift` keeps the class through `pipe`, so
 * the callbacks at the end of an operator chain are wrapped as well.
 */
class IsolatingObservable<T> extends Observable<T> {
  constructor(
    subscribe: ((subscriber: Subscriber<T>) => Subscription | void) | undefined,
    private readonly onError: (error: unknown) => void,
  ) {
    super(subscribe);
  }

  override lift<R>(operator?: Operator<T, R>): Observable<R> {
    const lifted = new IsolatingObservable<R>(undefined, this.onError);
    lifted.source = this;
    lifted.operator = operator;
    return lifted;
  }

  override subscribe(
    observerOrNext?: Partial<Observer<T>> | NextFn<T> | null,
    error?: ((error: unknown) => void) | null,
    complete?: (() => void) | null,
  ): Subscription {
    // Operators subscribe with their own Subscriber: pass it through; only end consumers are wrapped.
    if (observerOrNext instanceof Subscriber) return super.subscribe(observerOrNext);
    const observer: Partial<Observer<T>> =
      typeof observerOrNext === 'function' || observerOrNext == null
        ? { next: observerOrNext ?? undefined, error: error ?? undefined, complete: complete ?? undefined }
        : observerOrNext;
    const guard = (run: () => void): void => {
      try {
        run();
      } catch (err) {
        this.onError(err);
      }
    };
    return super.subscribe({
      next: (value) => guard(() => observer.next?.(value)),
      error: (err) => guard(() => (observer.error ? observer.error(err) : this.onError(err))),
      complete: () => guard(() => observer.complete?.()),
    });
  }
}
