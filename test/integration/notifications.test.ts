import { rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createWarden, type WardenHandle } from '../../src/index.js';
import type { WardenEvent } from '../../src/protocol/events.js';
import { shortTempDir } from '../adapters/socket-server.helpers.js';
import { eventually, makeVolume } from './helpers.js';

/** One line as it arrived on the wire: its exact text (for frame sizes) and its parsed object. */
interface WireLine {
  raw: string;
  msg: Record<string, unknown>;
}

/** A notification frame (routine 2000) as parsed from the wire. */
interface Frame {
  id: 2000;
  sub: number;
  seq: number;
  events: WardenEvent[];
}

/**
 * A raw NDJSON client: requests are matched to replies by `seq` (notification frames arrive in
 * between), every line is kept verbatim, and with `autoAck` each notification is acknowledged
 * the moment it arrives.
 */
class WireClient {
  readonly lines: WireLine[] = [];
  autoAck = false;
  private seq = 0;
  private buffered = '';
  private readonly waiters = new Set<() => void>();
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => this.receive(text));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.once('close', () => this.wake());
  }

  static connect(socketPath: string): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(socketPath);
      socket.once('connect', () => resolve(new WireClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends one request and resolves with its reply (`id + 100`, same `seq`). */
  async request(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const seq = ++this.seq;
    this.write({ seq, ...request });
    const line = await this.waitFor((l) => l.msg.id === (request.id as number) + 100 && l.msg.seq === seq);
    return line.msg;
  }

  /** Subscribes and returns the subscription number; throws with the error name otherwise. */
  async subscribe(volume: string, events?: string[]): Promise<number> {
    const reply = await this.request({ id: 1008, volume, ...(events ? { events } : {}) });
    if (reply.ret !== 'OK') throw new Error(String(reply.ret));
    return reply.sub as number;
  }

  write(message: Record<string, unknown>): void {
    this.socket.write(`${JSON.stringify(message)}\n`);
  }

  ack(frame: Frame): void {
    this.write({ id: 1007, seq: frame.seq, sub: frame.sub });
  }

  /** Notification frames received so far, optionally for one subscription. */
  frames(sub?: number): Frame[] {
    return this.notificationLines(sub).map((l) => l.msg as unknown as Frame);
  }

  notificationLines(sub?: number): WireLine[] {
    return this.lines.filter((l) => l.msg.id === 2000 && (sub === undefined || l.msg.sub === sub));
  }

  /** Every event delivered to `sub`, frames concatenated in arrival order. */
  events(sub?: number): WardenEvent[] {
    return this.frames(sub).flatMap((f) => f.events);
  }

  /** Resolves with the first line (already received or future) that matches; rejects if the socket closes first. */
  waitFor(match: (line: WireLine) => boolean, timeoutMs = 15_000): Promise<WireLine> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no matching line within ${timeoutMs} ms; got ${this.lines.length} lines`));
      }, timeoutMs);
      const check = () => {
        const found = this.lines.find(match);
        if (found || this.socket.destroyed) {
          clearTimeout(timer);
          this.waiters.delete(check);
          if (found) resolve(found);
          else reject(new Error(`connection closed after ${this.lines.length} lines`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private receive(text: string): void {
    this.buffered += text;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) !== -1) {
      const raw = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const line = { raw, msg: JSON.parse(raw) as Record<string, unknown> };
      this.lines.push(line);
      if (this.autoAck && line.msg.id === 2000) this.ack(line.msg as unknown as Frame);
    }
    this.wake();
  }

  private wake(): void {
    for (const check of [...this.waiters]) check();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Notifications (SPEC §8) over a real Unix socket, from a real warden on a real temp volume. */
describe('notifications over the socket', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function daemon(extra: Parameters<typeof createWarden>[0] = {}) {
    const vol = makeVolume();
    cleanups.push(vol.cleanup);
    const tmp = shortTempDir();
    cleanups.push(tmp.cleanup);
    const socket = path.join(tmp.dir, 'private', 'control.sock');
    const statusSocket = path.join(tmp.dir, 'status.sock');
    const warden: WardenHandle = createWarden({ roots: [vol.root], settleMs: 50, ...extra });
    cleanups.push(() => warden.stop());
    await warden.start();
    await warden.listen({ socket, statusSocket });
    await eventually(() => warden.status().volumes[0]!, (v) => v.state === 'idle' && v.lastRebuild !== null);
    const volumeId = warden.status().volumes[0]!.id;
    const connect = async (which: 'control' | 'status' = 'control') => {
      const client = await WireClient.connect(which === 'control' ? socket : statusSocket);
      cleanups.push(() => client.destroy());
      return client;
    };
    /** Everything the warden publishes from now on, as `warden.events$` delivers it in-process. */
    const published = (): WardenEvent[] => {
      const seen: WardenEvent[] = [];
      const subscription = warden.events$.subscribe((ev) => seen.push(ev));
      cleanups.push(() => subscription.unsubscribe());
      return seen;
    };
    return { warden, vol, volumeId, connect, published };
  }

  /** One lock.granted + lock.released pair on the volume, from a control client. */
  async function lockCycle(client: WireClient, volume: string): Promise<void> {
    expect(await client.request({ id: 1001, volume })).toMatchObject({ ret: 'OK' });
    expect(await client.request({ id: 1002, volume, status: 0 })).toMatchObject({ ret: 'OK' });
  }

  it('gives 8 slots per volume and 8 for "*", refusing the 9th with ETOOMANYREFS', async () => {
    const { volumeId, vol, connect } = await daemon();
    const a = await connect('status');
    const subs: number[] = [];
    for (let i = 0; i < 8; i++) subs.push(await a.subscribe(i % 2 === 0 ? volumeId : vol.root));
    expect(new Set(subs).size).toBe(8);
    expect(await a.request({ id: 1008, volume: volumeId })).toMatchObject({ id: 1108, ret: 'ETOOMANYREFS' });
    for (let i = 0; i < 8; i++) await a.subscribe('*');
    expect(await a.request({ id: 1008, volume: '*' })).toMatchObject({ id: 1108, ret: 'ETOOMANYREFS' });
    // `volume` defaults to "*".
    expect(await a.request({ id: 1008 })).toMatchObject({ id: 1108, ret: 'ETOOMANYREFS' });
  });

  it('frees a slot on unsubscribe and every slot of a client that disconnects', async () => {
    const { warden, volumeId, connect } = await daemon();
    const a = await connect();
    const b = await connect();
    const subs: number[] = [];
    for (let i = 0; i < 8; i++) subs.push(await a.subscribe(volumeId));
    expect(await b.request({ id: 1008, volume: volumeId })).toMatchObject({ ret: 'ETOOMANYREFS' });
    expect(await a.request({ id: 1009, sub: subs[3] })).toMatchObject({ id: 1109, ret: 'OK' });
    expect(await a.request({ id: 1009, sub: subs[3] })).toMatchObject({ id: 1109, ret: 'ENOENT' });
    // Someone else's subscription is not yours to end.
    expect(await b.request({ id: 1009, sub: subs[4] })).toMatchObject({ id: 1109, ret: 'ENOENT' });
    const bSub = await b.subscribe(volumeId);
    expect(await b.request({ id: 1008, volume: volumeId })).toMatchObject({ ret: 'ETOOMANYREFS' });

    a.destroy();
    await eventually(() => warden.core.hub.snapshot().length, (n) => n === 1);
    expect(warden.core.hub.snapshot()).toEqual([expect.objectContaining({ sub: bSub, volume: volumeId })]);
    for (let i = 0; i < 7; i++) await b.subscribe(volumeId);
    expect(await b.request({ id: 1008, volume: volumeId })).toMatchObject({ ret: 'ETOOMANYREFS' });
  });

  it('turns a subscriber that never acks into a zombie while another keeps receiving', async () => {
    const { warden, volumeId, connect } = await daemon({ limits: { ackTimeoutMs: 300 } });
    const silent = await connect('status');
    const acking = await connect('status');
    acking.autoAck = true;
    const locker = await connect();
    const silentSub = await silent.subscribe(volumeId);
    const ackingSub = await acking.subscribe(volumeId);

    await lockCycle(locker, volumeId);
    await silent.waitFor((l) => l.msg.id === 2000);
    const state = (sub: number) => warden.core.hub.snapshot().find((s) => s.sub === sub)?.state;
    await eventually(() => state(silentSub), (s) => s === 'zombie', 5000);

    for (let i = 0; i < 5; i++) await lockCycle(locker, volumeId);
    await eventually(() => acking.events(ackingSub).length, (n) => n === 12);
    expect(acking.events(ackingSub).map((e) => e.type)).toEqual(Array(6).fill(['lock.granted', 'lock.released']).flat());
    // Another 300 ms: the acking subscriber is never late, so it never turns zombie.
    await sleep(400);
    expect(state(ackingSub)).toBe('attached');
    expect(state(silentSub)).toBe('zombie');
    // The zombie got its one unacked frame and nothing after; it keeps its slot.
    expect(silent.frames(silentSub)).toHaveLength(1);
    expect(warden.core.hub.snapshot()).toHaveLength(2);
    // A late ack changes nothing.
    silent.ack(silent.frames(silentSub)[0]!);
    await lockCycle(locker, volumeId);
    await eventually(() => acking.events(ackingSub).length, (n) => n === 14);
    expect(state(silentSub)).toBe('zombie');
    expect(silent.frames(silentSub)).toHaveLength(1);
  });

  it('splits a 2,000-path change into frames within maxFrameBytes that carry every published event in order', async () => {
    // A long ack deadline: the test holds its first ack so the whole burst queues up behind it.
    const { warden, vol, volumeId, connect, published } = await daemon({ limits: { maxFrameBytes: 4096, ackTimeoutMs: 60_000 } });
    const sub$ = published();
    const client = await connect('status');
    const sub = await client.subscribe(volumeId);
    const tokenBefore = warden.status().volumes[0]!.lock.token;

    for (let i = 0; i < 2000; i++) writeFileSync(path.join(vol.root, 'src', `file-${String(i).padStart(4, '0')}.txt`), `${i}\n`);
    // The burst settles into one rebuild; everything after the first frame waits in the queue.
    await eventually(
      () => warden.status().volumes[0]!,
      (v) => v.state === 'idle' && v.lock.token > tokenBefore && v.stale?.length === 0,
      30_000,
    );
    const mine = sub$.filter((ev) => ev.volume === volumeId);
    const changedPaths = new Set(mine.flatMap((ev) => (ev.type === 'volume.changed' ? ev.paths : [])));
    expect(changedPaths.size).toBe(2000);
    expect(client.frames(sub)).toHaveLength(1);
    expect(warden.core.hub.snapshot()[0]!.queued).toBe(mine.length - client.events(sub).length);
    client.autoAck = true;
    client.ack(client.frames(sub)[0]!);
    await eventually(() => client.events(sub).length, (n) => n === mine.length);

    expect(client.events(sub)).toEqual(JSON.parse(JSON.stringify(mine)));
    const lines = client.notificationLines(sub);
    for (const line of lines) expect(Buffer.byteLength(line.raw, 'utf8')).toBeLessThanOrEqual(4096);
    // Halving packs several events per frame: far fewer frames than events.
    expect(lines.length).toBeLessThan(mine.length / 4);
    const ns = client.events(sub).map((ev) => ev.n);
    for (let i = 1; i < ns.length; i++) expect(ns[i]).toBeGreaterThan(ns[i - 1]!);
    const seqs = client.frames(sub).map((f) => f.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    // The last ack is on its way when the last event arrives: wait for the daemon to read it.
    await eventually(() => warden.core.hub.snapshot()[0]!.state, (state) => state === 'attached');
  }, 40_000);

  it('reports a full daemon-mode rebuild cycle in order', async () => {
    const { vol, volumeId, connect } = await daemon();
    const client = await connect('status');
    client.autoAck = true;
    const sub = await client.subscribe(volumeId);
    writeFileSync(path.join(vol.root, 'src', 'a.txt'), 'alpha, again\n');
    await client.waitFor((l) => l.msg.id === 2000 && (l.msg as unknown as Frame).events.some((e) => e.type === 'rebuild.finished'));
    const types = client.events(sub).map((e) => e.type);
    // chokidar may report one write as more than one change: those merge into one settle period.
    const collapsed = types.filter((t, i) => !(t === 'volume.changed' && types[i - 1] === 'volume.changed'));
    expect(collapsed).toEqual(['volume.changed', 'rebuild.started', 'lock.granted', 'lock.released', 'rebuild.finished']);
    const events = client.events(sub);
    expect(events.find((e) => e.type === 'volume.changed')).toMatchObject({ paths: ['src/a.txt'] });
    expect(events.find((e) => e.type === 'lock.granted')).toMatchObject({ holder: { name: 'volwarden' } });
    expect(events.find((e) => e.type === 'rebuild.finished')).toMatchObject({ status: 0, failures: 0 });
  });

  it('delivers only the types an events filter names', async () => {
    const { vol, volumeId, connect } = await daemon();
    const filtered = await connect('status');
    const everything = await connect('status');
    filtered.autoAck = true;
    everything.autoAck = true;
    const onlyFinished = await filtered.subscribe(volumeId, ['rebuild.finished']);
    const all = await everything.subscribe('*');
    writeFileSync(path.join(vol.root, 'src', 'b.txt'), 'beta\n');
    await everything.waitFor((l) => l.msg.id === 2000 && (l.msg as unknown as Frame).events.some((e) => e.type === 'rebuild.finished'));
    await filtered.waitFor((l) => l.msg.id === 2000);
    await sleep(100);
    expect(everything.events(all).length).toBeGreaterThanOrEqual(5);
    expect(filtered.events(onlyFinished).map((e) => e.type)).toEqual(['rebuild.finished']);
    expect(await filtered.request({ id: 1008, volume: volumeId, events: ['no.such.type'] })).toMatchObject({ ret: 'EINVAL' });
    expect(await filtered.request({ id: 1008, volume: volumeId, events: [] })).toMatchObject({ ret: 'EINVAL' });
  });

  it('ends a one-volume subscription with volume.gone when the root is removed', async () => {
    const { warden, vol, volumeId, connect } = await daemon();
    const client = await connect('status');
    client.autoAck = true;
    const sub = await client.subscribe(volumeId);
    const star = await client.subscribe('*');
    rmSync(vol.root, { recursive: true, force: true });
    await client.waitFor((l) => l.msg.id === 2000 && l.msg.sub === sub && (l.msg as unknown as Frame).events.some((e) => e.type === 'volume.gone'));
    await eventually(() => warden.core.hub.snapshot().map((s) => s.sub), (subs) => !subs.includes(sub));
    const frames = client.frames(sub);
    expect(frames.at(-1)!.events.at(-1)).toMatchObject({ type: 'volume.gone', volume: volumeId });
    expect(client.events(sub).filter((e) => e.type === 'volume.gone')).toHaveLength(1);
    // "*" subscriptions see the volume go and carry on.
    expect(client.events(star).map((e) => e.type)).toContain('volume.gone');
    expect(warden.core.hub.snapshot().map((s) => s.sub)).toEqual([star]);
    expect(await client.request({ id: 1008, volume: volumeId })).toMatchObject({ id: 1108, ret: 'ENOENT' });
    expect(await client.request({ id: 1009, sub })).toMatchObject({ id: 1109, ret: 'ENOENT' });
  });

  it('answers ENOENT for an unknown volume and ignores an ack for an unknown subscription', async () => {
    const { connect } = await daemon();
    const client = await connect('status');
    expect(await client.request({ id: 1008, volume: 'path:/no/such/volume' })).toMatchObject({ id: 1108, ret: 'ENOENT' });
    expect(await client.request({ id: 1008, volume: '/no/such/volume' })).toMatchObject({ id: 1108, ret: 'ENOENT' });
    const before = client.lines.length;
    client.write({ id: 1007, seq: 1, sub: 424242 });
    client.write({ id: 1007, seq: 99, sub: 424242 });
    expect(await client.request({ id: 1006 })).toMatchObject({ id: 1106, ret: 'OK' });
    // No reply to either ack: the status reply is the only new line, and the connection stays up.
    expect(client.lines.length).toBe(before + 1);
    expect(client.socket.destroyed).toBe(false);
  });
});
