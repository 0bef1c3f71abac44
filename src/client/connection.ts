/**
 * The low-level client end of the socket protocol (SPEC §10): one connection, `hello` first,
 * requests matched to replies by `seq` (deferred lock replies arrive out of order), and
 * notifications handed to listeners. Higher-level calls (`volwarden/client`) build on this.
 */
import net from 'node:net';
import { WardenError, describeCode, isErrorCode, type ErrorCode } from '../errors.js';
import { assertTrustedSocket } from '../adapters/socket-trust.js';
import { LineDecoder } from '../protocol/line-decoder.js';
import { escapeControl } from '../safe-text.js';
import { NOTIFICATION_ID, REPLY_OFFSET, ROUTINES, type RoutineName, type Rights } from '../protocol/types.js';

/** A notification frame (SPEC §8); acknowledge it with `send('ack', { sub, seq })`. */
export interface NotificationFrame {
  sub: number;
  seq: number;
  events: Record<string, unknown>[];
}

/** What a client says about itself in `hello`; shown as the lock holder in `status`. */
export interface HelloInfo {
  name?: string;
  pid?: number;
}

/** An open, greeted connection to a daemon. */
export interface ClientConnection {
  /** The client number the daemon assigned (as in `status` holders). */
  readonly clientId: number;
  readonly rights: Rights;
  /** The daemon's version, as sent in the `hello` reply. */
  readonly version: string | number;
  /** Calls a routine; resolves with the whole reply on `OK`, rejects with `WardenError(ret)` otherwise. */
  request(routine: RoutineName, args?: object): Promise<Record<string, unknown>>;
  /** Sends a routine that gets no reply (`ack`); `args.seq` overrides the allocated seq. */
  send(routine: RoutineName, args?: object): void;
  /** Registers a notification listener; returns a function that removes it. */
  onNotification(cb: (frame: NotificationFrame) => void): () => void;
  /** Hangs up; pending requests reject with `ECONNRESET`. */
  close(): Promise<void>;
  /** Settles (never rejects) once the connection is gone, whoever closed it. */
  readonly closed: Promise<void>;
}

// Replies to `status` on a big system can exceed the 1 MiB request limit; only bound them loosely.
const MAX_REPLY_BYTES = 256 * 1024 * 1024;

/**
 * Connects to a daemon socket and says hello. Rejects `EPERM` without connecting when the socket
 * or a directory above it belongs to another uid (not root) or is writable by others: whoever
 * could have put it there could be a fake daemon (issue 17).
 *
 * @example
 * const conn = await connectClient('/run/volwarden/private/control.sock', { name: 'backup' });
 * const { token } = await conn.request('lock_volume', { volume: 'path:/data', wait: true });
 * try { await backup(token); } finally { await conn.request('unlock_volume', { volume: 'path:/data' }); }
 * await conn.close();
 */
export async function connectClient(socketPath: string, hello: HelloInfo = {}): Promise<ClientConnection> {
  // No SO_PEERCRED in Node: who could have placed the socket is the check we have (issue 17).
  await assertTrustedSocket(socketPath);
  const socket = await openSocket(socketPath);
  const conn = new SocketClient(socket, socketPath);
  try {
    const reply = await conn.request('hello', { pid: process.pid, ...hello });
    conn.greeted(reply);
  } catch (error) {
    await conn.close();
    throw error;
  }
  return conn;
}

function openSocket(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (error: NodeJS.ErrnoException) => reject(connectError(socketPath, error));
    socket.once('error', onError);
  });
}

// SPEC §11 wants one line that says what to do; map the OS error to the protocol's names.
function connectError(socketPath: string, error: NodeJS.ErrnoException): WardenError {
  if (error.code === 'EACCES' || error.code === 'EPERM') {
    return new WardenError('EPERM', `permission denied on ${socketPath}: use the status socket or run as the daemon's user`, { cause: error });
  }
  return new WardenError('ECONNREFUSED', `daemon not reachable at ${socketPath}: is volwarden daemon running?`, { cause: error });
}

interface Pending {
  id: number;
  resolve: (reply: Record<string, unknown>) => void;
  reject: (error: WardenError) => void;
}

