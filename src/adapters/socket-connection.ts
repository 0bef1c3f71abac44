/**
 * One accepted Unix socket connection (for `socket-server.ts`), and the memory bound every
 * connection of one socket shares (issue 17): what a client makes the daemon hold for it is its
 * unfinished input line (at most 1 MiB, SPEC §10) plus the replies it has not read yet (at most
 * `maxBufferedBytes` before the next reply is due); a client over either is closed, and when all
 * connections of the socket together hold more than the socket's budget, the biggest holders are
 * closed until they fit. A closed client's locks are handed on as on any death (SPEC §5).
 */
import type net from 'node:net';
import { LineDecoder } from '../protocol/line-decoder.js';
import { framingErrorFrame } from '../protocol/replies.js';
import type { Rights } from '../protocol/types.js';
import type { Connection, SocketHandlers } from './socket-server.js';

/** Sent before closing connections when the socket's connections together hold too much. */
export const OUT_OF_BUFFER_FRAME = Object.freeze({ id: 0, ret: 'ENOBUFS', error: 'this socket is out of buffer memory: the biggest holders are closed' });

/**
 * Bytes held for the connections of one socket. Each connection's share is re-read when it
 * reads or writes; a drained buffer may lag, so {@link BufferLedger.relieve} recounts before
 * closing anyone.
 */
export class BufferLedger {
  private total = 0;
  private readonly members = new Set<SocketConnection>();
  // Closing one connection hands its locks on, which sends frames to others: no nested recount.
  private relieving = false;

  constructor(
    /** The budget for every connection of this socket together. */
    readonly limit: number,
  ) {}

  /** What the ledger holds now, as last counted. */
  get bytes(): number {
    return this.total;
  }

  join(conn: SocketConnection): void {
    this.members.add(conn);
  }

  /** Whether `conn` is still counted here. */
  has(conn: SocketConnection): boolean {
    return this.members.has(conn);
  }

  leave(conn: SocketConnection, charged: number): void {
    if (this.members.delete(conn)) this.total -= charged;
  }

  adjust(delta: number): void {
    this.total += delta;
    if (this.total > this.limit && !this.relieving) this.relieve();
  }

  // Over budget: recount exactly, then close the biggest holders until the rest fit.
  private relieve(): void {
    this.relieving = true;
    try {
      let total = 0;
      for (const conn of this.members) total += conn.recount();
      this.total = total;
      while (this.total > this.limit) {
        let biggest: SocketConnection | undefined;
        for (const conn of this.members) if (biggest === undefined || conn.charged > biggest.charged) biggest = conn;
        if (biggest === undefined || biggest.charged === 0) return;
        biggest.evict(OUT_OF_BUFFER_FRAME, 'socket buffer budget');
      }
    } finally {
      this.relieving = false;
    }
  }
}

/** What a connection needs from its listener. */
export interface ConnectionOptions {
  id: number;
  rights: Rights;
  maxLineBytes: number;
  /** Unread replies past this, when the next one is due, close the connection. */
  maxBufferedBytes: number;
  ledger: BufferLedger;
  handlers: SocketHandlers;
  report: (error: unknown, context: string) => void;
  /** Tells the listener the connection is gone (it keeps the set of open ones). */
  forget: () => void;
}

/** A connection over one net.Socket: decodes input, bounds memory, reports its death once. */
export class SocketConnection implements Connection {
  readonly id: number;
  readonly rights: Rights;
  /** Bytes this connection is counted for in the ledger. */
  charged = 0;
  private isClosed = false;
  private accepted = false;
  private readonly decoder: LineDecoder;

  constructor(
    private readonly socket: net.Socket,
    private readonly options: ConnectionOptions,
  ) {
    this.id = options.id;
    this.rights = options.rights;
    this.decoder = new LineDecoder(options.maxLineBytes);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // Peers vanishing mid-write is ordinary life for a daemon, not worth a log line.
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') options.report(error, `client ${this.id} socket error`);
    });
    // The peer's EOF is its death (no half-open connections): reported as soon as it is read, in
    // the same poll as other clients' requests, not a phase later at 'close'. So a waiter that
    // hung up just before the holder unlocked is skipped, as SPEC §5 says dead waiters are.
    socket.on('end', () => this.markClosed());
    socket.on('close', () => {
      this.markClosed();
      this.options.ledger.leave(this, this.charged);
      this.charged = 0;
    });
    socket.on('drain', () => this.recharge());
  }

  get closed(): boolean {
    return this.isClosed;
  }

  start(): void {
    this.accepted = true;
    this.options.ledger.join(this);
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
  }

  refuse(frame: object): void {
    this.close(frame);
  }

  send(obj: object): void {
    if (this.isClosed) return;
    // A reader that never reads must not make the daemon's memory grow: one reply may be
    // bigger than the budget, but not while earlier ones still lie unread.
    if (this.socket.writableLength > this.options.maxBufferedBytes) {
      this.options.report(new Error(`client ${this.id} stopped reading (${this.socket.writableLength} bytes unread); dropped`), 'back-pressure');
      this.destroy();
      return;
    }
    this.socket.write(`${JSON.stringify(obj)}\n`);
    this.recharge();
  }

  close(finalFrame?: object): void {
    if (this.isClosed) return;
    const data = finalFrame === undefined ? '' : `${JSON.stringify(finalFrame)}\n`;
    // Flush the final frame, then drop the fd without waiting for the peer to hang up; a peer
    // that is not reading gets no say in how long its buffers stay.
    if (this.socket.writableLength > this.options.maxBufferedBytes) this.socket.destroy();
    else this.socket.end(data, () => this.socket.destroy());
    this.markClosed();
  }

  destroy(): void {
    this.socket.destroy();
    this.markClosed();
  }

  /** Closed by the ledger: the frame only if the peer is reading, else at once. */
  evict(frame: object, why: string): void {
    this.options.report(new Error(`client ${this.id} held ${this.charged} bytes; dropped`), why);
    this.options.ledger.leave(this, this.charged);
    this.charged = 0;
    if (this.socket.writableLength > 0) this.destroy();
    else this.close(frame);
  }

  /** Re-reads this connection's share and returns it (the ledger's exact recount). */
  recount(): number {
    this.charged = this.usage();
    return this.charged;
  }

  // A closing socket still holds its unflushed output until 'close': counted until then.
  private usage(): number {
    return this.decoder.bufferedBytes + this.socket.writableLength;
  }

  private recharge(): void {
    if (!this.options.ledger.has(this)) return;
    const now = this.usage();
    const delta = now - this.charged;
    this.charged = now;
    if (delta !== 0) this.options.ledger.adjust(delta);
  }

  private receive(chunk: Buffer): void {
    for (const line of this.decoder.push(chunk)) {
      if (this.isClosed) return;
      if (!line.ok) return this.close(framingErrorFrame(line.code));
      try {
        this.options.handlers.onMessage(this, line.message);
      } catch (error) {
        this.options.report(error, `onMessage handler threw for client ${this.id}`);
      }
    }
    this.recharge();
  }

  private markClosed(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.socket.removeAllListeners('data');
    this.options.forget();
    if (!this.accepted) return;
    try {
      this.options.handlers.onClose(this);
    } catch (error) {
      this.options.report(error, `onClose handler threw for client ${this.id}`);
    }
  }
}
