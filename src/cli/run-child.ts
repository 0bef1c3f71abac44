/**
 * Runs the command of `volwarden lock -- CMD` / `reboot-lock -- CMD` like flock(1) does: stdio
 * inherited, signals sent to us passed on to it, and its fate turned into one exit status.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** What a shell answers for a command it cannot run. */
const CANNOT_RUN = 127;

/**
 * Runs `argv` and resolves its exit status: its exit code, or 128 + signal number when a signal
 * ended it (as shells report it), or 127 when it could not be started (`onSpawnError` says why).
 *
 * @example
 * const status = await runChild(['make', 'index'], { VOLWARDEN_TOKEN: '42' }, (m) => console.error(m));
 */
export function runChild(argv: string[], extraEnv: Record<string, string>, onSpawnError: (message: string) => void): Promise<number> {
  return new Promise((resolve) => {
    const [file, ...args] = argv;
    const child = spawn(file!, args, { stdio: 'inherit', env: { ...process.env, ...extraEnv } });
    const forward = (signal: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    for (const signal of FORWARDED) process.on(signal, forward);
    const done = (status: number) => {
      for (const signal of FORWARDED) process.off(signal, forward);
      resolve(status);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      onSpawnError(`cannot run ${file}: ${err.code === 'ENOENT' ? 'command not found' : err.message}`);
      done(CANNOT_RUN);
    });
    child.once('exit', (code, signal) => done(signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 0)));
  });
}
