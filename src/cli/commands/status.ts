/**
 * `volwarden status [VOLUME] [--json] [--follow]` (SPEC §11): a table of volumes, states, lock
 * holders and waiters. `--follow` keeps it live: over the control socket the daemon's inspection
 * stream (routine `inspect`) says when a volume, lock, waiter or the reboot lock changed, and only
 * then is `status` fetched again and the table redrawn, at most once per ~100 ms of changes; over
 * the status socket (no `inspect` there, SPEC §9) notifications do, plus a look once a second
 * while a lock is held. Ctrl-C or SIGTERM ends it with 0, a daemon that goes away with 69, an
 * unknown volume with 66.
 */
import type { Command } from 'commander';
import type { WardenClient } from '../../client/index.js';
import { WardenError } from '../../errors.js';
import { openInspectionFeed, type InspectionFeed } from '../../inspect/daemon-feed.js';
import { withClient } from '../client-session.js';
import { globals, readSocket, volumeArg } from '../options.js';
import { followStatus, watchFeed, watchNotifications, type FollowIO } from '../status-follow.js';
import { renderStatus } from '../status-table.js';
import { safeJson } from '../../safe-text.js';

/** Adds `status` to the program. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show volumes, their states, lock holders and waiters')
    .argument('[volume]', 'only this volume (id or root directory)', volumeArg)
    .option('--follow', 'redraw on every change until interrupted')
    .action(async (volume: string | undefined, options: { follow?: boolean }, command: Command) => {
      const json = globals(command).json ?? false;
      const socket = readSocket(command);
      await withClient(socket, 'volwarden status', async (client) => {
        if (options.follow) return followStatus(await liveIO(client, socket, volume, json));
        const status = await client.status(volume);
        process.stdout.write(json ? `${safeJson(status)}\n` : `${renderStatus(status, terminalWidth())}\n`);
      });
    });
}

// The width to render for: the terminal's, or $COLUMNS through a pipe (as ps does).
function terminalWidth(): number | undefined {
  if (process.stdout.isTTY === true) return process.stdout.columns;
  const columns = Number(process.env.COLUMNS);
  return Number.isInteger(columns) && columns > 0 ? columns : undefined;
}

// The real daemon, terminal and process. Over the control socket the inspection stream says when
// to redraw; the status socket has no `inspect` (SPEC §9), so there notifications do, plus a look
// once a second while a lock is held (waiters queue silently).
async function liveIO(client: WardenClient, socket: string, volume: string | undefined, json: boolean): Promise<FollowIO> {
  const feed = client.rights === 'control' ? await openFeed(socket) : undefined;
  return {
    volume,
    fetch: () => client.status(volume),
    watch: (volumeId, on) => (feed ? watchFeed(feed, volumeId, on) : watchNotifications(client, volume, on)),
    write: (text) => void process.stdout.write(text),
    width: terminalWidth,
    tty: process.stdout.isTTY === true,
    json,
    signals: process,
    ...(feed ? {} : { pollBusyMs: BUSY_POLL_MS }),
  };
}

/** How often `--follow` looks again, without the inspection stream, while a lock is held. */
const BUSY_POLL_MS = 1000;

async function openFeed(socket: string): Promise<InspectionFeed | undefined> {
  return openInspectionFeed(socket, 'volwarden status --follow').catch((err: unknown) => {
    if (!(err instanceof WardenError) || err.code !== 'BAD_ID') throw err;
    process.stderr.write('volwarden: this daemon offers no inspection stream; redrawing on notifications (waiters within a second)\n');
    return undefined;
  });
}
