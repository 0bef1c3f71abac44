/**
 * `volwarden manifest check DIR [--config F]` and `volwarden init DIR` (SPEC §3, §11): validate a
 * volume's manifest exactly as the daemon would, or write a starter one.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { globals } from '../options.js';
import { escapeControl, safeJson } from '../../safe-text.js';

const MANIFEST_FILE = '.volwarden.json';

/** Adds `manifest check` and `init` to the program. */
export function registerManifest(program: Command): void {
  const manifest = program.command('manifest').description('manifest tools');
  manifest
    .command('check')
    .description(`validate DIR/${MANIFEST_FILE} as the daemon would (exit 65 if invalid)`)
    .argument('<dir>', 'volume root')
    .option('--config <file>', 'daemon config whose rebuilders a manifest may name')
    .action(async (dir: string, options: { config?: string }, command: Command) => {
      const { checkManifest } = await import('../manifest-run.js');
      const summary = await checkManifest(path.resolve(dir), options.config);
      // A manifest is anyone's to write: its keys and paths reach the terminal escaped.
      process.stdout.write(`${globals(command).json ? safeJson({ ok: true, ...summary }) : escapeControl(summary.text)}\n`);
    });

  program
    .command('init')
    .description(`write a starter DIR/${MANIFEST_FILE} (never overwrites)`)
    .argument('<dir>', 'volume root')
    .action(async (dir: string) => {
      const { writeStarter } = await import('../manifest-run.js');
      const file = await writeStarter(path.resolve(dir));
      process.stdout.write(`wrote ${file}: edit caches and command, then run \`volwarden manifest check ${dir}\`\n`);
    });
}
