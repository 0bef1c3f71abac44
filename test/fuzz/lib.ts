/**
 * Shared machinery of the protocol fuzzers (SPEC §9, §10: bad input never crashes the daemon or
 * disturbs other clients): frame generators, an oracle that says what the daemon's line decoder
 * will make of each frame, raw fuzz clients that check every reply, a well-behaved canary client,
 * and a connection flood. Used by `protocol.fuzz.test.ts` and, bundled on the fly, `bench/fuzz.mjs`.
 */
import net from 'node:net';
import { TextDecoder } from 'node:util';
import fc from 'fast-check';
import { ERROR_CODES } from '../../src/errors.js';
import { EVENT_TYPES } from '../../src/protocol/events.js';
import { MAX_LINE_BYTES, NOTIFICATION_ID, REPLY_OFFSET, ROUTINES } from '../../src/protocol/types.js';

/** What the daemon's decoder does with a frame: dispatches its messages, and maybe closes after them. */
export interface Frame {
  kind: string;
  bytes: Buffer;
  /** The JSON objects the daemon will dispatch, in order (before any framing error). */
  messages: Record<string, unknown>[];
  /** The framing error that ends the connection after `messages`, if any. */
  closing: 'EBADMSG' | 'EMSGSIZE' | null;
}

/** Volumes and limits the generators aim at: real ids hit the lock paths, the rest miss. */
export interface FuzzTargets {
  volumes: string[];
}

const ROUTINE_IDS = Object.values(ROUTINES) as number[];
const ARG_NAMES = ['volume', 'wait', 'timeoutMs', 'status', 'token', 'sub', 'seq', 'events', 'name', 'pid'] as const;
const REPLY_CODES: ReadonlySet<string> = new Set<string>([...ERROR_CODES, 'OK']);
/** Frames that would answer for a connection as a whole, not for one request. */
const CONNECTION_CODES: ReadonlySet<string> = new Set(['EBADMSG', 'EMSGSIZE', 'EMFILE']);
const CR = 0x0d;
const NL = 0x0a;

// ---------------------------------------------------------------- oracle

/**
 * Splits `bytes` as the daemon's line decoder does (SPEC §10: one JSON object per line, at most
 * 1 MiB, blank lines skipped) and says which messages it dispatches and whether it then closes.
 * `bytes` must end with a newline unless it is an over-long line.
 *
 * @example
 * judgeFrame('bytes', Buffer.from('{"id":1006,"seq":1}\n[]\n')); // messages: [{id:1006,seq:1}], closing: 'EBADMSG'
 */
export function judgeFrame(kind: string, bytes: Buffer): Frame {
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const messages: Record<string, unknown>[] = [];
  let start = 0;
  for (let nl = bytes.indexOf(NL); nl !== -1; nl = bytes.indexOf(NL, start)) {
    let line = bytes.subarray(start, nl);
    start = nl + 1;
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (line.length > MAX_LINE_BYTES) return { kind, bytes, messages, closing: 'EMSGSIZE' };
    let text: string;
    try {
      text = utf8.decode(line);
    } catch {
      return { kind, bytes, messages, closing: 'EBADMSG' };
    }
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return { kind, bytes, messages, closing: 'EBADMSG' };
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind, bytes, messages, closing: 'EBADMSG' };
    messages.push(value as Record<string, unknown>);
  }
  if (bytes.length - start > MAX_LINE_BYTES) return { kind, bytes, messages, closing: 'EMSGSIZE' };
  if (start !== bytes.length) throw new Error(`frame ${kind} does not end with a newline`);
  return { kind, bytes, messages, closing: null };
}

const line = (kind: string, text: string): Frame => judgeFrame(kind, Buffer.from(`${text}\n`, 'utf8'));

// ---------------------------------------------------------------- generators

