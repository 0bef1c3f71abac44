/**
 * `volwarden status [VOLUME] [--json] [--follow]` (SPEC §11): a table of volumes, states, lock
 * holders and waiters; `--follow` redraws it on every notification (no polling) until Ctrl-C.
 */
import type { Command } from 'commander';
import type { WardenClient } from '../../client/index.js';
import { withClient } from '../client-session.js';
import { CliError, EXIT } from '../exit-codes.js';
import { globals, readSocket, volumeArg } from '../options.js';
import { renderStatus } from '../status-table.js';

/** Adds `status` to the program. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show volumes, their states, lock holders and waiters')
    .argument('[volume]', 'only this volume (id or root directory)', volumeArg)
    .option('--follow', 'redraw on every change until interrupted')
    .action(async (volume: string | undefined, options: { follow?: boolean }, command: Command) => {
      const json = globals(command).json ?? false;
      await withClient(readSocket(command), 'volwarden status', async (client) => {
        const tty = process.stdout.isTTY === true;
        let drawn = 0;
        const show = async () => {
          const status = await client.status(volume);
          if (json) return void process.stdout.write(`${JSON.stringify(status)}\n`);
          // A terminal is redrawn in place; a pipe gets one table after another, a blank line apart.
          const lead = drawn++ === 0 ? '' : tty ? '\x1b[H\x1b[2J' : '\n';
          process.stdout.write(`${lead}${renderStatus(status, tty ? process.stdout.columns : undefined)}\n`);
        };
        await show();
        if (options.follow) await follow(client, volume, show);
      });
    });
}

// One redraw per burst of notifications: frames arrive in batches, a redraw per event is noise.
function follow(client: WardenClient, volume: string | undefined, show: () => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    let pending = false;
    let failed = false;
    const redraw = () => {
      if (pending) return;
      pending = true;
      setImmediate(() => {
        pending = false;
        show().catch(fail);
      });
    };
    const finish = () => {
      process.off('SIGINT', finish);
      process.off('SIGTERM', finish);
      subscription.unsubscribe();
      resolve();
    };
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      process.off('SIGINT', finish);
      process.off('SIGTERM', finish);
      subscription.unsubscribe();
      reject(err);
    };
    const subscription = client.subscribe(volume ?? '*').subscribe({
      next: redraw,
      error: fail,
      complete: () => fail(new CliError(EXIT.NOINPUT, `${volume ?? 'the volume'} is gone`)),
    });
    process.on('SIGINT', finish);
    process.on('SIGTERM', finish);
  });
}
