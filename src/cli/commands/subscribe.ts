/**
 * `volwarden subscribe [VOLUME] [--json]` (SPEC §8, §11): prints one line per notification and
 * acknowledges each frame as it is printed, until interrupted or the volume is gone.
 */
import type { Command } from 'commander';
import type { WardenClient } from '../../client/index.js';
import { withClient } from '../client-session.js';
import { EXIT } from '../exit-codes.js';
import { formatEvent, formatEventJson } from '../format-event.js';
import { globals, readSocket, volumeArg } from '../options.js';

/** Adds `subscribe` to the program. */
export function registerSubscribe(program: Command): void {
  program
    .command('subscribe')
    .description('print notifications as they come (one per line), acknowledging them')
    .argument('[volume]', 'volume id or root directory (default: every volume)', volumeArg, '*')
    .action(async (volume: string, _options: object, command: Command) => {
      const json = globals(command).json ?? false;
      await withClient(readSocket(command), 'volwarden subscribe', (client) => print(client, volume, json));
      process.exitCode = EXIT.OK;
    });
}

function print(client: WardenClient, volume: string, json: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const finish = () => {
      process.off('SIGINT', finish);
      process.off('SIGTERM', finish);
      subscription.unsubscribe();
      resolve();
    };
    const subscription = client.subscribe(volume).subscribe({
      // Written synchronously before the client acks the frame: an acked event has been printed.
      next: (event) => process.stdout.write(`${json ? formatEventJson(event) : formatEvent(event)}\n`),
      error: (err: unknown) => {
        process.off('SIGINT', finish);
        process.off('SIGTERM', finish);
        reject(err);
      },
      complete: finish,
    });
    process.on('SIGINT', finish);
    process.on('SIGTERM', finish);
  });
}