/** Strings that break naive code: NUL, lone surrogates, RTL marks, paths, huge, empty. */
function nastyString(targets: FuzzTargets): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.string({ unit: 'binary', maxLength: 64 }), weight: 4 },
    { arbitrary: fc.string({ unit: 'grapheme', maxLength: 32 }), weight: 2 },
    { arbitrary: fc.constantFrom('', '*', '\u0000', 'path:/\u0000', '/', '//', '/..', '\ud800', '\udfff\ud800', '\u202e\u0000x', 'path:', 'uuid:', '../../etc/passwd', '\\\\?\\C:\\'), weight: 3 },
    { arbitrary: fc.constantFrom(...targets.volumes), weight: 4 },
    { arbitrary: fc.constantFrom(...targets.volumes).map((v) => `${v}/`), weight: 1 },
    { arbitrary: fc.constantFrom(...targets.volumes).map((v) => `${v}\u0000`), weight: 1 },
    { arbitrary: fc.tuple(fc.constantFrom('a', '\u00e9', '\u{1f600}', '\u0000'), fc.constantFrom(300, 9000, 20_000)).map(([c, n]) => c.repeat(n)), weight: 1 },
  );
}

/** Any value an argument could hold, typed or not. */
function argValue(targets: FuzzTargets): fc.Arbitrary<unknown> {
  return fc.oneof(
    { arbitrary: nastyString(targets), weight: 5 },
    { arbitrary: fc.integer({ min: -5, max: 40 }), weight: 5 },
    { arbitrary: fc.boolean(), weight: 3 },
    {
      arbitrary: fc.constantFrom(0, -0, -1, 1.5, 1e308, -1e308, 2 ** 31, 2 ** 31 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, 5e-324, null),
      weight: 3,
    },
    { arbitrary: fc.array(fc.constantFrom(...EVENT_TYPES, 'volume.nope', ''), { maxLength: 4 }), weight: 2 },
    { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 2 },
  );
}

/** A request with a routine id and a seq, and arguments that may be missing, mistyped or huge. */
function requestObject(targets: FuzzTargets): fc.Arbitrary<Record<string, unknown>> {
  const value = argValue(targets);
  return fc
    .record({
      id: fc.constantFrom(...ROUTINE_IDS),
      seq: fc.integer({ min: 0, max: 1_000_000 }),
      args: fc.dictionary(fc.constantFrom(...ARG_NAMES), value, { maxKeys: 4 }),
    })
    .map(({ id, seq, args }) => ({ ...args, id, seq }));
}

/** A plausible session step: lock, unlock, cancel, subscribe, ack, unsubscribe on a real or bogus volume. */
function sessionObject(targets: FuzzTargets): fc.Arbitrary<Record<string, unknown>> {
  const volume = fc.oneof({ arbitrary: fc.constantFrom(...targets.volumes), weight: 4 }, { arbitrary: nastyString(targets), weight: 1 });
  const sub = fc.integer({ min: -1, max: 60 });
  const seq = fc.integer({ min: 0, max: 1_000_000 });
  return fc.oneof(
    fc.record({ id: fc.constant(1001), seq, volume, wait: fc.boolean(), timeoutMs: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }) }, { requiredKeys: ['id', 'seq', 'volume'] }),
    fc.record({ id: fc.constant(1002), seq, volume, status: fc.integer({ min: -2, max: 3 }), token: fc.integer({ min: 0, max: 50 }) }, { requiredKeys: ['id', 'seq', 'volume'] }),
    fc.record({ id: fc.constant(1003), seq, volume }),
    fc.record({ id: fc.constant(1004), seq, wait: fc.boolean() }),
    fc.record({ id: fc.constant(1005), seq }),
    fc.record({ id: fc.constant(1008), seq, volume: fc.oneof(fc.constant('*'), volume), events: fc.array(fc.constantFrom(...EVENT_TYPES), { minLength: 1, maxLength: 3 }) }, { requiredKeys: ['id', 'seq'] }),
    fc.record({ id: fc.constant(1007), sub, seq: fc.integer({ min: -1, max: 20 }) }),
    fc.record({ id: fc.constant(1009), seq, sub }),
    fc.record({ id: fc.constantFrom(1000, 1006, 1010, 1011, 1012), seq, volume, name: nastyString(targets), pid: fc.integer() }, { requiredKeys: ['id', 'seq'] }),
  );
}

