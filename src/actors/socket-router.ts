import path from 'node:path';
import { WardenError } from '../errors.js';
import { listenUnix, type Connection, type SocketHandlers, type SocketListener } from '../adapters/socket-server.js';
import type { InspectionSource } from '../inspect/source.js';
import { streamInspection, type InspectionStream } from '../inspect/wire-stream.js';
import { decodeRequest, type Request } from '../protocol/requests.js';
import { errorReply, okReply } from '../protocol/replies.js';
import { DAEMON_HOLDER_NAME, type Rights } from '../protocol/types.js';
import { VERSION } from '../version.js';
import { statusClientLimit } from './env.js';
import type { SubscriberClient } from './subscriber-hub.js';
import type { Warden } from './warden.js';

/** Marks a request already answered with an error. */
const NO_REPLY = Symbol('answered');

// A status client closed for idling is told why, in the same shape as other connection-level errors.
function idleFrame(idleMs: number): object {
  return { id: 0, ret: 'ETIMEDOUT', error: `closed after ${idleMs} ms idle on the status socket with no subscription: reconnect when needed` };
}

// The daemon's own rebuilds hold locks as `volwarden/<its pid>` (SPEC §4): no client may appear as
// it, nor as `volwarden/…` or `volwarden#…` (how `status` prints a holder); `volwarden lock` is fine.
const IMPERSONATION = new RegExp(`^${DAEMON_HOLDER_NAME}($|[/#?(])`, 'i');

function refuseImpersonation(name: string | undefined): void {
  if (name !== undefined && IMPERSONATION.test(name.trim())) {
    throw new WardenError('EINVAL', `name: "${DAEMON_HOLDER_NAME}" is the daemon's own holder name; choose another`);
  }
}

/** Where the two sockets live (SPEC §9: control 0600 in a 0700 dir, status 0666). */
export interface ListenOptions {
  socket: string;
  statusSocket?: string;
  /** The warden's inspection hub, relayed by the `inspect` routine (`volwarden visualize`); without it `inspect` is `BAD_ID`. */
  inspection?: InspectionSource;
}

/** Opens sockets however the environment does (real Unix sockets, or the in-memory twin). */
export type Listen = (
  options: {
    path: string;
    rights: Rights;
    socketMode: number;
    dirMode: number;
    allocateId: () => number;
    onError?: (e: unknown, ctx: string) => void;
    /** Issue 17's memory bounds: per connection, and for all connections of the socket. */
    maxBufferedBytes?: number;
    maxSocketBufferedBytes?: number;
  },
  handlers: SocketHandlers,
) => Promise<SocketListener> | SocketListener;

/**
 * Serves the protocol (SPEC §10) for one warden: one client actor per connection, requests
 * decoded and checked for rights, answered in any order (lock replies may be deferred).
 */
export class SocketRouter {
  private readonly listeners: SocketListener[] = [];
  // SPEC §10 limits connections, each socket on its own budget (issue 17: status users can never
  // take control connections); in-process library clients in the registry do not count.
  private readonly openConnections: Record<Rights, number> = { control: 0, status: 0 };
  // --- inspection relay (routine `inspect`) ---
  private inspection: InspectionSource | undefined;
  private readonly inspectStreams = new Map<number, InspectionStream>();

  constructor(private readonly warden: Warden, private readonly listen: Listen = listenUnix) {}

