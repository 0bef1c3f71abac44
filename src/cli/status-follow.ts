/**
 * The live loop of `volwarden status --follow` (SPEC §11): redraws when the daemon's inspection
 * stream says a volume, lock, waiter or the reboot lock changed, fetching `status` at most once
 * per ~100 ms of changes and never while nothing happens. The world comes in as {@link FollowIO},
 * so tests drive it with fakes.
 */
import type { StatusResult, WardenClient } from '../client/index.js';
import { WardenError } from '../errors.js';
import type { InspectionFeed } from '../inspect/daemon-feed.js';
import type { InspectRecord } from '../inspect/records.js';
import { CliError, EXIT } from './exit-codes.js';
import { msUntilAgesChange, renderStatus } from './status-table.js';
import { safeJson } from '../safe-text.js';

/** What `followStatus` needs from the world: the daemon, the terminal and the process. Tests pass fakes. */
export interface FollowIO {
  /** The VOLUME argument: only this volume is followed (its id comes from the first status). */
  volume?: string | undefined;
  /** The `status` routine for the volume followed (or all). */
  fetch(): Promise<StatusResult>;
  /**
   * Starts reporting changes: `changed()` whenever something the table shows may differ, with
   * the followed volume's id once known (`undefined`: every volume); `lost(reason)` once the
   * daemon hangs up. Returns the cleanup.
   */
  watch(volumeId: () => string | undefined, on: { changed(): void; lost(reason: string): void }): () => void;
  write(text: string): void;
  /** The width to render for, read at every redraw; `undefined` means no limit. */
  width(): number | undefined;
  /** A terminal is redrawn in place and its ages tick; a pipe gets one table after another. */
  tty: boolean;
  json: boolean;
  /** Where SIGINT, SIGTERM and SIGWINCH arrive (`process`). */
  signals: Pick<NodeJS.Process, 'on' | 'off'>;
  timers?: Timers;
  /**
   * Without the inspection stream (the status socket has no `inspect`, SPEC §9), waiters and the
   * reboot lock change without a notification: fetch again this often while a lock is held or the
   * reboot lock is not free. Nothing is fetched while all is quiet.
   */
  pollBusyMs?: number;
}

/** The clock the follow loop uses; `vi.useFakeTimers()` replaces the default. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  now: () => Date.now(),
};

/** Changes closer together than this share one `status` fetch and one redraw. */
export const REDRAW_GAP_MS = 100;
const HOME = '\x1b[H';
const CLEAR_SCREEN = '\x1b[2J';
const CLEAR_LINE_END = '\x1b[K';
const CLEAR_BELOW = '\x1b[J';

/**
 * Draws the status, then redraws it whenever `io.watch` reports a change (one fetch per burst,
 * see `coalesceRedraws`), on SIGWINCH (from the status it has), and in a terminal when a shown
 * age would tick over. Resolves on SIGINT/SIGTERM; rejects with a `CliError`: 69 when the daemon
 * goes away, 66 when the volume is unknown or gone.
 *
 * @example
 * await followStatus({ fetch: () => client.status(), watch, write: (t) => process.stdout.write(t),
 *   width: () => process.stdout.columns, tty: true, json: false, signals: process });
 */