/** Ids that name no routine, or are no integer at all. */
function unknownIdObject(): fc.Arbitrary<Record<string, unknown>> {
  const id = fc.oneof(
    fc.integer({ min: -2000, max: 3000 }).filter((n) => !ROUTINE_IDS.includes(n)),
    fc.constantFrom(0, -100, 1900, 2000, 1013, 999, 1106, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, 1e300, 1006.5, -0, '1006', null, true, [1006], { id: 1006 }),
  );
  const seq = fc.oneof(fc.integer({ min: 0, max: 1_000_000 }), fc.constantFrom(-1, 1.5, '7', null, 2 ** 60));
  return fc.record({ id, seq }, { requiredKeys: ['id'] });
}

/** Nesting far deeper than any real request: as the whole line (bad) or as one argument (kept). */
function nestedFrame(): fc.Arbitrary<Frame> {
  return fc
    .record({ depth: fc.constantFrom(100, 1000, 10_000, 100_000), object: fc.boolean(), where: fc.constantFrom('line', 'extra', 'volume', 'events'), seq: fc.nat(1_000_000) })
    .map(({ depth, object, where, seq }) => {
      const nested = object ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}${']'.repeat(depth)}`;
      if (where === 'line') return line('nested', nested);
      const key = where === 'extra' ? 'x' : where;
      return line('nested', `{"id":${where === 'events' ? 1008 : 1006},"seq":${seq},"${key}":${nested}}`);
    });
}

/** A valid request cut short: almost always EBADMSG. */
function truncatedFrame(targets: FuzzTargets): fc.Arbitrary<Frame> {
  return fc.tuple(sessionObject(targets), fc.double({ min: 0, max: 1, noNaN: true })).map(([obj, at]) => {
    const text = JSON.stringify(obj);
    return line('truncated', text.slice(0, Math.max(1, Math.floor(text.length * at))));
  });
}

/** Raw bytes, sometimes with a real request mixed in, ending with a newline. */
function bytesFrame(): fc.Arbitrary<Frame> {
  return fc
    .tuple(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.constantFrom('', '\r', '{"id":1006,"seq":1}\n'))
    .map(([raw, prefix]) => judgeFrame('bytes', Buffer.concat([Buffer.from(prefix), Buffer.from(raw), Buffer.from('\n')])));
}

/** Invalid UTF-8 inside an otherwise valid request: EBADMSG. */
function badUtf8Frame(): fc.Arbitrary<Frame> {
  return fc.constantFrom([0xc3], [0xff], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]).map((bad) =>
    judgeFrame('bad-utf8', Buffer.concat([Buffer.from('{"id":1006,"seq":1,"volume":"'), Buffer.from(bad), Buffer.from('"}\n')])),
  );
}

/** Megabyte lines: over the limit without a newline (EMSGSIZE as soon as it arrives), over it with one, or exactly at it. */
function hugeFrame(): fc.Arbitrary<Frame> {
  return fc.record({ shape: fc.constantFrom('no-newline', 'with-newline', 'at-limit'), extra: fc.integer({ min: 1, max: 64 * 1024 }), seq: fc.nat(1_000_000) }).map(({ shape, extra, seq }) => {
    if (shape === 'no-newline') return judgeFrame('huge', Buffer.alloc(MAX_LINE_BYTES + extra, 0x61));
    if (shape === 'with-newline') return judgeFrame('huge', Buffer.concat([Buffer.alloc(MAX_LINE_BYTES + extra, 0x20), Buffer.from('{}\n')]));
    const head = `{"id":1006,"seq":${seq},"pad":"`;
    const pad = MAX_LINE_BYTES - Buffer.byteLength(head) - 2;
    return judgeFrame('at-limit', Buffer.from(`${head}${'p'.repeat(pad)}"}\n`));
  });
}