  /**
   * Listens on the control socket, then the status socket. If either fails, nothing stays open
   * and the error (a `WardenError` from the real adapter) is rethrown.
   */
  async open(options: ListenOptions): Promise<void> {
    const allocateId = () => this.warden.clients.allocateId();
    const onError = (err: unknown, context: string) => this.warden.env.log.warn({ err: String(err), context }, 'socket error');
    const handlers = this.handlers();
    this.inspection = options.inspection ?? this.inspection;
    const { maxClientBufferBytes, maxSocketBufferBytes } = this.warden.env.limits;
    const common = { allocateId, onError, maxBufferedBytes: maxClientBufferBytes, maxSocketBufferedBytes: maxSocketBufferBytes };
    const control = await this.listen({ path: path.resolve(options.socket), rights: 'control', socketMode: 0o600, dirMode: 0o700, ...common }, handlers);
    this.listeners.push(control);
    if (!options.statusSocket) return;
    try {
      this.listeners.push(
        await this.listen({ path: path.resolve(options.statusSocket), rights: 'status', socketMode: 0o666, dirMode: 0o755, ...common }, handlers),
      );
    } catch (err) {
      // A daemon with only its control socket would look half started: close it too.
      const at = this.listeners.indexOf(control);
      if (at !== -1) this.listeners.splice(at, 1);
      await control.close().catch((closeErr: unknown) => onError(closeErr, 'closing the control socket after the status socket failed'));
      throw err;
    }
  }

  /** Refuses new connections on every socket; open ones stay until {@link close}. */
  stopAccepting(): void {
    for (const listener of this.listeners) listener.stopAccepting();
  }

  /** Stops accepting, closes every connection and removes the socket files. */
  async close(): Promise<void> {
    const listeners = this.listeners.splice(0);
    await Promise.all(listeners.map((l) => l.close()));
    for (const stream of this.inspectStreams.values()) stream.stop();
    this.inspectStreams.clear();
  }

  private handlers(): SocketHandlers {
    const warden = this.warden;
    return {
      onConnection: (conn) => {
        const { limits } = warden.env;
        const budget = conn.rights === 'status' ? statusClientLimit(limits) : limits.maxClients;
        if (this.openConnections[conn.rights] >= budget) return false;
        this.openConnections[conn.rights]++;
        const idleMs = conn.rights === 'status' ? limits.statusIdleTimeoutMs : undefined;
        const client = warden.clients.addConnection(conn.id, conn.rights, idleMs);
        client.actor.on('idleTimedOut', (event) => conn.close(idleFrame(event.idleMs)));
        return true;
      },
      onMessage: (conn, msg) => this.dispatch(conn, msg),
      onClose: (conn) => {
        this.openConnections[conn.rights]--;
        this.stopInspectStream(conn.id);
        warden.clients.died(conn.id);
      },
    };
  }

  private dispatch(conn: Connection, msg: Record<string, unknown>): void {
    // A status client's idle timer counts from its last request, and never runs while one is open.
    const activity = conn.rights === 'status' ? this.warden.clients.get(conn.id)?.actor : undefined;
    activity?.send({ type: 'REQUEST_STARTED' });
    let open = true;
    const finish = () => {
      if (!open) return;
      open = false;
      activity?.send({ type: 'REQUEST_FINISHED' });
    };
    try {
      const outcome = this.route(conn, msg);
      if (outcome instanceof Promise) void outcome.finally(finish);
      else finish();
    } catch (err) {
      finish();
      throw err;
    }
  }

