/**
 * Helper processes (SPEC §9): started with a minimal environment, stdin from /dev/null, in their
 * own process group so a timeout or abort reaches the helper's children too, output captured
 * and bounded. Every way a run can end becomes a `HelperExit` value; nothing rejects.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants, readdirSync, readFileSync } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { resolve } from 'node:path';
import { runAsArgv } from './run-as.js';
import type { HelperExit, ProcessAdapter, SpawnRequest } from './types.js';

/** Exit status accounted for a helper that ran past its timeout (like timeout(1)). */
export const TIMED_OUT_STATUS = 124;
/** Exit status accounted for a helper that could not be started (like a shell's "not found"). */
export const SPAWN_FAILED_STATUS = 127;

/** The `PATH` every helper gets (SPEC §9: a minimal environment); bare command names are found in it. */
export const HELPER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_LANG = 'C.UTF-8';
/** How long to wait for stdout/stderr to close after the helper exited (a straggler may hold them). */
const DRAIN_MS = 200;

/**
 * The real process adapter, backed by `child_process.spawn`.
 *
 * @example
 * const processes = createNodeProcesses();
 * const exit = await processes.run({ argv: ['make'], cwd: root, env, timeoutMs: 600_000,
 *   killGraceMs: 10_000, maxOutputBytes: 65_536 }, controller.signal);
 * if (exit.status !== 0) log.warn(exit.output);
 */
export function createNodeProcesses(): ProcessAdapter {
  return { run: runHelper, isAlive: isProcessAlive, identity: processIdentity, stopGroup };
}

/** How often {@link stopGroup} looks whether a group it signalled is gone (no child: no exit event). */
const GROUP_POLL_MS = 50;

/**
 * The start time of `pid` (field 22 of /proc/<pid>/stat, in clock ticks since boot): a pid reused
 * by a later process has another. `null` when no such process runs, it is a zombie, or there is no /proc.
 */
export function processIdentity(pid: number): string | null {
  if (!isProcessAlive(pid)) return null;
  // After "pid (comm)": state is field 3, so starttime (22) is index 19 of the rest.
  return procStatFields(pid)?.[19] ?? null;
}

/**
 * The fields of /proc/<pid>/stat after "pid (comm)" (state first, then ppid, pgrp, ...), or
 * `null` when it cannot be read. comm may hold spaces and parentheses: split at the last ')'.
 */
function procStatFields(pid: number | string): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** See {@link ProcessAdapter.stopGroup}. */
export async function stopGroup(pid: number, graceMs: number): Promise<void> {
  if (!Number.isSafeInteger(pid) || pid <= 1) return;
  const signal = (sig: NodeJS.Signals): boolean => {
    try {
      process.kill(-pid, sig);
      return true;
    } catch {
      return false; // ESRCH: nothing of the group is left.
    }
  };
  const goneWithin = async (ms: number): Promise<boolean> => {
    for (const deadline = Date.now() + ms; Date.now() < deadline;) {
      if (!groupAlive(pid)) return true;
      await new Promise((r) => setTimeout(r, GROUP_POLL_MS));
    }
    return !groupAlive(pid);
  };
  if (!signal('SIGTERM')) return;
  if (await goneWithin(graceMs)) return;
  signal('SIGKILL');
  await goneWithin(1000);
}

/** Inputs of {@link helperEnvironment}. */
export interface HelperEnvironmentInput {
  volumeId: string;
  root: string;
  /** The control socket; omitted from the environment when the warden is not listening. */
  socket?: string;
  /** Names of the stale caches. */
  stale: string[];
  path?: string;
  lang?: string;
}

/**
 * The whole environment a helper gets (SPEC §9): nothing is inherited from the daemon.
 *
 * @example
 * helperEnvironment({ volumeId: 'path:/data', root: '/data', socket: '/run/volwarden/private/control.sock', stale: ['docs-index'] })
 * // → { PATH: '/usr/local/sbin:…', LANG: 'C.UTF-8', VOLWARDEN_VOLUME: 'path:/data', VOLWARDEN_ROOT: '/data', … }
 */
export function helperEnvironment(input: HelperEnvironmentInput): Record<string, string> {
  const env: Record<string, string> = {
    PATH: input.path ?? HELPER_PATH,
    LANG: input.lang ?? DEFAULT_LANG,
    VOLWARDEN_VOLUME: input.volumeId,
    VOLWARDEN_ROOT: input.root,
  };
  if (input.socket !== undefined) env.VOLWARDEN_SOCKET = input.socket;
  env.VOLWARDEN_STALE = input.stale.join(',');
  return env;
}

/** Installer pid files (SPEC §3) name processes we may not own: EPERM still means "exists". */
export function isProcessAlive(pid: number): boolean {
  // kill(0) and negative pids address process groups; never treat them as a helper's pid.
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

/**
 * Whether any process of group `pgid` still runs. Zombies do not count: an orphan's children are
 * reparented to pid 1, which in a container may never reap them, and they still answer kill(0).
 */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false; // ESRCH: nobody of the group is left, not even a zombie.
  }
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return true; // No /proc: kill(0) answered, so trust it.
  }
  return names.some((name) => {
    if (!/^\d+$/.test(name)) return false;
    const [state, , pgrp] = procStatFields(name) ?? [];
    return Number(pgrp) === pgid && state !== 'Z' && state !== 'X';
  });
}

/** A zombie (exited, not yet reaped — common under a container's pid 1) is not alive. */
function isZombie(pid: number): boolean {
  // No /proc (or it vanished meanwhile): trust kill(0).
  return procStatFields(pid)?.[0] === 'Z';
}