/**
 * Every kind of frame the fuzzers send, weighted so most keep the connection open. `heavy`
 * is the weight of megabyte frames (out of about 420; 0 leaves them out).
 *
 * @example
 * const frames = fc.sample(frameArbitrary({ volumes: ['path:/vol'] }), { numRuns: 100, seed: 42 });
 */
export function frameArbitrary(targets: FuzzTargets, heavy = 1): fc.Arbitrary<Frame> {
  const choices: Array<{ arbitrary: fc.Arbitrary<Frame>; weight: number }> = [
    { arbitrary: sessionObject(targets).map((o) => line('session', JSON.stringify(o))), weight: 150 },
    { arbitrary: requestObject(targets).map((o) => line('request', JSON.stringify(o))), weight: 150 },
    { arbitrary: unknownIdObject().map((o) => line('unknown-id', JSON.stringify(o))), weight: 40 },
    { arbitrary: fc.object({ maxDepth: 3 }).map((o) => line('object', JSON.stringify(o))), weight: 30 },
    { arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => line('json', JSON.stringify(v))), weight: 20 },
    { arbitrary: truncatedFrame(targets), weight: 10 },
    { arbitrary: bytesFrame(), weight: 10 },
    { arbitrary: badUtf8Frame(), weight: 5 },
    { arbitrary: nestedFrame(), weight: 5 },
  ];
  if (heavy > 0) choices.push({ arbitrary: hugeFrame(), weight: heavy });
  return fc.oneof(...choices);
}

/**
 * An endless, reproducible supply of frames: samples `batch` at a time from successive seeds.
 *
 * @example
 * const next = frameSource({ volumes }, 42);
 * socket.write(next().bytes);
 */
export function frameSource(targets: FuzzTargets, seed: number, heavy = 1, batch = 500): () => Frame {
  const arbitrary = frameArbitrary(targets, heavy);
  let buffer: Frame[] = [];
  let round = 0;
  return () => {
    if (buffer.length === 0) buffer = fc.sample(arbitrary, { numRuns: batch, seed: seed + round++ }).reverse();
    return buffer.pop()!;
  };
}

// ---------------------------------------------------------------- reply checking

/** Keys a reply can echo: `<request id + 100>:<seq>`, so float rounding of huge ids matches too. */
const replyKey = (replyId: number, seq: unknown): string => `${replyId}:${String(seq)}`;

const isSafeInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/** Whether the daemon owes exactly one reply to this message, right away. */
function owesPromptReply(msg: Record<string, unknown>): boolean {
  if (!isSafeInt(msg.seq)) return false;
  if (!isSafeInt(msg.id)) return true; // EINVAL with id 0
  if (!ROUTINE_IDS.includes(msg.id)) return true; // BAD_ID
  if (msg.id === ROUTINES.ack) return false; // a valid ack gets none, an invalid one EINVAL
  // A waiting lock may be answered much later (or never, if we hang up first).
  if ((msg.id === ROUTINES.lock_volume || msg.id === ROUTINES.lock_reboot) && msg.wait === true) return false;
  return true;
}

/**
 * Says what is wrong with one frame the daemon sent, given what the client sent so far; null when
 * it is well-formed (`id` number, `ret` a known code, `seq` echoing a request, or a notification).
 */
