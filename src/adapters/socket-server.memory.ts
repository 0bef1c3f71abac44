/**
 * In-memory twin of `socket-server.ts` for simulations, model-based tests and embedders: the
 * same handler contract and the same framing rules (input goes through the real line decoder),
 * with synchronous delivery so a test sees every effect as soon as its call returns.
 */
import { LineDecoder } from '../protocol/line-decoder.js';
import { TOO_MANY_CLIENTS_FRAME, framingErrorFrame } from '../protocol/replies.js';
import { MAX_LINE_BYTES, type Rights } from '../protocol/types.js';
import type { Connection, ListenOptions, SocketHandlers, SocketListener } from './socket-server.js';

/** {@link ListenOptions} minus what only a file system socket needs (path, modes, buffering). */
export interface MemoryListenOptions {
  rights: Rights;
  allocateId: () => number;
  /** Shown as the listener's path; defaults to `memory:<rights>`. */
  path?: string;
  maxLineBytes?: number;
  /** Where handler exceptions go (default: `console.error`). */
  onError?: (error: unknown, context: string) => void;
}

/** The client end of an in-memory connection. */
export interface MemoryPeer {
  /** An object is sent as one line; a string is written raw (add `\n` yourself), like socket bytes. */
  send(objOrRawLine: object | string): void;
  /** Every frame the server sent, in order (deep copies, as if read off the wire). */
  readonly received: object[];
  /** Called synchronously for every frame the server sends from now on. */
  onFrame(cb: (frame: object) => void): void;
  close(): void;
  readonly closed: boolean;
}

interface MemoryEndpoint {
  options: MemoryListenOptions;
  handlers: SocketHandlers;
  connections: Set<MemoryConnection>;
  /** After stopAccepting(): new connections are refused, open ones stay. */
  refusing?: boolean;
}

/**
 * A socket server with no sockets. Holds one listener per rights kind (control, status).
 *
 * @example
 * const sockets = new MemorySocketServer();
 * sockets.listen({ rights: 'control', allocateId: () => ++n }, handlers);
 * const peer = sockets.connect('control');
 * peer.send({ id: 1000, seq: 1, name: 'test' });
 * expect(peer.received).toEqual([{ id: 1100, seq: 1, ret: 'OK', client: 1, rights: 'control', version: '1' }]);
 */
export class MemorySocketServer {
  private readonly endpoints = new Map<Rights, MemoryEndpoint>();

  /** Starts accepting in-memory connections with these rights. */
  listen(options: MemoryListenOptions, handlers: SocketHandlers): SocketListener {
    if (this.endpoints.has(options.rights)) throw new Error(`already listening with ${options.rights} rights`);
    const endpoint: MemoryEndpoint = { options, handlers, connections: new Set() };
    this.endpoints.set(options.rights, endpoint);
    return {
      path: options.path ?? `memory:${options.rights}`,
      stopAccepting: () => {
        if (this.endpoints.get(options.rights) === endpoint) endpoint.refusing = true;
      },
      close: async () => {
        if (this.endpoints.get(options.rights) !== endpoint) return;
        this.endpoints.delete(options.rights);
        for (const conn of [...endpoint.connections]) conn.drop();
      },
    };
  }

  /** Opens a connection to the listener with `rights`; throws like ECONNREFUSED if there is none. */
  connect(rights: Rights = 'control'): MemoryPeer {
    const endpoint = this.endpoints.get(rights);
    if (endpoint === undefined || endpoint.refusing) throw new Error(`nothing listens with ${rights} rights (ECONNREFUSED)`);
    const conn = new MemoryConnection(endpoint);
    let accepted = false;
    try {
      accepted = endpoint.handlers.onConnection(conn);
    } catch (error) {
      conn.report(error, 'onConnection handler threw');
    }
    if (accepted) conn.start();
    else conn.close(TOO_MANY_CLIENTS_FRAME);
    return conn.peer;
  }
}

// Both ends of one in-memory connection; the server side implements Connection.
class MemoryConnection implements Connection {
  readonly id: number;
  readonly rights: Rights;
  readonly peer: MemoryPeer;
  private isClosed = false;
  private accepted = false;
  private readonly decoder: LineDecoder;
  private readonly received: object[] = [];
  private readonly frameListeners: ((frame: object) => void)[] = [];

  constructor(private readonly endpoint: MemoryEndpoint) {
    this.id = endpoint.options.allocateId();
    this.rights = endpoint.options.rights;
    this.decoder = new LineDecoder(endpoint.options.maxLineBytes ?? MAX_LINE_BYTES);
    const conn = this;
    this.peer = {
      send: (objOrRawLine) => this.receive(typeof objOrRawLine === 'string' ? objOrRawLine : `${JSON.stringify(objOrRawLine)}\n`),
      received: this.received,
      onFrame: (cb) => void this.frameListeners.push(cb),
      close: () => this.drop(),
      get closed() {
        return conn.isClosed;
      },
    };
  }

  get closed(): boolean {
    return this.isClosed;
  }

  start(): void {
    this.accepted = true;
    this.endpoint.connections.add(this);
  }

  send(obj: object): void {
    if (this.isClosed) return;
    const frame = JSON.parse(JSON.stringify(obj)) as object;
    this.received.push(frame);
    for (const cb of this.frameListeners) cb(frame);
  }

  close(finalFrame?: object): void {
    if (this.isClosed) return;
    if (finalFrame !== undefined) this.send(finalFrame);
    this.drop();
  }

  /** The connection ends without a final frame (peer hung up, server closed). */
  drop(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.endpoint.connections.delete(this);
    if (!this.accepted) return;
    try {
      this.endpoint.handlers.onClose(this);
    } catch (error) {
      this.report(error, `onClose handler threw for client ${this.id}`);
    }
  }

  report(error: unknown, context: string): void {
    const onError = this.endpoint.options.onError ?? ((e, c) => console.error(`volwarden memory socket: ${c}:`, e));
    onError(error, context);
  }

  private receive(raw: string): void {
    if (this.isClosed) return;
    for (const line of this.decoder.push(raw)) {
      if (this.isClosed) return;
      if (!line.ok) return this.close(framingErrorFrame(line.code));
      try {
        this.endpoint.handlers.onMessage(this, line.message);
      } catch (error) {
        this.report(error, `onMessage handler threw for client ${this.id}`);
      }
    }
  }
}