/** The status accounted for a helper: its exit code, or 128 + the signal number that killed it. */
export function exitStatus(code: number | null, signal: string | null): number {
  if (code !== null) return code;
  const signo = signal === null ? undefined : (osConstants.signals as Record<string, number>)[signal];
  return 128 + (signo ?? 0);
}

/** Runs one helper to completion; see {@link ProcessAdapter.run}. */
export async function runHelper(request: SpawnRequest, signal: AbortSignal): Promise<HelperExit> {
  if (request.argv.length === 0) return spawnFailure('empty argv: nothing to run');
  if (signal.aborted) return abortedBeforeStart();
  // exec failures after fork surface only as exit 127; check first so the reason is reported.
  const unrunnable = await whyNotRunnable(request);
  if (unrunnable !== undefined) return spawnFailure(describeSpawnError(request, unrunnable));
  let argv = request.argv;
  if (request.runAs !== undefined) {
    const wrapped = await runAsArgv(request.runAs, argv, request.env.PATH ?? HELPER_PATH);
    if (!wrapped.ok) return spawnFailure(`cannot start ${request.argv[0]} (cwd ${request.cwd}): ${wrapped.error}`);
    argv = wrapped.argv;
  }
  if (signal.aborted) return abortedBeforeStart();
  let child: ChildProcess;
  try {
    child = spawn(argv[0], argv.slice(1), {
      cwd: request.cwd,
      env: request.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
  } catch (err) {
    return spawnFailure(describeSpawnError(request, err));
  }
  if (child.pid !== undefined) request.onStarted?.(child.pid);
  return superviseChild(child, request, signal);
}

/** The errno that would stop `argv[0]` from being executed, when it is a path we can check. */
async function whyNotRunnable(request: SpawnRequest): Promise<NodeJS.ErrnoException | undefined> {
  const program = request.argv[0];
  if (!program.includes('/')) return undefined; // Looked up in PATH by spawn itself.
  try {
    const path = resolve(request.cwd, program);
    await access(path, fsConstants.X_OK);
    if ((await stat(path)).isDirectory()) return Object.assign(new Error('is a directory'), { code: 'EACCES' });
    return undefined;
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
}

function superviseChild(child: ChildProcess, request: SpawnRequest, signal: AbortSignal): Promise<HelperExit> {
  return new Promise<HelperExit>((resolve) => {
    const output = boundedOutput(request.maxOutputBytes);
    let timedOut = false;
    let terminating = false;
    let settled = false;
    let exited: { code: number | null; signal: string | null } | undefined;
    let timeoutTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;

    const signalGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // The group is already gone (ESRCH): nothing left to signal.
      }
    };

    const terminate = (): void => {
      if (terminating || exited) return;
      terminating = true;
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => signalGroup('SIGKILL'), request.killGraceMs);
    };

    const onAbort = (): void => terminate();

    const finish = (result: HelperExit): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timeoutTimer);
      clearTimeout(killTimer);
      clearTimeout(drainTimer);
      signal.removeEventListener('abort', onAbort);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve(result);
    };

    const finishExited = (): void => {
      if (!exited) return;
      const status = timedOut ? TIMED_OUT_STATUS : exitStatus(exited.code, exited.signal);
      finish({ status, code: exited.code, signal: exited.signal, timedOut, output: output.text(), pid: child.pid });
    };

    child.stdout?.on('data', output.append);
    child.stderr?.on('data', output.append);

    child.once('error', (err) => {
      // 'error' without a pid: the process never started (ENOENT, EACCES, bad cwd).
      if (child.pid === undefined) finish(spawnFailure(describeSpawnError(request, err), output.text()));
    });

    child.once('exit', (code, sig) => {
      exited = { code, signal: sig };
      // Stragglers of a helper we told to stop do not get to outlive it.
      if (terminating) signalGroup('SIGKILL');
      drainTimer = setTimeout(finishExited, DRAIN_MS);
    });

    child.once('close', finishExited);

    if (request.timeoutMs > 0 && Number.isFinite(request.timeoutMs)) {
      timeoutTimer = setTimeout(() => {
        timedOut = true;
        terminate();
      }, request.timeoutMs);
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

interface BoundedOutput {
  append(chunk: Buffer): void;
  text(): string;
}

/** Keeps the head of the interleaved output; counts what it drops. */
function boundedOutput(maxBytes: number): BoundedOutput {
  const chunks: Buffer[] = [];
  let kept = 0;
  let dropped = 0;
  return {
    append(chunk: Buffer) {
      const room = Math.max(0, maxBytes - kept);
      if (chunk.length <= room) {
        chunks.push(chunk);
        kept += chunk.length;
        return;
      }
      if (room > 0) chunks.push(chunk.subarray(0, room));
      kept += room;
      dropped += chunk.length - room;
    },
    text() {
      const head = Buffer.concat(chunks).toString('utf8');
      return dropped > 0 ? `${head}…[truncated ${dropped} bytes]` : head;
    },
  };
}

function abortedBeforeStart(): HelperExit {
  return { status: exitStatus(null, 'SIGTERM'), code: null, signal: 'SIGTERM', timedOut: false, output: '' };
}

function spawnFailure(message: string, output = ''): HelperExit {
  return { status: SPAWN_FAILED_STATUS, code: null, signal: null, timedOut: false, spawnError: message, output };
}

function describeSpawnError(request: SpawnRequest, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const reason = e.code ?? e.message ?? String(err);
  return `cannot start ${request.argv[0]} (cwd ${request.cwd}): ${reason}`;
}