export function replyProblem(frame: unknown, sentReplyKeys: ReadonlySet<string>, sentReplyIds: ReadonlySet<number>): string | null {
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return 'not a JSON object';
  const f = frame as Record<string, unknown>;
  if (typeof f.id !== 'number') return 'id is not a number';
  if (!('ret' in f)) {
    if (f.id !== NOTIFICATION_ID) return 'no ret';
    if (!isSafeInt(f.sub) || !isSafeInt(f.seq) || !Array.isArray(f.events)) return 'malformed notification';
    for (const ev of f.events as unknown[]) {
      const e = ev as Record<string, unknown>;
      if (typeof e?.type !== 'string' || typeof e.volume !== 'string' || typeof e.ts !== 'number' || typeof e.n !== 'number') return 'malformed event';
    }
    return null;
  }
  if (typeof f.ret !== 'string' || !REPLY_CODES.has(f.ret)) return `unknown ret ${JSON.stringify(f.ret)}`;
  if ('seq' in f) {
    if (!sentReplyKeys.has(replyKey(f.id, f.seq))) return `reply ${f.id}/${String(f.seq)} echoes no request`;
    return null;
  }
  if (f.id === 0) return f.ret === 'EINVAL' || CONNECTION_CODES.has(f.ret) || f.ret === 'BAD_ID' ? null : `id 0 with ${f.ret}`;
  return sentReplyIds.has(f.id) ? null : `reply id ${f.id} answers no request`;
}

// ---------------------------------------------------------------- clients

/** Counters every fuzz client adds to; `problems` keeps the first few in words. */
export interface FuzzStats {
  frames: number;
  bytes: number;
  connections: number;
  refused: number;
  replies: number;
  notifications: number;
  framingCloses: number;
  /**
   * Connections the daemon closed (EMFILE, EBADMSG, EMSGSIZE) while we were still writing: our
   * write failed with EPIPE and Node dropped the socket before reading the final frame.
   */
  lostFinalFrames: number;
  problemCount: number;
  problems: string[];
  kinds: Record<string, number>;
}

export function newStats(): FuzzStats {
  return { frames: 0, bytes: 0, connections: 0, refused: 0, replies: 0, notifications: 0, framingCloses: 0, lostFinalFrames: 0, problemCount: 0, problems: [], kinds: {} };
}

function problem(stats: FuzzStats, text: string): void {
  stats.problemCount++;
  if (stats.problems.length < 30) stats.problems.push(text.length > 300 ? `${text.slice(0, 300)}…` : text);
}

/** A raw connection that records every frame the daemon sends and checks it on arrival. */
export class FuzzClient {
  readonly frames: Record<string, unknown>[] = [];
  readonly sentReplyKeys = new Set<string>();
  readonly sentReplyIds = new Set<number>();
  /** Prompt replies still owed, by reply key. */
  readonly owed = new Map<string, number>();
  closed = false;
  /** The socket error that ended the connection on our side (EPIPE, ECONNRESET), if any. */
  error: string | null = null;
  readonly whenClosed: Promise<void>;
  private buffered: Buffer = Buffer.alloc(0);
  private wake: Array<() => void> = [];

