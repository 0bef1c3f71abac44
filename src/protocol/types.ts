/** Wire-level names and shapes of the socket protocol (SPEC §10). */

export const PROTOCOL_VERSION = 1;
/** A line longer than this without a newline is answered `EMSGSIZE` and the connection closed. */
export const MAX_LINE_BYTES = 1024 * 1024;

export const ROUTINES = {
  hello: 1000,
  lock_volume: 1001,
  unlock_volume: 1002,
  lock_cancel: 1003,
  lock_reboot: 1004,
  unlock_reboot: 1005,
  status: 1006,
  ack: 1007,
  subscribe: 1008,
  unsubscribe: 1009,
  can_unmount: 1010,
  check: 1011,
  retry: 1012,
  // volwarden visualize: the inspection relay (SPEC §14). A volwarden extension, so it sits well
  // outside SPEC §10's 1000–1012 where a client probing the next id expects BAD_ID.
  inspect: 1800,
} as const;
export type RoutineName = keyof typeof ROUTINES;
export const NOTIFICATION_ID = 2000;
/** Streamed inspection records (daemon → client) after an `inspect` reply: `{id: 2001, records: [...]}`. */
export const INSPECT_FRAME_ID = 2001;
export const REPLY_OFFSET = 100;

/**
 * Routines a status-socket client may call (SPEC §9's six); anything else there is `EPERM`.
 * `inspect` is not one: its stream names every client and its pid (issue 17).
 */
export const STATUS_RIGHTS_ROUTINES: ReadonlySet<RoutineName> = new Set([
  'hello', 'status', 'subscribe', 'unsubscribe', 'ack', 'can_unmount',
]);

/** The holder name of the daemon's own rebuilds (client 0, SPEC §4); refused in any client's `hello`. */
export const DAEMON_HOLDER_NAME = 'volwarden';

export type Rights = 'control' | 'status';

export interface HolderView {
  client: number;
  name: string;
  pid?: number;
}

export interface LockView {
  state: 'unlocked' | 'locked' | 'handoff' | 'dead';
  holder?: HolderView;
  waiters: number;
  token: number;
}

export interface StaleCache {
  name: string;
  reason: string;
}

export interface VolumeStatus {
  id: string;
  root: string;
  state: string;
  lock: LockView;
  failures: number;
  attempts: number;
  stale: StaleCache[] | null;
  lastRebuild: { status: number; at: number; durationMs: number } | null;
  error?: string;
}

export interface StatusResult {
  daemon: { state: string; version: string; pid: number; startedAt: number };
  volumes: VolumeStatus[];
  reboot: { state: 'free' | 'waiting' | 'held'; holder?: HolderView; waiter?: HolderView };
}
