/**
 * What `volwarden daemon` does once its flags are parsed (SPEC §11, §13): merges flags over the
 * config file, refuses to start twice, runs the warden until SIGTERM/SIGINT (exit 0, socket files
 * removed) and re-reads the config on SIGHUP. Loaded lazily: client commands stay quick to start.
 */
import net from 'node:net';
import path from 'node:path';
import type { InspectionEvent } from 'xstate';
import { createWarden, type WardenHandle } from '../actors/library.js';
import type { Reconfiguration } from '../actors/warden.js';
import type { Logger } from '../actors/env.js';
import { inotifyWatchLimit } from '../adapters/fs-watch.js';
import { isAlreadyRunning } from '../adapters/socket-server.js';
import { assertSocketDirTrusted } from '../adapters/socket-trust.js';
import { defaultPaths } from '../config/paths.js';
import { loadConfig, type DaemonConfig } from '../config/schema.js';
import { WardenError } from '../errors.js';
import { CliError, EXIT } from './exit-codes.js';
import { attachInspector, type InspectorHandle } from './inspect-hook.js';
import { countInotifyWatches } from './inotify-count.js';
import { createDaemonLogger } from './logger.js';
import { notifyReady, notifyStopping } from './sd-notify.js';
import type { LogLevel } from './options.js';

/** The parsed flags of `volwarden daemon`. */
export interface DaemonFlags {
  watch?: string[];
  config?: string;
  statusSocket?: string;
  stateDir?: string;
  settleMs?: number;
  startupDelayMs?: number;
  inspectPort?: number;
  record?: string;
  logLevel: LogLevel;
}

/** Everything the daemon runs with, after flags, file and defaults are merged. */
interface DaemonSettings {
  config: DaemonConfig;
  roots: string[];
  socket: string;
  statusSocket: string;
  stateDir: string;
  inspectPort?: number;
  record?: string;
}

/**
 * Runs the daemon in the foreground; resolves the exit code once it has stopped.
 *
 * @example
 * process.exitCode = await runDaemonCommand({ watch: ['/srv/data'], logLevel: 'info' }, undefined);
 */
export async function runDaemonCommand(flags: DaemonFlags, socketFlag: string | undefined): Promise<number> {
  return runDaemon(await settle(flags, socketFlag), flags);
}

async function settle(flags: DaemonFlags, socketFlag: string | undefined): Promise<DaemonSettings> {
  const config = flags.config === undefined ? {} : await loadConfig(flags.config);
  const defaults = defaultPaths();
  const roots = (flags.watch ?? config.roots ?? []).map((r) => path.resolve(r));
  if (roots.length === 0 && !config.discoverMounts) {
    throw new CliError(EXIT.USAGE, 'nothing to watch: give --watch DIR, or a --config with "roots" or "discoverMounts"');
  }
  const inspectPort = flags.inspectPort ?? config.inspect?.port;
  return {
    config,
    roots,
    socket: path.resolve(socketFlag ?? config.socket ?? defaults.socket),
    statusSocket: path.resolve(flags.statusSocket ?? config.statusSocket ?? defaults.statusSocket),
    stateDir: path.resolve(flags.stateDir ?? config.stateDir ?? defaults.stateDir),
    ...(inspectPort !== undefined ? { inspectPort } : {}),
    ...(flags.record !== undefined ? { record: path.resolve(flags.record) } : {}),
  };
}

async function runDaemon(settings: DaemonSettings, flags: DaemonFlags): Promise<number> {
  // A socket directory another user can write is refused (exit 77) before anything answers in it.
  await assertSocketDirTrusted(settings.socket, '--socket');
  await assertSocketDirTrusted(settings.statusSocket, '--status-socket');
  // Refuse before watching anything: a second daemon must not start helpers on the same volumes.
  if (await answers(settings.socket)) throw alreadyRunning(settings.socket);
  const log = createDaemonLogger(flags.logLevel);
  let current: WardenHandle | undefined;
  const stopRequested = signalLatch(log, () => reloadConfig(settings, flags, current, log));

  // The inspector exists before the warden, so the trace and the page see every actor from its birth.
  const inspector = await attachInspector({ port: settings.inspectPort, record: settings.record });
  const warden = openWarden(settings, flags, log, inspector ? (event) => inspector.inspect(event) : undefined);
  current = warden;
  try {
    await warden.listen({ socket: settings.socket, statusSocket: settings.statusSocket, inspection: inspector.hub });
    // SIGTERM must work even while volumes are still loading (a slow or hung file system).
    const first = await Promise.race([warden.start().then(() => null), stopRequested.wait]);
    if (first !== null) {
      log.info({ signal: first }, 'stopping before start finished');
      await warden.stop();
      await inspector?.close().catch(() => {});
      return EXIT.OK;
    }
  } catch (err) {
    await inspector?.close().catch(() => {});
    await warden.stop().catch(() => {});
    throw isAlreadyRunning(err) ? alreadyRunning(err.socketPath) : explainStartFailure(err);
  }

  await logWatchBudget(log);
  const volumes = warden.status().volumes.length;
  log.info({ volumes, roots: settings.roots, socket: settings.socket, statusSocket: settings.statusSocket }, 'volwarden started');
  process.stderr.write(
    `volwarden: watching ${volumes} ${volumes === 1 ? 'volume' : 'volumes'}; control socket ${settings.socket}; status socket ${settings.statusSocket}` +
      `${inspector?.url ? `; visualizer ${inspector.url}` : ''}\n`,
  );

  await notifyReady({ log }, `watching ${volumes} ${volumes === 1 ? 'volume' : 'volumes'}`);

  const signal = await stopRequested.wait;
  log.info({ signal }, 'stopping');
  await notifyStopping({ log });
  await warden.stop();
  await inspector?.close().catch((err: unknown) => log.warn({ err: String(err) }, 'closing the visualizer failed'));
  log.info({}, 'stopped');
  return EXIT.OK;
}