  private constructor(readonly socket: net.Socket, private readonly stats: FuzzStats, readonly label: string) {
    this.whenClosed = new Promise((resolve) => socket.once('close', () => {
      this.closed = true;
      this.poke();
      resolve();
    }));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error ??= err.code ?? String(err);
    });
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
  }

  /** Connects; resolves once connected (the daemon may still refuse with EMFILE). */
  static connect(path: string, stats: FuzzStats, label: string): Promise<FuzzClient> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(path);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new FuzzClient(socket, stats, label));
      });
      socket.once('error', reject);
    });
  }

  /** Sends one frame and notes which replies it may and must bring. */
  send(frame: Frame): void {
    this.stats.frames++;
    this.stats.bytes += frame.bytes.length;
    this.stats.kinds[frame.kind] = (this.stats.kinds[frame.kind] ?? 0) + 1;
    for (const msg of frame.messages) this.expect(msg);
    if (!this.socket.destroyed) this.socket.write(frame.bytes);
  }

  /** Registers a message as sent (also used for requests written by hand). */
  expect(msg: Record<string, unknown>): void {
    // An id that is no safe integer is answered with id 0 (EINVAL).
    const id = isSafeInt(msg.id) ? msg.id + REPLY_OFFSET : 0;
    this.sentReplyIds.add(id);
    this.sentReplyKeys.add(replyKey(id, msg.seq));
    if (owesPromptReply(msg)) this.owed.set(replyKey(id, msg.seq), (this.owed.get(replyKey(id, msg.seq)) ?? 0) + 1);
  }

  /** Resolves when `predicate` holds, the connection closes, or `timeoutMs` passes; returns whether it held. */
  async until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (this.closed || Date.now() > deadline) return predicate();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, Math.min(250, deadline - Date.now())));
        this.wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  get owedCount(): number {
    let n = 0;
    for (const v of this.owed.values()) n += v;
    return n;
  }

  /** Whether our own write failed because the daemon had already closed (the final frame may be unread). */
  get cutOff(): boolean {
    return this.closed && (this.error === 'EPIPE' || this.error === 'ECONNRESET');
  }

  private poke(): void {
    for (const w of this.wake.splice(0)) w();
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    let nl: number;
    while ((nl = this.buffered.indexOf(NL)) !== -1) {
      const text = this.buffered.subarray(0, nl).toString('utf8');
      this.buffered = this.buffered.subarray(nl + 1);
      let frame: unknown;
      try {
        frame = JSON.parse(text);
      } catch {
        problem(this.stats, `${this.label}: unparseable frame ${JSON.stringify(text.slice(0, 100))}`);
        continue;
      }
      const wrong = replyProblem(frame, this.sentReplyKeys, this.sentReplyIds);
      if (wrong !== null) problem(this.stats, `${this.label}: ${wrong}: ${text.slice(0, 200)}`);
      const f = frame as Record<string, unknown>;
      this.frames.push(f);
      if (f.id === NOTIFICATION_ID && !('ret' in f)) this.stats.notifications++;
      else {
        this.stats.replies++;
        const key = replyKey(f.id as number, f.seq);
        const owed = this.owed.get(key);
        if (owed !== undefined) {
          if (owed <= 1) this.owed.delete(key);
          else this.owed.set(key, owed - 1);
        }
      }
    }
    this.poke();
  }
}

/** Far above any seq the generators pick, so a sentinel's reply cannot be mistaken. */
const SENTINEL_SEQ = 2 ** 50;

/** How one worker behaves; `frames` is shared so several workers split one budget. */
export interface WorkerOptions {
  sockets: string[];
  next: () => Frame;
  stats: FuzzStats;
  budget: { frames: number; deadline: number };
  /** Most frames per connection before the sentinel (default 40). */
  maxBatch?: number;
  rng?: () => number;
  name: string;
}

/**
 * Opens connections and fills them with frames until the budget runs out. After a batch that
 * keeps the connection, a `status` sentinel must come back and every prompt reply with it; after
 * a framing error the last frame must be that error and the daemon must hang up.
 *
 * @example
 * await Promise.all([0, 1, 2].map((i) => runWorker({ sockets, next, stats, budget, name: `w${i}` })));
 */
export async function runWorker(options: WorkerOptions): Promise<void> {
  const { stats, budget } = options;
  const rng = options.rng ?? Math.random;
  const maxBatch = options.maxBatch ?? 40;
  let conn = 0;
  while (budget.frames > 0 && Date.now() < budget.deadline) {
    const path = options.sockets[Math.floor(rng() * options.sockets.length)]!;
    const label = `${options.name}#${conn++}`;
    let client: FuzzClient;
    try {
      client = await FuzzClient.connect(path, stats, label);
    } catch (err) {
      problem(stats, `${label}: cannot connect: ${String(err)}`);
      await sleep(20);
      continue;
    }
    // Greet first, so frames are only spent on connections the daemon accepted.
    client.expect({ id: ROUTINES.hello, seq: SENTINEL_SEQ - 1 });
    client.socket.write(`${JSON.stringify({ id: ROUTINES.hello, seq: SENTINEL_SEQ - 1, name: options.name })}\n`);
    await client.until(() => client.frames.length > 0, 15_000);
    const greeting = client.frames[0];
    if (greeting?.id === ROUTINES.hello + REPLY_OFFSET && greeting.ret === 'OK') {
      stats.connections++;
      await fillConnection(client, options, maxBatch, rng);
    } else if (wasRefused(client) || (greeting === undefined && client.cutOff)) {
      stats.refused++;
      await sleep(25);
    } else {
      problem(stats, `${label}: hello answered with ${JSON.stringify(greeting)} (closed: ${client.closed}, error ${client.error})`);
    }
    client.socket.destroy();
    await client.whenClosed;
  }
}

