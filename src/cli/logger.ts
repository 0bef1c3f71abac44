/**
 * The daemon's log: pino JSON lines on stdout (for journald and log shippers), satisfying the
 * warden's {@link Logger} interface.
 */
import { pino } from 'pino';
import type { Logger } from '../actors/env.js';
import type { LogLevel } from './options.js';


/**
 * A JSON-lines logger on stdout at `level`.
 *
 * @example
 * const log = createDaemonLogger('debug');
 * log.info({ volumes: 2 }, 'started');
 */
export function createDaemonLogger(level: LogLevel = 'info'): Logger {
  return pino({ level, base: { pid: process.pid, name: 'volwarden' }, timestamp: pino.stdTimeFunctions.isoTime });
}
