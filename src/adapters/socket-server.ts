/**
 * The Unix socket server (SPEC §9, §10, §13): turns `net` connections into {@link Connection}
 * objects and decoded messages, answers framing errors itself, and never lets a bad client or
 * a throwing handler take the daemon down. Its in-memory twin is `socket-server.memory.ts`.
 */
import { lstat, chmod, unlink } from 'node:fs/promises';
import net from 'node:net';
import { WardenError } from '../errors.js';
import { TOO_MANY_CLIENTS_FRAME } from '../protocol/replies.js';
import { MAX_LINE_BYTES, type Rights } from '../protocol/types.js';
import { BufferLedger, SocketConnection } from './socket-connection.js';
import { prepareSocketDir } from './socket-trust.js';

/** One client connection as the warden sees it; the same shape for real and in-memory sockets. */
export interface Connection {
  readonly id: number;
  readonly rights: Rights;
  /** Writes one frame; a no-op once closed. */
  send(obj: object): void;
  /** Sends `finalFrame` (if any), then closes. Idempotent. */
  close(finalFrame?: object): void;
  readonly closed: boolean;
}

/** What the server calls; exceptions thrown by these are caught and reported through `onError`. */
export interface SocketHandlers {
  /** Return false to refuse (over `maxClients`): the client gets `EMFILE` and never reaches `onClose`. */
  onConnection(conn: Connection): boolean;
  onMessage(conn: Connection, msg: Record<string, unknown>): void;
  /** Called exactly once for every accepted connection, whoever closed it. */
  onClose(conn: Connection): void;
}

/** A listening socket; `close()` stops accepting, drops every connection and removes the file. */
export interface SocketListener {
  readonly path: string;
  /** Refuses new connections and keeps the open ones (a stopping daemon, SPEC §13). */
  stopAccepting(): void;
  close(): Promise<void>;
}

/** Where and how to listen; the warden builds one per socket (control and status). */
export interface ListenOptions {
  path: string;
  rights: Rights;
  /** 0o600 for the control socket, 0o666 for the status socket. */
  socketMode: number;
  /** Mode of the parent directory if it has to be created: 0o700 control, 0o755 status. */
  dirMode: number;
  /** Client ids are daemon-wide (both sockets), so the caller hands them out. */
  allocateId: () => number;
  maxLineBytes?: number;
  /** A client with more than this unread when its next reply is due is dropped (default 1 MiB). */
  maxBufferedBytes?: number;
  /**
   * All connections of this socket together: unfinished lines plus unread replies. Past it the
   * biggest holders are closed (default 64 MiB). Each socket has its own, so status users can
   * never make the daemon drop control clients.
   */
  maxSocketBufferedBytes?: number;
  /** Where handler exceptions and socket errors go (default: `console.error`). */
  onError?: (error: unknown, context: string) => void;
}

/** Default bound on unread replies per connection. */
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
/** Default bound on what all connections of one socket hold together. */
export const DEFAULT_MAX_SOCKET_BUFFERED_BYTES = 64 * 1024 * 1024;

/** Thrown when a live daemon already answers on the socket (SPEC §13: exit 75). */
export class AlreadyRunningError extends WardenError {
  readonly alreadyRunning = true;
  constructor(readonly socketPath: string) {
    super('EBUSY', `already running: a daemon answers on ${socketPath}`);
  }
}

/** Lets callers branch on "another daemon owns this socket" without parsing messages. */
export function isAlreadyRunning(err: unknown): err is AlreadyRunningError {
  return err instanceof AlreadyRunningError;
}

/**
 * Listens on a Unix socket with the given rights and permissions.
 *
 * @example
 * const listener = await listenUnix(
 *   { path: '/run/volwarden/private/control.sock', rights: 'control', socketMode: 0o600, dirMode: 0o700, allocateId },
 *   { onConnection: (c) => clients.size < 1024, onMessage: dispatch, onClose: forget },
 * );
 * // ... later
 * await listener.close();
 */
