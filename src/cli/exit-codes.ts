/**
 * Exit codes of the `volwarden` CLI (SPEC §11, sysexits.h numbers) and the one mapping from
 * `WardenError` codes to them, so every command fails the same way for the same cause.
 */
import { WardenError, type ErrorCode } from '../errors.js';
import { escapeControl } from '../safe-text.js';

/** sysexits.h values SPEC §11 uses. */
export const EXIT = {
  OK: 0,
  USAGE: 64,
  DATAERR: 65,
  NOINPUT: 66,
  UNAVAILABLE: 69,
  SOFTWARE: 70,
  TEMPFAIL: 75,
  NOPERM: 77,
} as const;

/** An error that already knows its exit code and its one-line message. */
export class CliError extends Error {
  constructor(readonly exitCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
  }
}

/**
 * The exit code for a protocol error code.
 *
 * @example
 * process.exitCode = exitCodeFor('EBUSY');   // 75
 */
export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'ENOENT':
      return EXIT.NOINPUT;
    case 'EBUSY':
    case 'ETIMEDOUT':
    case 'EAGAIN':
    case 'ENOLCK':
    case 'EALREADY':
    case 'ENOBUFS':
    case 'ECANCELED':
    case 'ETOOMANYREFS':
    case 'EMFILE':
      return EXIT.TEMPFAIL;
    case 'ECONNREFUSED':
    case 'ECONNRESET':
      return EXIT.UNAVAILABLE;
    case 'EPERM':
      return EXIT.NOPERM;
    case 'EINVAL':
      return EXIT.USAGE;
    case 'EINVALMANIFEST':
      return EXIT.DATAERR;
    default:
      return EXIT.SOFTWARE;
  }
}

/**
 * The exit code and the one stderr line for anything a command threw.
 *
 * @example
 * const { exitCode, message } = describeFailure(err);
 * process.stderr.write(`volwarden: ${message}\n`);
 */
export function describeFailure(err: unknown): { exitCode: number; message: string } {
  if (err instanceof CliError) return { exitCode: err.exitCode, message: oneLine(err.message) };
  if (err instanceof WardenError) {
    // The code helps a script or a search; EINVAL ("you asked for something impossible") only adds noise.
    const suffix = err.code === 'EINVAL' ? '' : ` (${err.code})`;
    return { exitCode: exitCodeFor(err.code), message: oneLine(`${err.message}${suffix}`) };
  }
  return { exitCode: EXIT.SOFTWARE, message: oneLine(`internal error: ${err instanceof Error ? err.message : String(err)}`) };
}

// One line, and nothing in it (a volume name, a daemon's reason) a terminal would act on.
function oneLine(text: string): string {
  return escapeControl(text.replace(/\s*\n\s*/g, ' ').trim());
}
