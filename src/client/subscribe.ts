/**
 * Subscriptions over a socket as an rxjs Observable (SPEC §8): every frame is acknowledged right
 * after its events are emitted, so a slow consumer slows its own deliveries instead of turning
 * into a zombie; unsubscribing sends `unsubscribe`.
 */
import { Observable } from 'rxjs';
import { WardenError } from '../errors.js';
import type { EventType, WardenEvent } from '../protocol/events.js';
import type { ClientConnection, NotificationFrame } from './connection.js';

/** Which notifications to receive; all types when omitted. */
export interface SubscribeOptions {
  events?: EventType[];
}

/**
 * A cold Observable: each subscription is one `subscribe` request on `conn`. A one-volume
 * subscription completes after `volume.gone`; a dropped connection errors with `ECONNRESET`.
 *
 * @example
 * const sub = observeEvents(conn, 'path:/data', { events: ['volume.ready'] })
 *   .subscribe((event) => console.log(event.type));
 * sub.unsubscribe();   // sends unsubscribe
 */
export function observeEvents(conn: ClientConnection, volume = '*', options: SubscribeOptions = {}): Observable<WardenEvent> {
  return new Observable<WardenEvent>((subscriber) => {
    let sub: number | null = null;
    let ended = false;
    // Frames can race the subscribe reply; keep them until we know our subscription number.
    const early: NotificationFrame[] = [];

    const deliver = (frame: NotificationFrame): void => {
      for (const event of frame.events as unknown as WardenEvent[]) {
        if (ended) break;
        subscriber.next(event);
        if (event.type === 'volume.gone' && volume !== '*') {
          // The daemon ends a one-volume subscription after its last event.
          ended = true;
        }
      }
      conn.send('ack', { sub: frame.sub, seq: frame.seq });
      if (ended) subscriber.complete();
    };

    const removeListener = conn.onNotification((frame) => {
      if (ended) return;
      if (sub === null) early.push(frame);
      else if (frame.sub === sub) deliver(frame);
    });

    void conn.closed.then(() => {
      if (ended) return;
      ended = true;
      subscriber.error(new WardenError('ECONNRESET', 'the connection to the daemon was lost: subscription ended'));
    });

    conn
      .request('subscribe', { volume, ...(options.events ? { events: options.events } : {}) })
      .then((reply) => {
        sub = reply.sub as number;
        if (ended) {
          // Torn down before the reply arrived.
          conn.request('unsubscribe', { sub }).catch(() => {});
          return;
        }
        for (const frame of early.splice(0)) if (!ended && frame.sub === sub) deliver(frame);
      })
      .catch((err: unknown) => {
        if (ended) return;
        ended = true;
        subscriber.error(err);
      });

    return () => {
      removeListener();
      const wasEnded = ended;
      ended = true;
      if (!wasEnded && sub !== null) conn.request('unsubscribe', { sub }).catch(() => {});
    };
  });
}
