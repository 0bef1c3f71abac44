/**
 * The one-shot volume commands (SPEC §7, §11): `can-unmount VOLUME`, `check VOLUME`, `retry VOLUME`.
 */
import type { Command } from 'commander';
import { WardenError } from '../../errors.js';
import { withClient } from '../client-session.js';
import { CliError, EXIT } from '../exit-codes.js';
import { controlSocket, globals, readSocket, volumeArg } from '../options.js';
import { escapeControl, safeJson } from '../../safe-text.js';

/** Adds `can-unmount`, `check` and `retry` to the program. */
export function registerVolumeOps(program: Command): void {
  program
    .command('can-unmount')
    .description('exit 0 if VOLUME may be unmounted now, 75 if it is busy')
    .argument('<volume>', 'volume id or root directory', volumeArg)
    .action(async (volume: string, _options: object, command: Command) => {
      await withClient(readSocket(command), 'volwarden can-unmount', async (client) => {
        try {
          await client.canUnmount(volume);
        } catch (err) {
          if (err instanceof WardenError && err.code === 'EBUSY') {
            throw new CliError(EXIT.TEMPFAIL, `${volume} is busy: ${err.message}; retry once it is idle`, { cause: err });
          }
          throw err;
        }
      });
      print(command, { volume, canUnmount: true }, `${volume}: may be unmounted`);
    });

  program
    .command('check')
    .description('check VOLUME for stale caches now (skips the settle timer)')
    .argument('<volume>', 'volume id or root directory', volumeArg)
    .action(async (volume: string, _options: object, command: Command) => {
      const state = await withClient(controlSocket(command), 'volwarden check', (client) => client.check(volume));
      print(command, { volume, state }, state);
    });

  program
    .command('retry')
    .description('clear gaveUp and the failure counters of VOLUME, then check it')
    .argument('<volume>', 'volume id or root directory', volumeArg)
    .action(async (volume: string, _options: object, command: Command) => {
      await withClient(controlSocket(command), 'volwarden retry', (client) => client.retry(volume));
      print(command, { volume, retried: true }, `${volume}: counters cleared, checking`);
    });
}

function print(command: Command, json: object, text: string): void {
  process.stdout.write(`${globals(command).json ? safeJson(json) : escapeControl(text)}\n`);
}
