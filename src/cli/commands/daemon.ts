/**
 * `volwarden daemon` (SPEC §11, §13): runs the warden in the foreground. The work is in
 * `../daemon-run.ts`, imported only when this command runs.
 */
import { Option, type Command } from 'commander';
import type { DaemonFlags } from '../daemon-run.js';
import { collect, globals, LOG_LEVELS, parseCount, parsePort } from '../options.js';

/** Adds `daemon` to the program. */
export function registerDaemon(program: Command): void {
  program
    .command('daemon')
    .description('run the warden in the foreground')
    .option('--watch <dir>', 'a volume root to watch (repeatable; replaces the config roots)', collect)
    .option('--config <file>', 'daemon config file (JSON)')
    .option('--status-socket <path>', 'status socket (status rights only)')
    .option('--state-dir <dir>', 'where counters and fencing tokens persist')
    .option('--settle-ms <n>', 'quiet time after a change before checking', parseCount)
    .option('--startup-delay-ms <n>', 'no automatic checks for this long after start', parseCount)
    .option('--inspect-port <n>', 'serve the visualizer on 127.0.0.1:N', parsePort)
    .option('--record <file.jsonl>', 'record the inspection trace to a file')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .action(async (flags: DaemonFlags, command: Command) => {
      const { runDaemonCommand } = await import('../daemon-run.js');
      process.exitCode = await runDaemonCommand(flags, globals(command).socket);
    });
}

