/**
 * systemd readiness for `Type=notify` units (packaging/volwarden.service). Node cannot send on the
 * Unix datagram socket `$NOTIFY_SOCKET` names without a native addon, so the daemon runs
 * systemd-notify(1) instead; the unit sets `NotifyAccess=all` so systemd accepts a child's message.
 * Best effort: without `$NOTIFY_SOCKET` nothing happens, and a failure is one log line, never fatal.
 */
import { execFile } from 'node:child_process';
import type { Logger } from '../actors/env.js';

/** What a notification needs; every field has a real default and is injectable for tests. */
export interface SdNotifyOptions {
  log: Logger;
  /** Defaults to `process.env`; only `NOTIFY_SOCKET` and `PATH` matter. */
  env?: NodeJS.ProcessEnv;
  /** The daemon's pid, reported as `MAINPID` (default `process.pid`). */
  pid?: number;
  /** How long systemd-notify may take (it waits until the manager has read the message). */
  timeoutMs?: number;
}

const COMMAND = 'systemd-notify';

/**
 * Tells systemd the daemon is ready (`READY=1`, `MAINPID`, and a `STATUS=` line for
 * `systemctl status`). Call it once the sockets answer and the warden has started.
 *
 * @example
 * await notifyReady({ log }, 'watching 3 volumes');
 */
export async function notifyReady(options: SdNotifyOptions, status?: string): Promise<void> {
  const pid = options.pid ?? process.pid;
  const args = ['--ready', `--pid=${pid}`, ...(status !== undefined ? [`--status=${status}`] : [])];
  await sdNotify(options, args, 'readiness');
}

/**
 * Tells systemd the daemon is shutting down (`STOPPING=1`), so `systemctl status` says so while
 * helpers are being stopped.
 *
 * @example
 * await notifyStopping({ log });
 */
export async function notifyStopping(options: SdNotifyOptions): Promise<void> {
  await sdNotify({ timeoutMs: 2000, ...options }, ['STOPPING=1'], 'stopping');
}

// Resolves once systemd-notify has exited (or could not run); never rejects.
function sdNotify(options: SdNotifyOptions, args: string[], what: string): Promise<void> {
  const env = options.env ?? process.env;
  const socket = env.NOTIFY_SOCKET;
  if (socket === undefined || socket === '') return Promise.resolve();
  const { log } = options;
  return new Promise((resolve) => {
    execFile(COMMAND, args, { env, timeout: options.timeoutMs ?? 5000 }, (err, _stdout, stderr) => {
      if (!err) {
        log.debug({ socket, args }, `told systemd: ${what}`);
      } else if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        log.warn({ socket }, `NOTIFY_SOCKET is set but ${COMMAND} is not on PATH: systemd will not hear of the daemon's ${what}`);
      } else {
        log.warn({ socket, args, error: String(stderr).trim() || err.message }, `${COMMAND} failed: systemd may not hear of the daemon's ${what}`);
      }
      resolve();
    });
  });
}
