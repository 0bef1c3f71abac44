/**
 * Notifications (SPEC §8) and the frame that carries them (routine 2000, SPEC §10).
 * Pure data and pure helpers: the event bus stamps events, the subscriber machine queues
 * them, and {@link splitFrames} cuts a batch into wire frames that fit `maxFrameBytes`.
 */
import { NOTIFICATION_ID, type HolderView } from './types.js';

/** Every notification type, in the order SPEC §8 lists them; used to validate `events` filters. */
export const EVENT_TYPES = [
  'volume.appeared',
  'volume.changed',
  'volume.ready',
  'rebuild.started',
  'rebuild.finished',
  'lock.granted',
  'lock.released',
  'volume.gaveUp',
  'volume.gone',
  'reboot.locked',
] as const;

/** The name of one notification type (`volume.changed`, `lock.granted`, ...). */
export type EventType = (typeof EVENT_TYPES)[number];

/** Fields every notification carries; `n` and `ts` are stamped by the event bus. */
interface EventBase {
  /** Volume id (`uuid:...` / `path:...`), or `"*"` for daemon-wide events. */
  volume: string;
  /** Milliseconds since the epoch, from the warden's clock. */
  ts: number;
  /** Daemon-wide, strictly increasing: lets a subscriber spot gaps and order events. */
  n: number;
}

/**
 * One notification as subscribers receive it (SPEC §8), discriminated on `type`.
 *
 * @example
 * function describe(ev: WardenEvent): string {
 *   return ev.type === 'lock.granted' ? `${ev.holder.name} holds ${ev.volume}` : ev.type;
 * }
 */
export type WardenEvent =
  | (EventBase & { type: 'volume.appeared' })
  /** `paths` are relative to the volume root. */
  | (EventBase & { type: 'volume.changed'; paths: string[] })
  | (EventBase & { type: 'volume.ready' })
  /** `stale` names the stale caches; `attempt` is the volume's attempt count for this run. */
  | (EventBase & { type: 'rebuild.started'; stale: string[]; attempt: number })
  | (EventBase & { type: 'rebuild.finished'; status: number; failures: number })
  /** `token` is the fencing token of this grant (SPEC §5). */
  | (EventBase & { type: 'lock.granted'; holder: HolderView; token: number })
  | (EventBase & { type: 'lock.released'; holder: HolderView; status: number })
  | (EventBase & { type: 'volume.gaveUp'; reason: string })
  /** The last event for that volume: a one-volume subscription ends after it. */
  | (EventBase & { type: 'volume.gone' })
  /** Daemon-wide: `volume` is `"*"`. */
  | (EventBase & { type: 'reboot.locked'; volume: '*'; holder: HolderView });

/** The notification of one type, e.g. `EventOf<'lock.granted'>`. */
export type EventOf<T extends EventType> = Extract<WardenEvent, { type: T }>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * What a publisher hands the event bus: a notification without `n` and `ts`, which the bus stamps.
 *
 * @example
 * const input: EventInput = { type: 'volume.changed', volume: 'path:/data', paths: ['docs/a.md'] };
 */
export type EventInput = DistributiveOmit<WardenEvent, 'n' | 'ts'>;

/** Whether a string names a notification type; the hub rejects filters with unknown names. */
export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (EVENT_TYPES as readonly string[]).includes(value);
}

/**
 * One notification frame on the wire: `{"id":2000,"sub":S,"seq":N,"events":[...]}`.
 * Every frame is acknowledged on its own with `{"id":1007,"sub":S,"seq":N}`.
 */
export interface NotificationFrame {
  id: typeof NOTIFICATION_ID;
  sub: number;
  seq: number;
  events: WardenEvent[];
}

/** Builds the wire frame for one delivery; keeps the key order of SPEC §8 for readable logs. */
export function toNotificationFrame(sub: number, seq: number, events: WardenEvent[]): NotificationFrame {
  return { id: NOTIFICATION_ID, sub, seq, events };
}

/** Size of a frame as sent: serialized JSON, in UTF-8 bytes (the newline is not counted). */
export function frameBytes(frame: NotificationFrame): number {
  return utf8Length(JSON.stringify(frame));
}

/**
 * Cuts one batch of events into wire frames of at most `maxFrameBytes` each (SPEC §8): the event
 * list is halved recursively until each part fits; an event that alone exceeds the limit is sent
 * alone. Frames get consecutive seqs from `firstSeq`, events keep their order, and the sizes are
 * measured with each frame's real seq, so every frame that can fit does.
 *
 * @example
 * const frames = splitFrames(3, 41, batch, 65536);
 * // frames[0].seq === 41, frames[1].seq === 42, ...; frames.flatMap((f) => f.events) equals batch
 */
export function splitFrames(
  sub: number,
  firstSeq: number,
  events: readonly WardenEvent[],
  maxFrameBytes: number,
): NotificationFrame[] {
  const frames: NotificationFrame[] = [];
  const split = (part: WardenEvent[]): void => {
    const frame = toNotificationFrame(sub, firstSeq + frames.length, part);
    if (part.length <= 1 || frameBytes(frame) <= maxFrameBytes) {
      frames.push(frame);
      return;
    }
    const middle = Math.ceil(part.length / 2);
    split(part.slice(0, middle));
    split(part.slice(middle));
  };
  if (events.length > 0) split([...events]);
  return frames;
}

/** UTF-8 byte length without allocating a buffer (machines stay free of `node:*`). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}
