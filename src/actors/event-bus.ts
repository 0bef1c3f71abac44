/**
 * The warden's notification bus (SPEC §8, §12 `warden.events$`): stamps each event with `n` and
 * `ts`, hands it synchronously to the registered sinks (the subscriber hub, which bounds socket
 * subscribers with acks, `maxQueuedEvents` and zombies), and to in-process rxjs subscribers
 * right after the warden's current step.
 *
 * Back-pressure for `events$`: the warden never waits for an embedder. Events reach `events$`
 * subscribers in publish order one microtask after the step that published them, so whatever
 * the warden does in that step (answering a client, starting a helper, persisting a token) is
 * done before any subscriber code runs, however slow it is. The bus keeps nothing per
 * subscriber: a burst is delivered in full at once, so its memory is bounded by the burst. An
 * embedder that does slow asynchronous work per event must bound its own buffer (for example
 * `bufferTime`, `auditTime` or `sampleTime` before its `concatMap`); one that needs acks and a
 * bound enforced by the daemon subscribes over the socket instead (SPEC §8).
 *
 * Isolation: a sink or subscriber that throws is reported to `onSinkError` and the rest carry
 * on; the warden never sees the error. This also holds for errors in an embedder's operator
 * chain (`events$.pipe(map(...))`), which would otherwise be rethrown asynchronously by rxjs.
 */
import { filter, Observable, Subject, Subscriber, type Observer, type Operator, type Subscription } from 'rxjs';
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
  /** Published, not yet handed to `events$` (delivered a microtask later, in order). */
  private pending: WardenEvent[] = [];

  constructor(options: EventBusOptions) {
    this.clock = options.clock;
    this.onSinkError = options.onSinkError ?? ((error) => console.error('volwarden: event subscriber failed:', error));
    // Hot from the moment of subscribing: events published earlier but not yet delivered are not its.
    this.events$ = new IsolatingObservable<WardenEvent>((subscriber) => {
      const after = this.lastN;
      return this.subject.pipe(filter((event) => event.n > after)).subscribe(subscriber);
    }, this.onSinkError);
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
    this.pending.push(event);
    if (this.pending.length === 1) queueMicrotask(() => this.flush());
    return event;
  }

  /** Hands every pending event to `events$` subscribers, in publish order. */
  private flush(): void {
    const events = this.pending;
    this.pending = [];
    for (const event of events) {
      try {
        this.subject.next(event);
      } catch (error) {
        // Only reachable with rxjs's deprecated synchronous error handling; still never the warden's problem.
        this.onSinkError(error, event);
      }
    }
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
    // What was published before the stop is still delivered, before the completion.
    this.flush();
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