// One greeted socket: seq allocation, reply matching, notification fan-out, death handling.
class SocketClient implements ClientConnection {
  clientId = 0;
  rights: Rights = 'status';
  version: string | number = '';
  readonly closed: Promise<void>;
  private nextSeq = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(frame: NotificationFrame) => void>();
  private readonly decoder = new LineDecoder(MAX_REPLY_BYTES);
  private isClosed = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly socketPath: string,
  ) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => {}); // the 'close' that follows is what matters
    socket.once('close', () => this.die('ECONNRESET', `the connection to the daemon at ${socketPath} was lost`));
  }

  greeted(reply: Record<string, unknown>): void {
    if (typeof reply.client === 'number') this.clientId = reply.client;
    if (reply.rights === 'control' || reply.rights === 'status') this.rights = reply.rights;
    if (typeof reply.version === 'string' || typeof reply.version === 'number') this.version = reply.version;
  }

  request(routine: RoutineName, args: object = {}): Promise<Record<string, unknown>> {
    if (this.isClosed) return Promise.reject(this.lostError());
    const id = ROUTINES[routine];
    const seq = this.nextSeq++;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { id, resolve, reject });
      this.write({ ...args, id, seq });
    });
  }

  send(routine: RoutineName, args: object = {}): void {
    if (this.isClosed) return;
    this.write({ id: ROUTINES[routine], seq: this.nextSeq++, ...args });
  }

  onNotification(cb: (frame: NotificationFrame) => void): () => void {
    this.listeners.add(cb);
    return () => void this.listeners.delete(cb);
  }

  async close(): Promise<void> {
    if (!this.socket.destroyed) this.socket.end(() => this.socket.destroy());
    await this.closed;
  }

  private write(frame: object): void {
    this.socket.write(`${JSON.stringify(frame)}\n`);
  }

  private receive(chunk: Buffer): void {
    for (const line of this.decoder.push(chunk)) {
      if (!line.ok) {
        this.die('ECONNRESET', `the daemon at ${this.socketPath} sent a malformed frame (${line.code})`);
        this.socket.destroy();
        return;
      }
      this.dispatch(line.message);
    }
  }

  private dispatch(frame: Record<string, unknown>): void {
    const { id, seq, ret } = frame;
    if (id === NOTIFICATION_ID) return this.notify(frame as unknown as NotificationFrame);
    // id 0: a connection-level error (EMFILE, EBADMSG, EMSGSIZE); the daemon hangs up next.
    if (id === 0) return this.die(isErrorCode(ret) ? ret : 'ECONNRESET', undefined, frame);
    if (typeof seq !== 'number') return;
    const waiting = this.pending.get(seq);
    if (waiting === undefined || waiting.id + REPLY_OFFSET !== id) return;
    this.pending.delete(seq);
    if (ret === 'OK') waiting.resolve(frame);
    else waiting.reject(replyError(frame));
  }

  private notify(frame: NotificationFrame): void {
    for (const cb of [...this.listeners]) {
      try {
        cb(frame);
      } catch (error) {
        // A listener's bug must not stop the rest of this chunk from being decoded.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  // Every pending request gets exactly one answer, even when the connection dies first.
  private die(code: ErrorCode, message?: string, cause?: unknown): void {
    this.isClosed = true;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const waiting of pending) waiting.reject(new WardenError(code, message ?? describeCode(code), { cause }));
  }

  private lostError(): WardenError {
    return new WardenError('ECONNRESET', `the connection to the daemon at ${this.socketPath} is closed`);
  }
}

// The whole reply stays reachable as `cause`; `busyVolume` is lifted for `lock_reboot` callers.
function replyError(frame: Record<string, unknown>): WardenError {
  const ret = frame.ret;
  const code: ErrorCode = isErrorCode(ret) ? ret : 'EINVAL';
  // The daemon's text may quote file or client names: escaped, so printing a message is safe.
  const detail = typeof frame.error === 'string' ? escapeControl(frame.error) : isErrorCode(ret) ? describeCode(code) : `unexpected reply ${escapeControl(String(ret))}`;
  const busyVolume = typeof frame.busyVolume === 'string' ? frame.busyVolume : undefined;
  return new WardenError(code, detail, { cause: frame, busyVolume });
}
