/**
 * The `volwarden` command line (SPEC §11) as a commander program. Usage errors never exit on
 * their own: they surface as `CommanderError`s that `main.ts` turns into exit 64 and one line.
 */
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { registerDaemon } from './commands/daemon.js';
import { registerLock } from './commands/lock.js';
import { registerManifest } from './commands/manifest.js';
import { registerRebootLock } from './commands/reboot-lock.js';
import { registerStatus } from './commands/status.js';
import { registerSubscribe } from './commands/subscribe.js';
import { registerVisualize } from './commands/visualize.js';
import { registerVolumeOps } from './commands/volume-ops.js';

/** Where commander's own output goes; `main.ts` makes errors one line on stderr. */
export interface ProgramOutput {
  writeOut(text: string): void;
  /** Help shown because of a usage error (e.g. no command given). */
  writeErrorText(text: string): void;
  /** One usage-error line, already without trailing newline. */
  writeError(line: string): void;
}

/**
 * Builds the program. `--socket` and `--json` are program options, so commander accepts them
 * before or after the command name (but not after `--`, which belongs to CMD).
 *
 * @example
 * await buildProgram(output).parseAsync(['node', 'volwarden', 'status', '--json']);
 */
export function buildProgram(output: ProgramOutput): Command {
  const program = new Command('volwarden')
    .description('keeps derived caches on watched volumes consistent with their sources')
    .version(VERSION, '-V, --version')
    .option('--socket <path>', 'daemon socket (default: $VOLWARDEN_SOCKET, then the per-user default)')
    .option('--json', 'machine-readable output')
    .configureHelp({ showGlobalOptions: true })
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => output.writeOut(text),
      writeErr: (text) => output.writeErrorText(text),
      outputError: (text) => output.writeError(`${text.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')}; see \`volwarden --help\``),
    });
  registerDaemon(program);
  registerStatus(program);
  registerLock(program);
  registerRebootLock(program);
  registerVolumeOps(program);
  registerSubscribe(program);
  registerVisualize(program);
  registerManifest(program);
  return program;
}