export async function listenUnix(options: ListenOptions, handlers: SocketHandlers): Promise<SocketListener> {
  const report = options.onError ?? ((error, context) => console.error(`volwarden socket ${options.path}: ${context}:`, error));
  const flag = options.rights === 'status' ? '--status-socket' : '--socket';
  checkPathLength(options.path, flag);
  // SPEC §13 modes for what it creates; issue 17: nothing another user could swap the socket in.
  await prepareSocketDir(options.path, options.dirMode, flag).catch((error: unknown) => {
    throw osError(error, `cannot create the directory of socket ${options.path}`, flag);
  });
  await clearStaleSocket(options.path).catch((error: unknown) => {
    throw osError(error, `cannot replace the old socket ${options.path}`, flag);
  });

  const connections = new Set<SocketConnection>();
  const ledger = new BufferLedger(options.maxSocketBufferedBytes ?? DEFAULT_MAX_SOCKET_BUFFERED_BYTES);
  const server = net.createServer((socket) => accept(socket));

  function accept(socket: net.Socket): void {
    const conn = new SocketConnection(socket, {
      id: options.allocateId(),
      rights: options.rights,
      maxLineBytes: options.maxLineBytes ?? MAX_LINE_BYTES,
      maxBufferedBytes: options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
      ledger,
      handlers,
      report,
      forget: () => connections.delete(conn),
    });
    let accepted = false;
    try {
      accepted = handlers.onConnection(conn);
    } catch (error) {
      report(error, 'onConnection handler threw');
    }
    if (!accepted) return conn.refuse(TOO_MANY_CLIENTS_FRAME);
    connections.add(conn);
    conn.start();
  }

  await bind(server, options.path, options.socketMode, flag);
  server.on('error', (error) => report(error, 'server error'));
  let ino: number;
  try {
    await chmod(options.path, options.socketMode);
    ino = (await lstat(options.path)).ino;
  } catch (error) {
    // Bound but unusable: leave neither a listening server nor a socket file behind.
    for (const conn of [...connections]) conn.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlink(options.path).catch(() => {});
    throw osError(error, `cannot set the mode of socket ${options.path}`, flag);
  }

  let closing: Promise<void> | undefined;
  let stopped: Promise<void> | undefined;
  const stopAccepting = () => {
    stopped ??= new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    path: options.path,
    stopAccepting,
    close() {
      closing ??= (async () => {
        stopAccepting();
        for (const conn of [...connections]) conn.destroy();
        await stopped;
        await unlinkIfOurs(options.path, ino);
      })();
      return closing;
    },
  };
}

/** The longest Unix socket path the kernel takes (sun_path is 108 bytes with its NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

// Node truncates a longer path silently and binds a different file: refuse it before anything.
function checkPathLength(path: string, flag: string): void {
  const bytes = Buffer.byteLength(path);
  if (bytes <= MAX_SOCKET_PATH_BYTES) return;
  throw new WardenError('EINVAL', `socket path ${path} is ${bytes} bytes, longer than ${MAX_SOCKET_PATH_BYTES} bytes: choose a shorter ${flag}`);
}

// One error type at the boundary (STYLE §5); the OS error stays reachable as `cause`.
function osError(error: unknown, what: string, flag: string): WardenError {
  if (error instanceof WardenError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const reason = error instanceof Error ? error.message : String(error);
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new WardenError('EPERM', `${what}: permission denied (${code}): run as its owner or choose another ${flag}`, { cause: error });
  }
  return new WardenError('EINVAL', `${what}: ${reason}: choose another ${flag}`, { cause: error });
}

// A socket file nobody answers on is a leftover of a crash: replace it. A live one is refused.
async function clearStaleSocket(path: string): Promise<void> {
  const stats = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (stats === null) return;
  if (!stats.isSocket()) throw new WardenError('EBUSY', `refusing to replace ${path}: it exists and is not a socket`);
  if (await answers(path)) throw new AlreadyRunningError(path);
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

// Binds with a umask matching `socketMode`, so the socket never exists with looser permissions.
function bind(server: net.Server, path: string, socketMode: number, flag: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE') reject(new AlreadyRunningError(path));
      else if (error.code === 'EACCES' || error.code === 'EPERM') {
        reject(new WardenError('EPERM', `cannot create socket ${path}: permission denied`, { cause: error }));
      } else reject(osError(error, `cannot listen on socket ${path}`, flag));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    withUmask(~socketMode & 0o777, () => server.listen(path));
  });
}

// The bind itself is synchronous inside listen(), so the umask window is a few instructions wide.
function withUmask(mask: number, fn: () => void): void {
  let previous: number | undefined;
  try {
    previous = process.umask(mask);
  } catch {
    // Worker threads cannot change the umask; the chmod after listen still applies.
  }
  try {
    fn();
  } finally {
    if (previous !== undefined) process.umask(previous);
  }
}

// Another daemon may have replaced the file since; only remove the socket we bound.
async function unlinkIfOurs(path: string, ino: number): Promise<void> {
  try {
    if ((await lstat(path)).ino === ino) await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