export function followStatus(io: FollowIO): Promise<void> {
  const timers = io.timers ?? realTimers;
  return new Promise<void>((resolve, reject) => {
    let latest: StatusResult | undefined;
    let volumeId: string | undefined;
    let shown: string | undefined;
    let frames = 0;
    let tick: unknown;
    let poll: unknown;
    let ended = false;

    const paint = (force: boolean) => {
      if (latest === undefined || ended) return;
      const now = timers.now();
      const text = io.json ? safeJson(latest) : renderStatus(latest, io.width(), now);
      if (text !== shown || force) {
        shown = text;
        io.write(frame(text, frames++, io.json ? 'json' : io.tty ? 'terminal' : 'pipe'));
      }
      scheduleTick(now);
      schedulePoll();
    };
    // Only what notifications cannot say (a waiter queuing, the reboot lock waiting) needs a look.
    const schedulePoll = () => {
      if (poll !== undefined) timers.clearTimeout(poll);
      poll = undefined;
      if (io.pollBusyMs !== undefined && latest !== undefined && isBusy(latest)) {
        poll = timers.setTimeout(() => ((poll = undefined), redraws.trigger()), io.pollBusyMs);
      }
    };
    // A terminal's ages move once per unit they show, from the status already fetched: a local clock, no daemon traffic.
    const scheduleTick = (now: number) => {
      if (tick !== undefined) timers.clearTimeout(tick);
      tick = undefined;
      const wait = io.tty && !io.json && latest ? msUntilAgesChange(latest, now) : undefined;
      if (wait !== undefined) tick = timers.setTimeout(() => ((tick = undefined), paint(false)), wait + 5);
    };
    const refresh = async () => {
      try {
        latest = await io.fetch();
        if (io.volume !== undefined) volumeId ??= latest.volumes[0]?.id;
        paint(false);
      } catch (err) {
        fail(err);
      }
    };
    const redraws = coalesceRedraws(refresh, REDRAW_GAP_MS, timers);
    const onResize = () => paint(io.tty); // A pipe's width cannot change: redraw only what differs.
    const finish = (outcome: () => void) => {
      if (ended) return;
      ended = true;
      redraws.stop();
      if (tick !== undefined) timers.clearTimeout(tick);
      if (poll !== undefined) timers.clearTimeout(poll);
      stopWatching();
      io.signals.off('SIGINT', stop);
      io.signals.off('SIGTERM', stop);
      io.signals.off('SIGWINCH', onResize);
      outcome();
    };
    const stop = () => finish(resolve);
    const fail = (err: unknown) => finish(() => reject(followFailure(err, frames > 0 ? (volumeId ?? io.volume) : undefined)));

    io.signals.on('SIGINT', stop);
    io.signals.on('SIGTERM', stop);
    io.signals.on('SIGWINCH', onResize);
    // Watch before the first fetch, so a change between the two still redraws.
    const stopWatching = io.watch(() => volumeId, {
      changed: () => redraws.trigger(),
      lost: (reason) => fail(new CliError(EXIT.UNAVAILABLE, `${reason}: status --follow stopped; run it again once the daemon is back`)),
    });
    redraws.trigger();
  });
}

// Something that can change without a notification: a held lock (its waiters) or the reboot lock.
function isBusy(status: StatusResult): boolean {
  return status.reboot.state !== 'free' || status.volumes.some((v) => v.lock.state !== 'unlocked');
}

/** A trigger that runs `run` at once, then at most once per `gapMs` while triggers keep coming. */
export interface Coalescer {
  trigger(): void;
  stop(): void;
}

/**
 * Turns a burst of change reports into few runs: the first trigger runs `run` at once; triggers
 * while it runs, or within `gapMs` of its start, make one more run once the gap is over. No timer
 * is left when nothing is pending, so an idle daemon costs nothing. `run` must not reject.
 *
 * @example
 * const redraws = coalesceRedraws(async () => draw(await client.status()), 100);
 * feed.onRecords(() => redraws.trigger());
 */
export function coalesceRedraws(run: () => Promise<void>, gapMs: number, timers: Timers = realTimers): Coalescer {
  let pending = false;
  let running = false;
  let stopped = false;
  let lastStart = -Infinity;
  let timer: unknown;
  const pump = () => {
    if (stopped || running || timer !== undefined || !pending) return;
    const wait = lastStart + gapMs - timers.now();
    if (wait > 0) {
      timer = timers.setTimeout(() => {
        timer = undefined;
        pump();
      }, wait);
      return;
    }
    pending = false;
    running = true;
    lastStart = timers.now();
    void run().finally(() => {
      running = false;
      pump();
    });
  };
  return {
    trigger() {
      pending = true;
      pump();
    },
    stop() {
      stopped = true;
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
    },
  };
}