function openWarden(settings: DaemonSettings, flags: DaemonFlags, log: Logger, inspect: ((e: InspectionEvent) => void) | undefined): WardenHandle {
  const { config } = settings;
  const startupDelayMs = flags.startupDelayMs ?? config.startupDelayMs;
  try {
    return createWarden({
      ...reloadable(config, flags, settings.roots),
      stateDir: settings.stateDir,
      logger: log,
      ...(startupDelayMs !== undefined ? { startupDelayMs } : {}),
      ...(inspect ? { inspect } : {}),
    });
  } catch (err) {
    throw explainStartFailure(err, `state directory ${settings.stateDir}`);
  }
}

// SPEC §3: log how much of the inotify budget this daemon uses, so an exhausted one is no mystery.
async function logWatchBudget(log: Logger): Promise<void> {
  const [watches, limit] = await Promise.all([countInotifyWatches(), inotifyWatchLimit()]);
  log.info({ watches, limit }, `using ${watches ?? 'an unknown number of'} inotify watches of ${limit ?? 'an unknown limit'} (fs.inotify.max_user_watches)`);
}

// SIGTERM/SIGINT stop (once); SIGHUP re-reads the config; handlers are in place before any socket exists.
function signalLatch(log: Logger, onHangup: () => Promise<void>): { wait: Promise<NodeJS.Signals> } {
  let resolveStop!: (signal: NodeJS.Signals) => void;
  const wait = new Promise<NodeJS.Signals>((resolve) => (resolveStop = resolve));
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'already stopping: waiting for helpers to exit');
      return;
    }
    stopping = true;
    resolveStop(signal);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => void onHangup());
  return { wait };
}

/** The part of the config a running warden follows on SIGHUP; flags override the file, as at start. */
function reloadable(config: DaemonConfig, flags: DaemonFlags, roots: string[]): Reconfiguration {
  const settleMs = flags.settleMs ?? config.settleMs;
  return {
    roots,
    discoverMounts: config.discoverMounts ?? false,
    rebuilders: config.rebuilders ?? {},
    limits: pick(config, [
      'ackTimeoutMs', 'maxSubscribers', 'maxWaiters', 'maxClients', 'maxQueuedEvents', 'maxFrameBytes',
      'maxStatusClients', 'statusIdleTimeoutMs', 'maxClientBufferBytes', 'maxSocketBufferBytes',
    ]),
    ...(settleMs !== undefined ? { settleMs } : {}),
  };
}

// SIGHUP (SPEC §13): roots added, removed or changed follow; unchanged volumes keep their state,
// lock holder and waiters; an invalid config is logged in one line and the running one stays.
async function reloadConfig(settings: DaemonSettings, flags: DaemonFlags, warden: WardenHandle | undefined, log: Logger): Promise<void> {
  const file = flags.config;
  if (file === undefined) {
    log.info({}, 'SIGHUP: no --config file to re-read');
    return;
  }
  let config: Awaited<ReturnType<typeof loadConfig>>;
  try {
    config = await loadConfig(file);
  } catch (err) {
    log.error({ config: file, error: err instanceof Error ? err.message : String(err) }, 'SIGHUP: config invalid; keeping the running config');
    return;
  }
  // --watch on the command line overrides the file's roots, now as at start.
  const roots = (flags.watch && flags.watch.length > 0 ? flags.watch : (config.roots ?? [])).map((r) => path.resolve(r));
  if (warden === undefined) return;
  const notApplied: string[] = await warden.core.reconfigure(reloadable(config, flags, roots));
  const before = settings.config;
  for (const key of ['socket', 'statusSocket', 'stateDir', 'startupDelayMs'] as const) {
    if (before[key] !== config[key]) notApplied.push(key);
  }
  if (before.inspect?.port !== config.inspect?.port) notApplied.push('inspect');
  log.info({ config: file, roots }, 'SIGHUP: config reloaded');
  if (notApplied.length > 0) {
    log.warn({ keys: notApplied }, `SIGHUP: ${notApplied.join(', ')} changed; restart the daemon to apply ${notApplied.length === 1 ? 'it' : 'them'}`);
  }
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createConnection(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

function alreadyRunning(socketPath: string): CliError {
  return new CliError(EXIT.TEMPFAIL, `already running: a daemon answers on ${socketPath}; stop it first or pass another --socket`);
}

function explainStartFailure(err: unknown, what?: string): unknown {
  if (err instanceof WardenError || err instanceof CliError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EACCES' || e.code === 'EPERM') {
    return new CliError(EXIT.NOPERM, `permission denied on ${e.path ?? what ?? 'a path'}: run as its owner or pass --socket/--status-socket/--state-dir`, { cause: err });
  }
  if (typeof e.code === 'string') {
    return new CliError(EXIT.SOFTWARE, `cannot start: ${e.message}${what ? ` (${what})` : ''}`, { cause: err });
  }
  return err;
}

function pick<T extends object, K extends keyof T>(obj: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (obj[key] !== undefined) out[key] = obj[key];
  return out;
}
