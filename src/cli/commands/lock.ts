/**
 * `volwarden lock VOLUME [--no-wait] [--timeout S] -- CMD...` (SPEC §11): flock(1) for volumes.
 * The lock is held while CMD runs and released with CMD's exit status (SPEC §4 counters).
 */
import type { Command } from 'commander';
import { WardenError } from '../../errors.js';
import { withClient } from '../client-session.js';
import { CliError, EXIT } from '../exit-codes.js';
import { controlSocket, parseSeconds, volumeArg } from '../options.js';
import { runChild } from '../run-child.js';

interface LockOptions {
  wait: boolean;
  timeout?: number;
}

/** Adds `lock` to the program. */
export function registerLock(program: Command): void {
  program
    .command('lock')
    .description('hold the volume lock while CMD runs; the unlock status is its exit status')
    .argument('<volume>', 'volume id or root directory', volumeArg)
    .argument('<cmd...>', 'command to run (after --)')
    .option('--no-wait', 'fail at once (exit 75) if the volume is locked')
    .option('--timeout <seconds>', 'give up waiting after S seconds (exit 75)', parseSeconds)
    .action(async (volume: string, cmd: string[], options: LockOptions, command: Command) => {
      process.exitCode = await lockAndRun(command, volume, cmd, options);
    });
}

async function lockAndRun(command: Command, volume: string, argv: string[], options: LockOptions): Promise<number> {
  return withClient(controlSocket(command), `volwarden lock ${argv[0]}`, async (client) => {
    let lease;
    try {
      lease = await client.lockVolume(volume, {
        wait: options.wait,
        ...(options.timeout !== undefined ? { timeoutMs: options.timeout } : {}),
      });
    } catch (err) {
      throw explainLockFailure(err, volume, options);
    }
    let lost = false;
    void lease.lost.then((reason) => {
      lost = true;
      process.stderr.write(`volwarden lock: lost the lock on ${volume} while the command runs: ${reason.message}\n`);
    });
    const status = await runChild(argv, { VOLWARDEN_TOKEN: String(lease.token), VOLWARDEN_VOLUME: lease.volume }, (message) =>
      process.stderr.write(`volwarden lock: ${message}\n`),
    );
    if (!lost) {
      await lease.release(status).catch((err: unknown) => {
        process.stderr.write(`volwarden lock: could not unlock ${volume}: ${err instanceof Error ? err.message : String(err)}\n`);
      });
    }
    return status;
  });
}

// One line that says what happened and what to do about it.
function explainLockFailure(err: unknown, volume: string, options: LockOptions): unknown {
  if (!(err instanceof WardenError)) return err;
  switch (err.code) {
    case 'EBUSY':
      return new CliError(EXIT.TEMPFAIL, `${volume} is locked by another client; retry later or drop --no-wait to queue`, { cause: err });
    case 'ETIMEDOUT':
      return new CliError(EXIT.TEMPFAIL, `timed out after ${(options.timeout ?? 0) / 1000} s waiting for the lock on ${volume}; retry later`, { cause: err });
    default:
      return err;
  }
}
