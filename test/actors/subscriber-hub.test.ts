import { describe, expect, it } from 'vitest';
import { SimulatedClock, type InspectionEvent } from 'xstate';
import { SubscriberHub, type SubscriberClient } from '../../src/actors/subscriber-hub.js';
import { WardenError } from '../../src/errors.js';
import type { NotificationFrame, WardenEvent } from '../../src/protocol/events.js';

const DATA = 'path:/data';
const OTHER = 'path:/other';

/** A fake client connection that records frames and, if asked, acks each one as it arrives. */
function fakeClient(id: number, hub: () => SubscriberHub, options: { autoAck?: boolean } = {}) {
  const frames: NotificationFrame[] = [];
  const client: SubscriberClient & { frames: NotificationFrame[] } = {
    id,
    frames,
    send(frame) {
      frames.push(frame);
      if (options.autoAck) hub().ack(id, frame.sub, frame.seq);
    },
  };
  return client;
}

function setup(options: Partial<ConstructorParameters<typeof SubscriberHub>[0]> = {}) {
  const clock = new SimulatedClock();
  const hub = new SubscriberHub({ clock, ...options });
  let n = 0;
  const event = (volume: string, type: WardenEvent['type'] = 'volume.ready', extra: object = {}): WardenEvent =>
    ({ type, volume, ts: clock.now(), n: ++n, ...extra }) as WardenEvent;
  return { clock, hub, event };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof WardenError ? err.code : 'not a WardenError';
  }
  return undefined;
}