async function fillConnection(client: FuzzClient, options: WorkerOptions, maxBatch: number, rng: () => number): Promise<void> {
  const { stats, budget } = options;
  // A connection lives for one to a few batches; each batch ends in a sentinel or a framing error.
  for (let round = 0; round < 4 && budget.frames > 0; round++) {
    const size = 1 + Math.floor(rng() * maxBatch);
    let closing: Frame['closing'] = null;
    for (let i = 0; i < size && budget.frames > 0; i++) {
      const frame = options.next();
      budget.frames--;
      client.send(frame);
      if (frame.closing) {
        closing = frame.closing;
        break;
      }
    }
    if (closing) {
      await expectFramingClose(client, closing, stats);
      return;
    }
    const seq = SENTINEL_SEQ + round;
    client.expect({ id: ROUTINES.status, seq });
    if (!client.socket.destroyed) client.socket.write(`${JSON.stringify({ id: ROUTINES.status, seq })}\n`);
    const sentinel = () => client.frames.some((f) => f.id === ROUTINES.status + REPLY_OFFSET && f.seq === seq);
    if (!(await client.until(sentinel, 15_000))) {
      problem(stats, `${client.label}: no answer to the sentinel (closed: ${client.closed}, error ${client.error}, last: ${JSON.stringify(client.frames.at(-1))?.slice(0, 200)})`);
      return;
    }
    if (!(await client.until(() => client.owedCount === 0, 5_000))) {
      problem(stats, `${client.label}: ${client.owedCount} prompt replies never came: ${[...client.owed.keys()].slice(0, 5).join(', ')}`);
      return;
    }
    if (rng() < 0.4) return;
  }
}

async function expectFramingClose(client: FuzzClient, code: 'EBADMSG' | 'EMSGSIZE', stats: FuzzStats): Promise<void> {
  await client.until(() => false, 15_000);
  if (!client.closed) {
    problem(stats, `${client.label}: still open 15 s after a frame that must give ${code}`);
    return;
  }
  const last = client.frames.at(-1);
  if ((last?.id !== 0 || last.ret !== code) && client.cutOff) stats.lostFinalFrames++;
  else if (last?.id !== 0 || last.ret !== code) problem(stats, `${client.label}: expected ${code} before the close, last frame ${JSON.stringify(last)?.slice(0, 200)}, error ${client.error}`);
  else stats.framingCloses++;
}

function wasRefused(client: FuzzClient): boolean {
  return client.frames.length === 1 && client.frames[0]!.id === 0 && client.frames[0]!.ret === 'EMFILE';
}

// ---------------------------------------------------------------- canary

/** What the canary saw: every request it sent must have been answered. */
export interface CanaryReport {
  sent: number;
  answered: number;
  wrong: number;
  latenciesMs: number[];
  /** Whether the daemon hung up on the canary (it must not). */
  dropped: boolean;
}

/** A well-behaved client asking `status` every `intervalMs`; `stop` waits for the last answers. */
export interface Canary {
  stop(): Promise<CanaryReport>;
}

/**
 * Starts the canary on `path`.
 *
 * @example
 * const canary = await startCanary(statusSocket, 20);
 * // ... fuzz ...
 * const report = await canary.stop(); // report.answered === report.sent
 */
