// Runs the built CLI (dist/cli/main.js) as a real process; build first with `npx tsc -p tsconfig.json`.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { eventually } from '../integration/helpers.js';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A CLI process still running, with its output so far. */
export interface CliProcess {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  done: Promise<CliResult>;
}

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npx tsc -p tsconfig.json\` first`);
}

/** Starts `node dist/cli/main.js ...args` without waiting for it. */
export function startCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, VOLWARDEN_SOCKET: '', ...options.env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (t: string) => (stdout += t));
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    done,
  };
}

/** Runs the CLI to completion. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return startCli(args, options).done;
}

/** Starts `volwarden daemon ...args` and resolves once it printed its banner (or exited). */
export async function startDaemon(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliProcess> {
  const daemon = startCli(['daemon', ...args], options);
  await eventually(() => daemon.stderr, (text) => text.includes('control socket') || daemon.child.exitCode !== null);
  return daemon;
}

/** Stops a daemon that still runs (SIGTERM) and waits for it to exit. */
export async function stopDaemon(daemon: CliProcess | undefined): Promise<void> {
  if (daemon === undefined || daemon.child.exitCode !== null || daemon.child.signalCode !== null) return;
  daemon.child.kill('SIGTERM');
  await daemon.done;
}