describe('SubscriberHub', () => {
  it('gives a volume 8 slots, then answers ETOOMANYREFS; other volumes and "*" count apart', () => {
    const { hub } = setup();
    const client = fakeClient(1, () => hub);
    for (let i = 0; i < 8; i++) hub.subscribe(client, DATA);
    expect(codeOf(() => hub.subscribe(client, DATA))).toBe('ETOOMANYREFS');
    expect(codeOf(() => hub.subscribe(client, OTHER))).toBeUndefined();
    for (let i = 0; i < 8; i++) hub.subscribe(client, '*');
    expect(codeOf(() => hub.subscribe(client, '*'))).toBe('ETOOMANYREFS');
  });

  it('returns subscription numbers unique in the hub', () => {
    const { hub } = setup();
    const a = fakeClient(1, () => hub);
    const b = fakeClient(2, () => hub);
    const subs = [hub.subscribe(a, DATA), hub.subscribe(b, DATA), hub.subscribe(a, '*')];
    expect(new Set(subs).size).toBe(3);
  });

  it('keeps a zombie in its slot until it unsubscribes', () => {
    const { hub, clock, event } = setup();
    const client = fakeClient(1, () => hub);
    const subs = Array.from({ length: 8 }, () => hub.subscribe(client, DATA));
    hub.publish(event(DATA));
    clock.increment(2000);
    expect(hub.snapshot().map((s) => s.state)).toEqual(Array(8).fill('zombie'));
    expect(codeOf(() => hub.subscribe(client, DATA))).toBe('ETOOMANYREFS');
    hub.unsubscribe(1, subs[0]!);
    expect(codeOf(() => hub.subscribe(client, DATA))).toBeUndefined();
  });

  it('frees every slot of a client that died', () => {
    const { hub } = setup();
    const dying = fakeClient(1, () => hub);
    const staying = fakeClient(2, () => hub);
    for (let i = 0; i < 4; i++) hub.subscribe(dying, DATA);
    for (let i = 0; i < 4; i++) hub.subscribe(staying, DATA);
    hub.clientDied(1);
    expect(hub.snapshot().map((s) => s.client)).toEqual([2, 2, 2, 2]);
    for (let i = 0; i < 4; i++) hub.subscribe(staying, DATA);
    expect(codeOf(() => hub.subscribe(staying, DATA))).toBe('ETOOMANYREFS');
  });

  it('answers ENOENT when a client unsubscribes a subscription that is not its own', () => {
    const { hub } = setup();
    const sub = hub.subscribe(fakeClient(1, () => hub), DATA);
    expect(codeOf(() => hub.unsubscribe(2, sub))).toBe('ENOENT');
    expect(codeOf(() => hub.unsubscribe(1, 999))).toBe('ENOENT');
    hub.unsubscribe(1, sub);
    expect(hub.snapshot()).toEqual([]);
  });

  it('sends wire frames {id:2000,sub,seq,events} and queues what arrives before the ack', () => {
    const { hub, event } = setup();
    const client = fakeClient(1, () => hub);
    const sub = hub.subscribe(client, DATA);
    const [e1, e2, e3] = [event(DATA), event(DATA), event(DATA)];
    hub.publish(e1!);
    hub.publish(e2!);
    hub.publish(e3!);
    expect(client.frames).toEqual([{ id: 2000, sub, seq: 1, events: [e1] }]);
    expect(hub.snapshot()).toEqual([{ sub, client: 1, volume: DATA, state: 'delivering', queued: 2 }]);
    hub.ack(1, sub, 1);
    expect(client.frames[1]).toEqual({ id: 2000, sub, seq: 2, events: [e2, e3] });
  });

  it('turns a never-acking subscriber into a zombie after ackTimeoutMs while another keeps receiving', () => {
    const { hub, clock, event } = setup({ ackTimeoutMs: 2000 });
    const silent = fakeClient(1, () => hub);
    const prompt = fakeClient(2, () => hub, { autoAck: true });
    hub.subscribe(silent, '*');
    hub.subscribe(prompt, '*');
    hub.publish(event(DATA));
    clock.increment(1999);
    expect(hub.snapshot().map((s) => s.state)).toEqual(['delivering', 'attached']);
    clock.increment(1);
    expect(hub.snapshot().map((s) => s.state)).toEqual(['zombie', 'attached']);
    hub.publish(event(DATA));
    hub.publish(event(OTHER));
    expect(silent.frames).toHaveLength(1);
    expect(prompt.frames).toHaveLength(3);
    expect(hub.snapshot()[0]!.queued).toBe(0);
  });

  it('ignores acks from another client or for a seq not in flight', () => {
    const { hub, clock, event } = setup();
    const client = fakeClient(1, () => hub);
    const sub = hub.subscribe(client, DATA);
    hub.publish(event(DATA));
    hub.ack(2, sub, 1);
    hub.ack(1, sub, 7);
    expect(hub.snapshot()[0]!.state).toBe('delivering');
    clock.increment(2000);
    hub.ack(1, sub, 1);
    expect(hub.snapshot()[0]!.state).toBe('zombie');
  });

  it('turns a subscriber whose queue passes maxQueuedEvents into a zombie and drops its queue', () => {
    const { hub, event } = setup({ maxQueuedEvents: 5 });
    const client = fakeClient(1, () => hub);
    hub.subscribe(client, DATA);
    for (let i = 0; i < 6; i++) hub.publish(event(DATA));
    expect(hub.snapshot()[0]).toMatchObject({ state: 'delivering', queued: 5 });
    hub.publish(event(DATA));
    expect(hub.snapshot()[0]).toMatchObject({ state: 'zombie', queued: 0 });
  });

  it('splits a 2,000-event batch into frames within maxFrameBytes that reassemble to the original, in order', () => {
    const maxFrameBytes = 65_536;
    const { hub, event } = setup({ maxFrameBytes });
    const client = fakeClient(1, () => hub, { autoAck: true });
    const sub = hub.subscribe(client, DATA);
    const longPath = `docs/${'very-long-directory-name/'.repeat(8)}file`;
    const batch = Array.from({ length: 2000 }, (_, i) => event(DATA, 'volume.changed', { paths: [`${longPath}-${i}.md`] }));
    hub.publishAll(batch);

    expect(client.frames.length).toBeGreaterThan(1);
    for (const frame of client.frames) {
      expect(Buffer.byteLength(JSON.stringify(frame), 'utf8')).toBeLessThanOrEqual(maxFrameBytes);
      expect(frame.sub).toBe(sub);
    }
    expect(client.frames.map((f) => f.seq)).toEqual(client.frames.map((_, i) => i + 1));
    const received = client.frames.flatMap((f) => f.events);
    expect(received).toEqual(batch);
    const ns = received.map((e) => e.n);
    expect(ns.every((n, i) => i === 0 || n > ns[i - 1]!)).toBe(true);
    expect(hub.snapshot()[0]!.state).toBe('attached');
  });

  it('sends an event that alone exceeds maxFrameBytes in a frame of its own', () => {
    const { hub, event } = setup({ maxFrameBytes: 200 });
    const client = fakeClient(1, () => hub, { autoAck: true });
    hub.subscribe(client, DATA);
    const small = event(DATA);
    const huge = event(DATA, 'volume.changed', { paths: ['x'.repeat(500)] });
    hub.publishAll([small, huge, small]);
    expect(client.frames.map((f) => f.events)).toEqual([[small], [huge], [small]]);
  });

  it('sends only the subscribed types, and only that volume’s events to a one-volume subscriber', () => {
    const { hub, event } = setup();
    const filtered = fakeClient(1, () => hub, { autoAck: true });
    const everything = fakeClient(2, () => hub, { autoAck: true });
    hub.subscribe(filtered, DATA, ['volume.ready', 'lock.granted']);
    hub.subscribe(everything, '*');
    const events = [
      event(DATA, 'volume.ready'),
      event(DATA, 'volume.changed', { paths: ['a'] }),
      event(OTHER, 'volume.ready'),
      event('*', 'reboot.locked', { holder: { client: 3, name: 'shutdown' } }),
      event(DATA, 'lock.granted', { holder: { client: 3, name: 'x' }, token: 4 }),
    ];
    for (const ev of events) hub.publish(ev);
    expect(filtered.frames.flatMap((f) => f.events)).toEqual([events[0], events[4]]);
    expect(everything.frames.flatMap((f) => f.events)).toEqual(events);
  });

  it('rejects an empty or unknown filter with EINVAL', () => {
    const { hub } = setup();
    const client = fakeClient(1, () => hub);
    expect(codeOf(() => hub.subscribe(client, DATA, []))).toBe('EINVAL');
    expect(codeOf(() => hub.subscribe(client, DATA, ['volume.redy']))).toBe('EINVAL');
    expect(hub.snapshot()).toEqual([]);
  });

  it('ends a one-volume subscription once volume.gone is acknowledged; "*" subscriptions stay', () => {
    const { hub, event } = setup();
    const one = fakeClient(1, () => hub);
    const all = fakeClient(2, () => hub, { autoAck: true });
    const sub = hub.subscribe(one, DATA);
    hub.subscribe(all, '*');
    hub.publish(event(DATA, 'volume.changed', { paths: ['a'] }));
    hub.publish(event(DATA, 'volume.gone'));
    expect(hub.snapshot().map((s) => s.state)).toEqual(['delivering', 'attached']);
    hub.ack(1, sub, 1);
    expect(one.frames[1]!.events.map((e) => e.type)).toEqual(['volume.gone']);
    expect(hub.snapshot().find((s) => s.sub === sub)?.state).toBe('delivering');
    hub.ack(1, sub, 2);
    expect(hub.snapshot().map((s) => s.client)).toEqual([2]);
  });

  it('ends a one-volume subscription at once when volume.gone is filtered out of it', () => {
    const { hub, event } = setup();
    hub.subscribe(fakeClient(1, () => hub), DATA, ['volume.ready']);
    hub.publish(event(DATA, 'volume.gone'));
    expect(hub.snapshot()).toEqual([]);
  });

  it('survives a client whose send throws: the frame counts as unacked', () => {
    const errors: unknown[] = [];
    const { hub, clock, event } = setup({ onSendError: (err) => errors.push(err) });
    const broken: SubscriberClient = {
      id: 1,
      send() {
        throw new Error('EPIPE');
      },
    };
    const fine = fakeClient(2, () => hub, { autoAck: true });
    hub.subscribe(broken, DATA);
    hub.subscribe(fine, DATA);
    hub.publish(event(DATA));
    expect(errors).toHaveLength(1);
    expect(fine.frames).toHaveLength(1);
    clock.increment(2000);
    expect(hub.snapshot().map((s) => s.state)).toEqual(['zombie', 'attached']);
  });

  it('names each subscriber actor subscriber:<client>:<sub> for the inspector', () => {
    const seen = new Set<string>();
    const { hub } = setup({ inspect: (ev: InspectionEvent) => seen.add(ev.actorRef.id) });
    const sub = hub.subscribe(fakeClient(7, () => hub), DATA);
    expect(seen).toContain(`subscriber:7:${sub}`);
  });

  it('stops every subscriber on stop() and takes no new subscriptions', () => {
    const { hub, event } = setup();
    const client = fakeClient(1, () => hub);
    hub.subscribe(client, DATA);
    hub.stop();
    hub.publish(event(DATA));
    expect(client.frames).toEqual([]);
    expect(hub.snapshot()).toEqual([]);
    expect(codeOf(() => hub.subscribe(client, DATA))).toBe('ECONNRESET');
  });
});
