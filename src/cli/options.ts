/**
 * Option parsing helpers shared by the commands: numbers that fail become commander usage errors
 * (exit 64), and the socket a command talks to is chosen in one place.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { defaultControlSocket, defaultPaths } from '../config/paths.js';

/** The levels `daemon --log-level` accepts (pino's). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The options every command accepts before or after its name (SPEC §11). */
export interface GlobalOptions {
  socket?: string;
  json?: boolean;
}

/**
 * A commander argument parser for non-negative integers.
 *
 * @example
 * cmd.option('--settle-ms <n>', 'settle time', parseCount)
 */
export function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a non-negative integer.');
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('number too large.');
  return n;
}

/**
 * A commander argument parser for durations in seconds (decimals allowed), returned in ms.
 *
 * @example
 * cmd.option('--timeout <s>', 'give up after S seconds', parseSeconds)   // '1.5' → 1500
 */
export function parseSeconds(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new InvalidArgumentError('expected a number of seconds.');
  const ms = Math.round(Number(value) * 1000);
  if (ms > 2_147_483_647) throw new InvalidArgumentError('too long.');
  return ms;
}

/** A commander argument parser for TCP ports. */
export function parsePort(value: string): number {
  const n = parseCount(value);
  if (n > 65535) throw new InvalidArgumentError('expected a port number (0-65535).');
  return n;
}

/** Accumulates a repeatable option (`--watch A --watch B`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The global options as seen from a (sub)command. */
export function globals(command: Command): GlobalOptions {
  return command.optsWithGlobals() as GlobalOptions;
}

/**
 * The socket for commands that need control rights: `--socket`, `$VOLWARDEN_SOCKET`, the default.
 *
 * @example
 * const client = await connect({ socket: controlSocket(cmd), name: 'volwarden lock' });
 */
export function controlSocket(command: Command): string {
  return globals(command).socket ?? defaultControlSocket();
}

/**
 * The socket for read-only commands: `--socket` when given, else the status socket when it
 * exists (anyone may read it), else the control socket.
 */
export function readSocket(command: Command): string {
  const given = globals(command).socket;
  if (given !== undefined) return given;
  if (process.env.VOLWARDEN_SOCKET) return process.env.VOLWARDEN_SOCKET;
  const { statusSocket } = defaultPaths();
  return existsSync(statusSocket) ? statusSocket : defaultControlSocket();
}

/**
 * A VOLUME argument as the daemon expects it: an id (`path:...`, `uuid:...`) or an absolute root;
 * a relative path (`volwarden lock . -- make`) is made absolute against the current directory.
 *
 * @example
 * volumeArg('.')            // '/srv/data' when run there
 * volumeArg('uuid:1234')    // unchanged
 */
export function volumeArg(value: string): string {
  if (value === '*' || /^(path|uuid):/.test(value) || path.isAbsolute(value)) return value;
  return path.resolve(value);
}