/**
 * Whether an inspection record may change what `status` shows: anything about a volume, its lock,
 * a waiter or the reboot lock (clients, subscribers and definitions do not show). With `volumeId`,
 * another volume's volume and lock records do not count; waiters and the reboot lock always do.
 * A `dropped` record means the stream lost some: that counts too, as a recrawl would.
 *
 * @example
 * feed.onRecords((records) => { if (records.some((r) => concernsStatus(r))) redraws.trigger(); });
 */
export function concernsStatus(record: InspectRecord, volumeId?: string): boolean {
  switch (record.kind) {
    case 'event':
      return concernsActor(record.target, volumeId);
    case 'actor':
      return concernsActor(record.actor.id, volumeId) || shownKind(record.actor.kind);
    case 'removed':
      return concernsActor(record.id, volumeId);
    case 'actors':
    case 'dropped':
      return true;
    default:
      return false;
  }
}

function shownKind(kind: string): boolean {
  return kind === 'waiter' || kind === 'reboot';
}

// Actor ids as the runtimes spawn them: `volume:<id>`, `lock:<id>`, `waiter:<n>`, `rebootLock`.
function concernsActor(actorId: string, volumeId: string | undefined): boolean {
  if (actorId === 'rebootLock' || actorId.startsWith('waiter:')) return true;
  for (const prefix of ['volume:', 'lock:']) {
    if (actorId.startsWith(prefix)) return volumeId === undefined || actorId.slice(prefix.length) === volumeId;
  }
  return false;
}

// A terminal: the first frame clears the screen, later ones overwrite it line by line (no
// flicker); a pipe: tables a blank line apart; JSON: one line each.
function frame(text: string, index: number, output: 'terminal' | 'pipe' | 'json'): string {
  if (output === 'json') return `${text}\n`;
  if (output === 'pipe') return `${index === 0 ? '' : '\n'}${text}\n`;
  const body = text.split('\n').map((line) => `${line}${CLEAR_LINE_END}`).join('\n');
  return `${index === 0 ? `${HOME}${CLEAR_SCREEN}` : HOME}${body}\n${CLEAR_BELOW}`;
}

// The one-line reason the loop stopped: a lost daemon is 69, a volume unknown or gone is 66.
function followFailure(err: unknown, goneVolume: string | undefined): unknown {
  if (!(err instanceof WardenError)) return err;
  if (err.code === 'ECONNRESET' || err.code === 'ECONNREFUSED') {
    return new CliError(EXIT.UNAVAILABLE, `${err.message}: status --follow stopped; run it again once the daemon is back`, { cause: err });
  }
  if (err.code === 'ENOENT' && goneVolume !== undefined) {
    return new CliError(EXIT.NOINPUT, `${goneVolume} is gone (unmounted, or its manifest removed): status --follow stopped`, { cause: err });
  }
  return err;
}

/** Redraws when the inspection stream reports a change that `status` shows. */
export function watchFeed(feed: InspectionFeed, volumeId: () => string | undefined, on: { changed(): void; lost(reason: string): void }): () => void {
  let active = true;
  feed.onRecords((records) => {
    if (active && records.some((record) => concernsStatus(record, volumeId()))) on.changed();
  });
  void feed.closed.then((reason) => {
    if (active) on.lost(reason);
  });
  return () => {
    active = false;
    feed.close();
  };
}

/** Without an inspection stream (the status socket, or an older daemon): redraws on notifications. */
export function watchNotifications(client: WardenClient, volume: string | undefined, on: { changed(): void; lost(reason: string): void }): () => void {
  const subscription = client.subscribe(volume ?? '*').subscribe({
    next: () => on.changed(),
    error: (err: unknown) => {
      // An unknown volume is the fetch's to report (66); a lost connection is said as the feed says it.
      if (err instanceof WardenError && err.code === 'ENOENT') on.changed();
      else if (err instanceof WardenError && err.code === 'ECONNRESET') on.lost(`the daemon at ${client.socket} closed the connection`);
      else on.lost(err instanceof Error ? err.message : String(err));
    },
    // `volume.gone` ends a one-volume subscription: the fetch it triggers says so (66).
    complete: () => on.changed(),
  });
  return () => subscription.unsubscribe();
}
