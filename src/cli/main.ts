#!/usr/bin/env node
/**
 * Entry point of the `volwarden` binary (package.json `bin`). Runs one command and exits with the
 * code SPEC §11 gives its outcome; every failure is one stderr line that says what to do.
 */
import { CommanderError } from 'commander';
import { describeFailure, EXIT } from './exit-codes.js';
import { buildProgram } from './program.js';

/**
 * Runs the CLI on `argv` (as `process.argv`) and resolves the exit code.
 *
 * @example
 * process.exit(await main(process.argv));
 */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram({
    writeOut: (text) => process.stdout.write(text),
    // Help commander prints for a missing (sub)command: one line naming the usage (SPEC §11).
    writeErrorText: (text) => process.stderr.write(`volwarden: ${missingCommandLine(text)}\n`),
    writeError: (line) => process.stderr.write(`volwarden: ${line}\n`),
  });
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version also come through here, as successes.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    const { exitCode, message } = describeFailure(err);
    process.stderr.write(`${message.startsWith('volwarden') ? message : `volwarden: ${message}`}\n`);
    return exitCode;
  }
}

/** `Usage: volwarden manifest [options] [command]` → `a command is missing: ...; see ...`. */
function missingCommandLine(help: string): string {
  const usage = /^Usage: (.+)$/m.exec(help)?.[1]?.trim() ?? 'volwarden [options] [command]';
  const command = usage.replace(/\s*\[options\].*$/, '');
  return `a command is missing: usage ${usage}; see \`${command} --help\``;
}

// Exit explicitly: a command is done when its action resolves, whatever handles are still open.
main(process.argv).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`volwarden: internal error: ${String(err)}\n`);
    process.exit(EXIT.SOFTWARE);
  },
);