export async function startCanary(path: string, intervalMs = 20): Promise<Canary> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.createConnection(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
  const pending = new Map<number, bigint>();
  const report: CanaryReport = { sent: 0, answered: 0, wrong: 0, latenciesMs: [], dropped: false };
  let buffered = '';
  let stopping = false;
  socket.setEncoding('utf8');
  socket.on('error', () => {});
  socket.on('close', () => {
    if (!stopping) report.dropped = true;
  });
  socket.on('data', (text: string) => {
    buffered += text;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const reply = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>;
      buffered = buffered.slice(nl + 1);
      const started = pending.get(reply.seq as number);
      if (reply.id !== ROUTINES.status + REPLY_OFFSET || reply.ret !== 'OK' || started === undefined) {
        report.wrong++;
        continue;
      }
      pending.delete(reply.seq as number);
      report.answered++;
      report.latenciesMs.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  });
  let seq = 0;
  const timer = setInterval(() => {
    if (socket.destroyed) return;
    seq++;
    pending.set(seq, process.hrtime.bigint());
    report.sent++;
    socket.write(`${JSON.stringify({ id: ROUTINES.status, seq })}\n`);
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      const deadline = Date.now() + 10_000;
      while (pending.size > 0 && !socket.destroyed && Date.now() < deadline) await sleep(10);
      stopping = true;
      socket.destroy();
      return report;
    },
  };
}

// ---------------------------------------------------------------- flood

/** How a burst of connections fared: accepted ones answered `status`, refused ones got EMFILE and were closed. */
export interface FloodReport {
  accepted: number;
  refused: number;
  /** Connections that got neither (must stay 0). */
  odd: string[];
}

/**
 * Opens `count` connections at once, asks each for `status`, then closes the accepted ones.
 *
 * @example
 * const { accepted, refused } = await flood(socket, 40); // accepted === maxClients - already connected
 */
export async function flood(path: string, count: number, holdMs = 0): Promise<FloodReport> {
  const report: FloodReport = { accepted: 0, refused: 0, odd: [] };
  const stats = newStats();
  const clients = await Promise.all(
    Array.from({ length: count }, (_, i) => FuzzClient.connect(path, stats, `flood${i}`).catch((err: unknown) => err)),
  );
  await Promise.all(
    clients.map(async (client, i) => {
      if (!(client instanceof FuzzClient)) {
        report.odd.push(`flood${i}: connect failed: ${String(client)}`);
        return;
      }
      // Refused connections are told at once; write only to the others, or our write may EPIPE
      // and Node would drop the socket before we read the EMFILE frame.
      await client.until(() => client.frames.length > 0, 300);
      if (client.frames.length === 0 && !client.closed) {
        client.expect({ id: ROUTINES.status, seq: i });
        client.socket.write(`${JSON.stringify({ id: ROUTINES.status, seq: i })}\n`);
        await client.until(() => client.frames.length > 0, 10_000);
      }
      const first = client.frames[0];
      if (first?.id === 0 && first.ret === 'EMFILE') {
        if (!(await client.until(() => false, 10_000)) && client.closed && client.frames.length === 1) report.refused++;
        else report.odd.push(`flood${i}: EMFILE but not closed alone`);
      } else if (first?.id === ROUTINES.status + REPLY_OFFSET && first.ret === 'OK') {
        report.accepted++;
      } else if (first === undefined && client.cutOff) {
        report.refused++; // refused late, after our write: the EMFILE frame went unread
      } else {
        report.odd.push(`flood${i}: first frame ${JSON.stringify(first)?.slice(0, 100)} (closed: ${client.closed}, error ${client.error})`);
      }
    }),
  );
  if (holdMs > 0) await sleep(holdMs);
  for (const client of clients) if (client instanceof FuzzClient) client.socket.destroy();
  await Promise.all(clients.map((c) => (c instanceof FuzzClient ? c.whenClosed : undefined)));
  for (const p of stats.problems) report.odd.push(p);
  return report;
}

// ---------------------------------------------------------------- small helpers

/** The `p`-th percentile (0–100) of `values`, nearest-rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A seeded xorshift for worker choices, so a failing run can be replayed with the same seed. */
export function seededRandom(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}