  // Answers one message; a deferred answer comes back as the promise that settles with it.
  private route(conn: Connection, msg: Record<string, unknown>): Promise<unknown> | void {
    const warden = this.warden;
    const decoded = decodeRequest(msg, conn.rights);
    if (!decoded.ok) {
      conn.send(decoded.reply);
      return;
    }
    const req = decoded as Request;
    const answerError = (err: unknown) => {
      if (conn.closed) return;
      if (err instanceof WardenError) {
        conn.send(errorReply(req, err.code, { error: err.message, ...(err.busyVolume !== undefined ? { busyVolume: err.busyVolume } : {}) }));
      } else {
        this.warden.env.log.error({ err: String(err), routine: req.routine }, 'request failed');
        conn.send(errorReply(req, 'EINVAL', { error: String(err) }));
      }
    };
    const answer = (fields: Record<string, unknown> | void) => {
      if (!conn.closed) conn.send(okReply(req, fields ?? {}));
    };
    // Synchronous results are answered at once; only deferred ones (lock waits, reboot, can_unmount) wait.
    const reply = (result: Promise<Record<string, unknown> | void> | Record<string, unknown> | void | typeof NO_REPLY): Promise<unknown> | void => {
      if (result === NO_REPLY) return;
      if (result instanceof Promise) return result.then(answer, answerError);
      answer(result);
    };
    const client = { id: conn.id, rights: conn.rights };
    const attempt = <T>(fn: () => T): T | typeof NO_REPLY => {
      try {
        return fn();
      } catch (err) {
        answerError(err);
        return NO_REPLY;
      }
    };
    switch (req.routine) {
      case 'hello':
        return reply(attempt(() => {
          refuseImpersonation(req.args.name);
          warden.clients.hello(conn.id, req.args.name, req.args.pid);
          return { client: conn.id, rights: conn.rights, version: VERSION };
        }));
      case 'lock_volume':
        return reply(attempt(() => warden.lockVolume(client, req.args.volume, {
          wait: req.args.wait,
          ...(req.args.timeoutMs !== undefined ? { timeoutMs: req.args.timeoutMs } : {}),
        })));
      case 'unlock_volume':
        return reply(attempt(() => warden.unlockVolume(client, req.args.volume, req.args.status, req.args.token)));
      case 'lock_cancel':
        return reply(attempt(() => warden.cancelLock(client, req.args.volume)));
      case 'lock_reboot':
        return reply(attempt(() => warden.lockReboot(client, req.args.wait)));
      case 'unlock_reboot':
        return reply(attempt(() => warden.unlockReboot(client)));
      case 'status':
        return reply(attempt(() => ({ ...warden.status(req.args.volume) })));
      case 'ack':
        // Acks have no reply (SPEC §10).
        warden.hub.ack(conn.id, req.args.sub, req.args.seq);
        return;
      case 'subscribe':
        return reply(attempt(() => {
          const sub = warden.subscribe(this.subscriberFor(conn), req.args.volume, req.args.events);
          this.subscriptionsChanged(conn.id);
          return { sub };
        }));
      case 'unsubscribe':
        return reply(attempt(() => warden.hub.unsubscribe(conn.id, req.args.sub)));
      case 'can_unmount':
        return reply(attempt(() => warden.canUnmount(req.args.volume)));
      case 'check':
        return reply(attempt(() => ({ state: warden.check(client, req.args.volume) })));
      case 'retry':
        return reply(attempt(() => warden.retry(client, req.args.volume)));
      case 'inspect':
        return this.startInspectStream(conn, req);
    }
  }

  // The hub's view of a connection: its socket decides its slots; a subscriber is never idle.
  private subscriberFor(conn: Connection): SubscriberClient {
    return { id: conn.id, rights: conn.rights, send: (frame) => conn.send(frame), released: () => this.subscriptionsChanged(conn.id) };
  }

  // Only status clients have an idle timer to tell.
  private subscriptionsChanged(connId: number): void {
    const record = this.warden.clients.get(connId);
    if (record?.rights === 'status') record.actor.send({ type: 'SUBSCRIPTIONS_CHANGED', count: this.warden.hub.subscriptionsOf(connId) });
  }

  // --- inspection relay (routine `inspect`): reply with the present, then stream every record ---

  private startInspectStream(conn: Connection, req: Request): void {
    if (this.inspection === undefined) {
      conn.send(errorReply(req, 'BAD_ID', { error: 'this warden has no inspection hub to relay' }));
      return;
    }
    // A second `inspect` on the same connection starts over from a fresh snapshot.
    this.stopInspectStream(conn.id);
    const stream = streamInspection(this.inspection, conn);
    this.inspectStreams.set(conn.id, stream);
    conn.send(okReply(req, { ...stream.snapshot }));
  }

  private stopInspectStream(connId: number): void {
    this.inspectStreams.get(connId)?.stop();
    this.inspectStreams.delete(connId);
  }
}
