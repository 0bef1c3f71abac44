/**
 * Default socket and state paths (SPEC §13), in one place so the daemon, the CLI and
 * `volwarden/client` always agree on where to meet.
 */
import os from 'node:os';
import path from 'node:path';

/** Where one daemon's sockets and state live. */
export interface WardenPaths {
  /** Control socket (mode 0600 in a 0700 directory). */
  socket: string;
  /** Status socket (mode 0666, status rights only). */
  statusSocket: string;
  /** Counters and fencing tokens. */
  stateDir: string;
}

/** What the defaults depend on; injectable so tests need not be root. */
export interface PathContext {
  uid?: number;
  env?: NodeJS.ProcessEnv;
  homedir?: string;
}

/**
 * The default paths for this user: root gets `/run/volwarden/...` and `/var/lib/volwarden`,
 * everyone else the same under `$XDG_RUNTIME_DIR/volwarden/` (`/tmp/volwarden-UID/` without one)
 * and `$XDG_STATE_HOME/volwarden` (default `~/.local/state/volwarden`).
 *
 * @example
 * defaultPaths({ uid: 1000, env: { XDG_RUNTIME_DIR: '/run/user/1000' } }).socket;
 * // '/run/user/1000/volwarden/private/control.sock'
 */
export function defaultPaths(context: PathContext = {}): WardenPaths {
  const uid = context.uid ?? process.getuid?.() ?? 0;
  if (uid === 0) {
    return {
      socket: '/run/volwarden/private/control.sock',
      statusSocket: '/run/volwarden/status.sock',
      stateDir: '/var/lib/volwarden',
    };
  }
  const env = context.env ?? process.env;
  const home = context.homedir ?? os.homedir();
  // Without a runtime dir (no login session), fall back to a per-user directory in /tmp.
  const xdgRuntime = nonEmpty(env.XDG_RUNTIME_DIR);
  const runtime = xdgRuntime ? path.join(xdgRuntime, 'volwarden') : path.join(os.tmpdir(), `volwarden-${uid}`);
  const state = nonEmpty(env.XDG_STATE_HOME) ?? path.join(home, '.local', 'state');
  return {
    socket: path.join(runtime, 'private', 'control.sock'),
    statusSocket: path.join(runtime, 'status.sock'),
    stateDir: path.join(state, 'volwarden'),
  };
}

/**
 * The control socket a client should use when none is given: `$VOLWARDEN_SOCKET` (set by the
 * daemon for its helpers, SPEC §9), else the default for this user.
 *
 * @example
 * const conn = await connectClient(defaultControlSocket(), { name: 'backup' });
 */
export function defaultControlSocket(context: PathContext = {}): string {
  const env = context.env ?? process.env;
  return nonEmpty(env.VOLWARDEN_SOCKET) ?? defaultPaths(context).socket;
}

// XDG says an empty or relative value is to be ignored.
function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value !== '' && path.isAbsolute(value) ? value : undefined;
}
