/**
 * `volwarden reboot-lock [--wait] [--timeout S] [-- CMD...]` (SPEC §6, §11): holds the reboot
 * lock while CMD runs, or until SIGINT/SIGTERM when there is no CMD.
 */
import type { Command } from 'commander';
import type { WardenClient } from '../../client/index.js';
import { WardenError } from '../../errors.js';
import { withClient } from '../client-session.js';
import { CliError, EXIT } from '../exit-codes.js';
import { controlSocket, parseSeconds } from '../options.js';
import { runChild } from '../run-child.js';

interface RebootOptions {
  wait?: boolean;
  timeout?: number;
}

/** Adds `reboot-lock` to the program. */
export function registerRebootLock(program: Command): void {
  program
    .command('reboot-lock')
    .description('hold the reboot lock while CMD runs (or until interrupted)')
    .argument('[cmd...]', 'command to run (after --)')
    .option('--wait', 'wait until every volume is clean instead of failing with the busy volume')
    .option('--timeout <seconds>', 'with --wait: give up after S seconds (exit 75)', parseSeconds)
    .action(async (cmd: string[], options: RebootOptions, command: Command) => {
      process.exitCode = await withClient(controlSocket(command), 'volwarden reboot-lock', (client) => holdReboot(client, cmd, options));
    });
}

async function holdReboot(client: WardenClient, argv: string[], options: RebootOptions): Promise<number> {
  const lease = await withTimeout(client.lockReboot({ wait: options.wait ?? false }), options.timeout).catch((err: unknown) => {
    throw explain(err);
  });
  if (argv.length > 0) {
    const status = await runChild(argv, {}, (message) => process.stderr.write(`volwarden reboot-lock: ${message}\n`));
    await lease.release().catch((err: unknown) => {
      process.stderr.write(`volwarden reboot-lock: could not release the reboot lock: ${err instanceof Error ? err.message : String(err)}\n`);
    });
    return status;
  }
  process.stderr.write('volwarden reboot-lock: holding the reboot lock; interrupt (Ctrl-C) or SIGTERM releases it\n');
  const ended = await untilSignalOrDrop(client);
  if (ended === 'dropped') throw new CliError(EXIT.UNAVAILABLE, 'the connection to the daemon dropped: the reboot lock is no longer held');
  await lease.release();
  return EXIT.OK;
}

// The protocol has no timeout for lock_reboot: hanging up (in withClient) withdraws the waiter.
function withTimeout<T>(promise: Promise<T>, timeoutMs: number | undefined): Promise<T> {
  if (timeoutMs === undefined) return promise;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new WardenError('ETIMEDOUT', `timed out after ${timeoutMs / 1000} s waiting for the reboot lock; retry later`)), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

function untilSignalOrDrop(client: WardenClient): Promise<'signal' | 'dropped'> {
  return new Promise((resolve) => {
    const onSignal = () => finish('signal');
    const finish = (how: 'signal' | 'dropped') => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(how);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    void client.closed.then(() => finish('dropped'));
  });
}

function explain(err: unknown): unknown {
  if (err instanceof WardenError && err.code === 'EBUSY') {
    const what = err.busyVolume ? `volume ${err.busyVolume} is busy` : err.message;
    return new CliError(EXIT.TEMPFAIL, `reboot lock not granted: ${what}; retry later or use --wait`, { cause: err });
  }
  if (err instanceof WardenError && err.code === 'EALREADY') {
    return new CliError(EXIT.TEMPFAIL, 'the reboot lock is already held by another client (a shutdown may proceed)', { cause: err });
  }
  return err;
}
