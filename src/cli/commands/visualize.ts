/**
 * `volwarden visualize [--port N]` (SPEC §14): serves the visualizer for a daemon that is already
 * running, without restarting it with `--inspect-port`. It follows the daemon's inspection stream
 * over the control socket (routine `inspect`: it names every client and its pid, so the status
 * socket does not offer it, SPEC §9) into a local mirror and serves the page from it on 127.0.0.1
 * until Ctrl-C.
 */
import type { Command } from 'commander';
import { WardenError } from '../../errors.js';
import { openInspectionFeed } from '../../inspect/daemon-feed.js';
import { InspectionMirror } from '../../inspect/mirror.js';
import { startInspectServer } from '../../inspect/server.js';
import { CliError, EXIT } from '../exit-codes.js';
import { controlSocket, parsePort } from '../options.js';

interface VisualizeOptions {
  port?: number;
  statusSocket?: string;
}

/** Adds `visualize` to the program. */
export function registerVisualize(program: Command): void {
  program
    .command('visualize')
    .description('serve the visualizer for the running daemon on 127.0.0.1 (until Ctrl-C)')
    .option('--port <n>', 'TCP port on 127.0.0.1 (default: any free port)', parsePort)
    .option('--status-socket <path>', 'the daemon socket to follow (default: --socket, else the control socket); it needs control rights')
    .action(async (options: VisualizeOptions, command: Command) => {
      process.exitCode = await runVisualize(options.statusSocket ?? controlSocket(command), options.port ?? 0);
    });
}

// Resolves the exit code: 0 on Ctrl-C/SIGTERM, 69 once the daemon goes away.
async function runVisualize(socket: string, port: number): Promise<number> {
  const feed = await openInspectionFeed(socket, 'volwarden visualize').catch((err: unknown) => {
    if (err instanceof WardenError && err.code === 'BAD_ID') throw new CliError(EXIT.UNAVAILABLE, err.message, { cause: err });
    if (err instanceof WardenError && err.code === 'EPERM' && err.message.includes('refused the inspection stream')) {
      throw new CliError(EXIT.NOPERM, `${socket} gives status rights only, and the inspection stream needs the control socket: pass --socket with the daemon's control socket, as its user`, { cause: err });
    }
    throw err;
  });
  const mirror = new InspectionMirror(feed.snapshot);
  feed.onRecords((records) => {
    for (const record of records) mirror.apply(record);
  });
  let server: Awaited<ReturnType<typeof startInspectServer>>;
  try {
    server = await startInspectServer(mirror, { port, portFlag: '--port' });
  } catch (err) {
    feed.close();
    // A taken or privileged port is a usage problem (exit 64), said in the server's own words.
    throw err instanceof WardenError && err.code === 'EINVAL' ? new CliError(EXIT.USAGE, err.message, { cause: err }) : err;
  }
  process.stdout.write(`visualizer ${server.url}\n`);

  const outcome = await new Promise<{ code: number; reason?: string }>((resolve) => {
    const stop = () => resolve({ code: EXIT.OK });
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    void feed.closed.then((reason) => resolve({ code: EXIT.UNAVAILABLE, reason }));
  });
  feed.close();
  await server.close();
  if (outcome.reason !== undefined) {
    throw new CliError(outcome.code, `${outcome.reason}: the visualizer stopped; run volwarden visualize again once the daemon is back`);
  }
  return outcome.code;
}
