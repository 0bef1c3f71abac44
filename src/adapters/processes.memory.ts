/**
 * The in-memory twin of the process adapter: a helper "runs" until the test says how it ends.
 * Timeouts and kill grace periods run on the injected clock, so a simulated clock drives them.
 * No `node:` imports: embedders and the visualizer's simulation can use it anywhere.
 */
import { systemClock } from './clock.js';
import type { Clock, HelperExit, ProcessAdapter, SpawnRequest } from './types.js';

/** Signal numbers for the statuses a fake helper reports (Linux numbering, as `128 + signo`). */
const SIGNALS: Record<string, number> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11,
  SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15,
};

/** One fake helper run, as a test sees and steers it. */
export interface FakeRun {
  readonly request: SpawnRequest;
  readonly pid: number;
  /** Signals the adapter sent so far (`SIGTERM` on timeout/abort, `SIGKILL` after the grace). */
  readonly signals: string[];
  /** Whether the run has ended (its `result` is settled). */
  readonly done: boolean;
  /** What `run()` resolves with. */
  readonly result: Promise<HelperExit>;
  /** Ends the run with this exit code (and optional captured output). */
  exit(status: number, output?: string): void;
  /** Ends the run as killed by `signal` (status 128 + signo). */
  crash(signal?: string): void;
  /** Makes the helper ignore SIGTERM: only SIGKILL, `killGraceMs` later, ends it. */
  hang(): void;
}

export interface FakeProcessesOptions {
  /** Drives timeouts and kill grace periods; defaults to the wall clock. */
  clock?: Clock;
  /** Called as each run starts (e.g. `run => run.exit(0)` for helpers that always succeed). */
  onRun?: (run: FakeRun) => void;
  /** First pid handed out. */
  firstPid?: number;
}

/**
 * A `ProcessAdapter` whose helpers are controlled by the test.
 *
 * @example
 * const clock = simulatedClock();
 * const processes = new FakeProcesses({ clock });
 * const exit = processes.run(request, new AbortController().signal);
 * (await processes.nextRun()).exit(0);
 * expect((await exit).status).toBe(0);
 */
export class FakeProcesses implements ProcessAdapter {
  /** Runs that have started and not ended yet, oldest first. */
  readonly running: FakeRun[] = [];
  /** Every run ever started (including ones that failed to start), oldest first. */
  readonly history: FakeRun[] = [];
  /** Pids `isAlive` reports as existing (installer pid files). */
  readonly alive = new Set<number>();

  private readonly clock: Clock;
  private readonly onRun?: (run: FakeRun) => void;
  private readonly unstartable = new Set<string>();
  private readonly handedOut = new Set<FakeRun>();
  private readonly waiters: Array<(run: FakeRun) => void> = [];
  private readonly stoppers = new Map<FakeRun, (graceMs: number) => void>();
  private nextPid: number;

  constructor(options: FakeProcessesOptions = {}) {
    this.clock = options.clock ?? systemClock();
    this.onRun = options.onRun;
    this.nextPid = options.firstPid ?? 10_000;
  }

  /** Makes every later run whose `argv[0]` is `argv0` fail to start (status 127). */
  failToStart(argv0: string): void {
    this.unstartable.add(argv0);
  }

  isAlive(pid: number): boolean {
    return this.alive.has(pid);
  }

  identity(pid: number): string | null {
    return this.running.some((run) => run.pid === pid) ? `fake:${pid}` : null;
  }

  /** Like the real one: SIGTERM, then SIGKILL `graceMs` later on the injected clock. */
  stopGroup(pid: number, graceMs: number): Promise<void> {
    const run = this.running.find((r) => r.pid === pid);
    if (!run) return Promise.resolve();
    this.stoppers.get(run)?.(graceMs);
    return run.result.then(() => undefined);
  }

  /** The oldest run not yet returned by `nextRun`, waiting for one to start if needed. */
  nextRun(): Promise<FakeRun> {
    const pending = this.history.find((run) => !this.handedOut.has(run));
    if (pending) {
      this.handedOut.add(pending);
      return Promise.resolve(pending);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  run(request: SpawnRequest, signal: AbortSignal): Promise<HelperExit> {
    const run = this.start(request, signal);
    this.history.push(run);
    if (!run.done) {
      this.running.push(run);
      request.onStarted?.(run.pid);
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      this.handedOut.add(run);
      waiter(run);
    }
    this.onRun?.(run);
    return run.result;
  }

  private start(request: SpawnRequest, signal: AbortSignal): FakeRun {
    const pid = this.nextPid++;
    const clock = this.clock;
    const signals: string[] = [];
    let resolveResult!: (exit: HelperExit) => void;
    const result = new Promise<HelperExit>((resolve) => (resolveResult = resolve));
    let done = false;
    let hanging = false;
    let timedOut = false;
    let timeoutTimer: unknown;
    let killTimer: unknown;

    const end = (exit: Omit<HelperExit, 'pid' | 'timedOut'>): void => {
      if (done) return;
      done = true;
      if (timeoutTimer !== undefined) clock.clearTimeout(timeoutTimer);
      if (killTimer !== undefined) clock.clearTimeout(killTimer);
      signal.removeEventListener('abort', onAbort);
      const index = this.running.indexOf(run);
      if (index >= 0) this.running.splice(index, 1);
      const status = timedOut ? 124 : exit.status;
      resolveResult({ ...exit, status, timedOut, pid, output: truncate(exit.output, request.maxOutputBytes) });
    };

    const kill = (sig: string): void => {
      if (done) return;
      signals.push(sig);
      if (sig === 'SIGKILL' || !hanging) end({ status: 128 + SIGNALS[sig], code: null, signal: sig, output: '' });
    };

    const terminate = (): void => {
      if (done || signals.length > 0) return;
      kill('SIGTERM');
      if (!done) killTimer = clock.setTimeout(() => kill('SIGKILL'), request.killGraceMs);
    };

    const onAbort = (): void => terminate();

    const run: FakeRun = {
      request,
      pid,
      signals,
      result,
      get done() {
        return done;
      },
      exit: (status, output = '') => end({ status, code: status, signal: null, output }),
      crash: (sig = 'SIGSEGV') => end({ status: 128 + (SIGNALS[sig] ?? 0), code: null, signal: sig, output: '' }),
      hang: () => {
        hanging = true;
      },
    };

    const argv0 = request.argv[0];
    if (argv0 === undefined || this.unstartable.has(argv0)) {
      done = true;
      resolveResult({
        status: 127, code: null, signal: null, timedOut: false, output: '',
        spawnError: `cannot start ${argv0 ?? '(empty argv)'} (cwd ${request.cwd}): ENOENT`,
      });
      return run;
    }
    if (signal.aborted) {
      done = true;
      resolveResult({ status: 143, code: null, signal: 'SIGTERM', timedOut: false, output: '', pid });
      return run;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    this.stoppers.set(run, (graceMs) => {
      if (done) return;
      kill('SIGTERM');
      if (!done) killTimer = clock.setTimeout(() => kill('SIGKILL'), graceMs);
    });
    void result.then(() => this.stoppers.delete(run));
    if (request.timeoutMs > 0 && Number.isFinite(request.timeoutMs)) {
      timeoutTimer = clock.setTimeout(() => {
        timeoutTimer = undefined;
        timedOut = true;
        terminate();
      }, request.timeoutMs);
    }
    return run;
  }
}

function truncate(output: string, maxBytes: number): string {
  if (output.length <= maxBytes) return output;
  return `${output.slice(0, maxBytes)}…[truncated ${output.length - maxBytes} bytes]`;
}
