/**
 * `volwarden visualize [--port N]` (SPEC §14): a stub until the visualizer is wired by the lead.
 */
import type { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import { parsePort } from '../options.js';

/** Adds `visualize` to the program. */
export function registerVisualize(program: Command): void {
  program
    .command('visualize')
    .description('serve the visualizer for the running daemon')
    .option('--port <n>', 'TCP port on 127.0.0.1', parsePort)
    .action(() => {
      // TODO(lead): connect to the daemon's inspection stream and serve the page.
      throw new CliError(EXIT.UNAVAILABLE, 'volwarden visualize: not available yet');
    });
}
