/**
 * The one error type volwarden throws at its boundary. `code` is the protocol's error name
 * (SPEC §10: `EBUSY`, `ENOENT`, `ETIMEDOUT`, ...), so callers branch on it, never on messages.
 *
 * @example
 * try { await warden.lockVolume('path:/data', { wait: false }); }
 * catch (err) { if (err instanceof WardenError && err.code === 'EBUSY') retryLater(); }
 */
export class WardenError extends Error {
  readonly code: ErrorCode;
  /** For `lock_reboot` answered `EBUSY`: the first busy volume. */
  readonly busyVolume?: string;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; busyVolume?: string }) {
    super(message ?? describeCode(code), options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WardenError';
    this.code = code;
    if (options?.busyVolume !== undefined) this.busyVolume = options.busyVolume;
  }
}

/** Every error name the protocol can answer with (SPEC §5–§10). */
export const ERROR_CODES = [
  'EPERM', 'EAGAIN', 'ENOLCK', 'ENOENT', 'EDEADLK', 'EALREADY', 'EBUSY', 'ENOBUFS',
  'ECANCELED', 'ETIMEDOUT', 'ETOOMANYREFS', 'EINVAL', 'BAD_ID', 'EBADMSG', 'EMSGSIZE',
  'EMFILE', 'ECONNREFUSED', 'ECONNRESET', 'EINVALMANIFEST',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const DESCRIPTIONS: Record<ErrorCode, string> = {
  EPERM: 'permission denied: this needs the control socket, or you are not the holder',
  EAGAIN: 'the warden is still starting: try again in a moment',
  ENOLCK: 'the reboot lock is held (or the volume is not locked)',
  ENOENT: 'no such volume: check the id or root with `volwarden status`',
  EDEADLK: 'this client already holds the lock',
  EALREADY: 'already waiting (or the reboot lock is already held)',
  EBUSY: 'busy: the lock is held by another client',
  ENOBUFS: 'too many waiters queued on this volume',
  ECANCELED: 'the lock request was cancelled',
  ETIMEDOUT: 'timed out waiting for the lock',
  ETOOMANYREFS: 'too many subscribers',
  EINVAL: 'invalid arguments',
  BAD_ID: 'unknown routine id',
  EBADMSG: 'malformed message: each line must be one JSON object',
  EMSGSIZE: 'message too large: lines are limited to 1 MiB',
  EMFILE: 'too many clients connected',
  ECONNREFUSED: 'the daemon is not reachable: is `volwarden daemon` running?',
  ECONNRESET: 'the connection to the daemon was lost',
  EINVALMANIFEST: 'invalid manifest',
};

/** A one-line human description of an error code. */
export function describeCode(code: ErrorCode): string {
  return DESCRIPTIONS[code];
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** What a stopped warden answers (leases, waiters, later calls): ECONNRESET, as a closed socket would. */
export function stoppedError(): WardenError {
  return new WardenError('ECONNRESET', 'the warden stopped');
}
