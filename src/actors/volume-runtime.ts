import path from 'node:path';
import { createActor, fromPromise, type Actor } from 'xstate';
import { stoppedError, WardenError } from '../errors.js';
import { helperEnvironment } from '../adapters/processes.js';
import type { Adapters, VolumeRecord, WatchHandle, WatchEvent } from '../adapters/types.js';
import { confine } from '../manifest/confine.js';
import { loadManifest, vetManifestHelper, type LoadOptions } from '../manifest/load.js';
import { type Manifest } from '../manifest/schema.js';
import { checkStaleness } from '../manifest/staleness.js';
import { classifyChange, planManifestOnly, planWatch, type WatchPlan } from '../manifest/watch-plan.js';
import {
  volumeMachine,
  type ExamineOutcome,
  type LoadOutcome,
  type RebuildOutcome,
  type VolumeDefaults,
  type VolumeEmitted,
} from '../machines/volume.js';
import type { StaleCache, VolumeStatus } from '../protocol/types.js';
import type { EventInput } from '../protocol/events.js';
import type { ActorEnv } from './env.js';
import { LocalLockBackend, type LockBackend } from './lock-runtime.js';
import type { LockClient } from '../machines/lock.js';

/** The daemon's own identity when it holds a lock for a `lockMode: daemon` helper (SPEC §4). */
export const DAEMON_HOLDER_ID = 0;
/** The daemon as a lock holder (SPEC §4: holder name `volwarden`). */
const DAEMON_HOLDER: LockClient = { client: DAEMON_HOLDER_ID, name: 'volwarden', pid: process.pid };

/**
 * A rebuilder of the daemon config (SPEC §13): what to run, for how long, and as whom. With
 * `user`/`group` it runs under them with no new privileges (`setpriv`, see processes.ts).
 */
export interface RebuilderSpec {
  command: string[];
  timeoutSec?: number;
  user?: string;
  group?: string;
}

/** An in-process rebuild (SPEC §12): resolves the exit status. */
export type RebuildFunction = (volume: { id: string; root: string }, stale: StaleCache[], signal: AbortSignal) => Promise<number>;

/** What a volume needs from the warden that owns it. */
export interface VolumeHost {
  env: ActorEnv;
  adapters: Adapters;
  defaults: VolumeDefaults;
  rebuilders: Record<string, RebuilderSpec>;
  rebuild: RebuildFunction | undefined;
  daemonUid: number;
  /** The control socket helpers are told about (VOLWARDEN_SOCKET), once listening. */
  controlSocket(): string | undefined;
  wardenRunning(): boolean;
  rebootHeld(): boolean;
  publish(event: EventInput): void;
  /** Called after any change of this volume's state or lock (reboot waiter re-evaluation). */
  changed(volume: VolumeRuntime): void;
  /** Called once the volume reached `gone`. */
  gone(volume: VolumeRuntime): void;
}

const MAX_HELPER_OUTPUT = 64 * 1024;
/** Status of a run refused by the helper trust check (a shell's "found but cannot execute"). */
const HELPER_UNTRUSTED_STATUS = 126;
const KILL_GRACE_MS = 10_000;
/** SPEC §3: `timeoutSec` when neither the manifest nor its rebuilder names one. */
const DEFAULT_TIMEOUT_SEC = 3600;
/** A watcher that never reports ready must not hold a volume in `loading` forever. */
const WATCH_READY_TIMEOUT_MS = 10_000;

/**
 * One volume wired to the world: the volume actor with its effects provided, its watcher,
 * its lock, and the persisted counters and token.
 */
export class VolumeRuntime {
  readonly actor: Actor<typeof volumeMachine>;
  readonly lock: LocalLockBackend;
  private manifest: Manifest | null = null;
  private manifestMtimeNs = 0n;
  private watchHandle: WatchHandle | null = null;
  private plan: WatchPlan | null = null;
  private pendingPaths: string[] = [];
  /** Sources seen changing since the last rebuild began (equal-mtime ties, see checkStaleness). */
  private changedSinceRebuild = new Set<string>();
  /**
   * Sources that changed while the last rebuild ran: they make their cache stale once more. Not
   * those that started that rebuild themselves, so a helper that writes into its own sources
   * costs at most one extra run, never a loop.
   */
  private changedDuringLastRun = new Set<string>();
  private retriggeredBy = new Set<string>();
  private lastProblems: string[] = [];
  /** Why `installerPidFile` was ignored at its last use (it leaves the root), for `status.error`. */
  private installerProblem: string | null = null;
  private flushQueued = false;
  private readonly helpers = new Set<Promise<unknown>>();
  private persisted: VolumeRecord = { failures: -1, attempts: -1, token: -1 };
  /** Pending while a helper left running (see stopLeftoverHelper) is being stopped; then `null`. */
  private leftover: Promise<void> | null = null;
  private daemonWaiting = false;
  private stopping = false;

  constructor(
    private readonly host: VolumeHost,
    readonly id: string,
    readonly root: string,
  ) {
    const saved = host.adapters.state?.load(id);
    this.persisted = saved ? { ...saved } : { failures: 0, attempts: 0, token: 0 };
    this.lock = new LocalLockBackend(host.env, id, this.persisted.token, {
      granted: (holder, token) => {
        host.publish({ type: 'lock.granted', volume: id, holder, token });
        if (holder.client === DAEMON_HOLDER_ID && this.daemonWaiting) {
          this.daemonWaiting = false;
          // Delivered after the lock finished its own step: the volume may be mid-transition.
          queueMicrotask(() => this.actor.send({ type: 'LOCK_GRANTED', token }));
        }
        host.changed(this);
      },
      released: (holder, status) => {
        host.publish({ type: 'lock.released', volume: id, holder, status });
        // The daemon's own release is accounted from the helper's exit (counted once, SPEC §4).
        if (holder.client !== DAEMON_HOLDER_ID) this.actor.send({ type: 'LOCK_RELEASED', status });
        host.changed(this);
      },
      holderDied: (holder) => {
        host.publish({ type: 'lock.released', volume: id, holder, status: -1 });
        this.actor.send({ type: 'HOLDER_DIED' });
        host.changed(this);
      },
    }, (token) => this.persist({ token }));

    const logic = volumeMachine.provide({
      actors: {
        loadManifest: fromPromise<LoadOutcome, { root: string }>(() => this.load()),
        examine: fromPromise<ExamineOutcome, { root: string }>(() => this.examine()),
        runHelper: fromPromise<RebuildOutcome, { stale: StaleCache[]; attempt: number }>(({ input, signal }) =>
          this.track(this.runHelper(input.stale, signal)),
        ),
        probeInstaller: fromPromise<{ active: boolean }, { root: string }>(async () => ({ active: await this.installerActive() })),
      },
      actions: {
        requestLock: () => this.requestDaemonLock(),
        releaseLock: (_, params) => this.releaseDaemonLock(params.status),
      },
    });
    this.actor = createActor(logic, {
      id: `volume:${id}`,
      input: {
        id,
        root,
        defaults: host.defaults,
        failures: this.persisted.failures,
        attempts: this.persisted.attempts,
        wardenRunning: host.wardenRunning(),
        rebootHeld: host.rebootHeld(),
      },
      clock: host.env.clock,
      inspect: host.env.inspect,
    });
    this.actor.on('*', (event) => host.publish({ ...(event as VolumeEmitted), volume: id } as EventInput));
    let lastValue: unknown;
    this.actor.subscribe({
      next: (snapshot) => {
        const { failures, attempts } = snapshot.context;
        if (failures !== this.persisted.failures || attempts !== this.persisted.attempts) this.persist({ failures, attempts });
        if (snapshot.value !== lastValue) {
          lastValue = snapshot.value;
          host.changed(this);
        }
      },
      complete: () => this.onGone(),
      error: (err) => host.env.log.error({ volume: id, err: String(err) }, 'volume actor failed'),
    });
  }

  start(): void {
    this.host.publish({ type: 'volume.appeared', volume: this.id });
    const helper = this.persisted.helper;
    if (helper !== undefined) this.leftover = this.stopLeftoverHelper(helper).finally(() => (this.leftover = null));
    this.actor.start();
  }

  /** Top-level state name as SPEC §2 names it. */
  state(): string {
    const snapshot = this.actor.getSnapshot();
    // `done` is the final `gone`; a warden that stopped leaves its volumes where they were.
    if (snapshot.status === 'done' || snapshot.status === 'error') return 'gone';
    const value = snapshot.value;
    return typeof value === 'string' ? value : Object.keys(value)[0]!;
  }

  status(): VolumeStatus {
    const { context } = this.actor.getSnapshot();
    const errors = [context.error, ...context.problems, context.degraded].filter((e): e is string => !!e);
    return {
      id: this.id,
      root: this.root,
      state: this.state(),
      lock: this.lock.view(),
      failures: context.failures,
      attempts: context.attempts,
      stale: context.stale ? context.stale.map((s) => ({ ...s })) : null,
      lastRebuild: context.lastRebuild ? { ...context.lastRebuild } : null,
      ...(errors.length > 0 ? { error: errors.join('; ') } : {}),
    };
  }

  /** Checks staleness now without changing state (reboot lock and unmount checks, SPEC §6–§7). */
  async staleNow(): Promise<StaleCache[]> {
    if (!this.manifest) return [];
    const report = await checkStaleness(this.host.adapters.fs, this.root, this.manifest, this.manifestMtimeNs, new Set(), this.changedDuringLastRun);
    return report.stale;
  }

  /**
   * The warden stops (SPEC §13): the actor, the watcher and running helpers (SIGTERM, SIGKILL
   * after 10 s; an in-process rebuild is abandoned after 10 s). The volume is not gone: no
   * `volume.gone`, and waiters hear that the warden stopped.
   */
  async shutdown(): Promise<void> {
    this.stopping = true;
    this.actor.stop();
    this.lock.gone(stoppedError());
    await this.closeWatch();
    await Promise.allSettled([...this.helpers]);
  }

  private onGone(): void {
    void this.closeWatch();
    if (this.stopping) return;
    this.lock.gone();
    this.host.publish({ type: 'volume.gone', volume: this.id });
    this.host.gone(this);
  }

  private persist(patch: Partial<VolumeRecord>): void {
    this.persisted = { ...this.persisted, ...patch };
    try {
      this.host.adapters.state?.save(this.id, this.persisted);
    } catch (err) {
      this.host.env.log.error({ volume: this.id, err: String(err) }, 'could not write the state directory');
    }
  }

  /**
   * A daemon killed mid-rebuild leaves its helper running (it leads its own process group), and
   * so does a volume that went and came back while its helper ignored SIGTERM. That helper must
   * end before this volume rebuilds or anyone else holds its lock, or two writers would share its
   * caches: the daemon holds the lock (as `volwarden`) while it stops it, so clients queue or hear
   * EBUSY as behind any holder, and the first load waits. Recorded at spawn in the state
   * directory; the pid must still be that process (its start time), not a later one.
   */
  private async stopLeftoverHelper(helper: NonNullable<VolumeRecord['helper']>): Promise<void> {
    const { processes } = this.host.adapters;
    if (processes.identity(helper.pid) === helper.identity) {
      this.host.env.log.warn({ volume: this.id, pid: helper.pid }, 'a helper left running still runs: stopping it first');
      const held = this.lock.request(DAEMON_HOLDER, { wait: true }).then(() => true, () => false);
      await processes.stopGroup(helper.pid, KILL_GRACE_MS);
      if (await held) this.releaseDaemonLock(0);
    }
    this.persist({ helper: undefined });
  }

  private async load(): Promise<LoadOutcome> {
    await this.leftover;
    const result = await loadManifest(this.host.adapters.fs, this.root, this.loadOptions());
    if (result.kind === 'ok') {
      this.manifest = result.manifest;
      this.manifestMtimeNs = result.mtimeNs;
      await this.rewatch(planWatch(this.root, result.manifest));
      const { lockMode, settleMs, maxFailures, maxAttempts } = result.manifest;
      return { kind: 'ok', manifest: { lockMode, settleMs, maxFailures, maxAttempts } };
    }
    this.manifest = null;
    if (result.kind === 'invalid') await this.rewatch(planManifestOnly(this.root));
    return result;
  }

  private loadOptions(): LoadOptions {
    const { rebuilders } = this.host;
    return {
      daemonUid: this.host.daemonUid,
      rebuilders: new Set(Object.keys(rebuilders)),
      inProcessRebuild: this.host.rebuild !== undefined,
      rebuilderCommands: new Map(Object.entries(rebuilders).map(([name, spec]) => [name, spec.command])),
    };
  }

  private async examine(): Promise<ExamineOutcome> {
    if (await this.installerActive()) return { installerActive: true, stale: [], problems: [] };
    if (!this.manifest) return { installerActive: false, stale: [], problems: [] };
    const report = await checkStaleness(
      this.host.adapters.fs, this.root, this.manifest, this.manifestMtimeNs, this.changedSinceRebuild, this.changedDuringLastRun,
    );
    this.retriggeredBy = new Set(report.retriggeredBy);
    // Caches decided from a changed file alone were not walked: keep their last known problems.
    const walked = report.shortcut.length > 0 ? [...new Set([...report.problems, ...this.lastProblems])] : report.problems;
    this.lastProblems = walked;
    const problems = this.installerProblem === null ? walked : [...walked, this.installerProblem];
    return { installerActive: false, stale: report.stale, problems };
  }

  /** SPEC §3: the installer pid file holds the pid of a live process (read only inside the root). */
  private async installerActive(): Promise<boolean> {
    const rel = this.manifest?.installerPidFile;
    if (!rel) return false;
    const confined = await confine(this.host.adapters.fs, this.root, rel, 'installerPidFile');
    if (!confined.ok) {
      this.installerProblem = confined.reason;
      return false;
    }
    this.installerProblem = null;
    const read = await this.host.adapters.fs.readFile(confined.real, 64);
    if (!read.ok) return false;
    const pid = Number.parseInt(read.data.toString('utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 && this.host.adapters.processes.isAlive(pid);
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.helpers.add(promise);
    void promise.finally(() => this.helpers.delete(promise));
    return promise;
  }

  /** One rebuild, with the bookkeeping of what changed while it ran. */
  private async runHelper(stale: StaleCache[], signal: AbortSignal): Promise<RebuildOutcome> {
    this.changedSinceRebuild = new Set();
    const startedBy = this.retriggeredBy;
    this.changedDuringLastRun = new Set();
    try {
      return await this.runOnce(stale, signal);
    } finally {
      // changedSinceRebuild was emptied as this run began: what it holds changed while it ran.
      for (const rel of this.changedSinceRebuild) if (!startedBy.has(rel)) this.changedDuringLastRun.add(rel);
    }
  }

  /** Runs the in-process rebuild or the helper process once; never rejects. */
  private async runOnce(stale: StaleCache[], signal: AbortSignal): Promise<RebuildOutcome> {
    const { clock, log } = this.host.env;
    const startedAt = clock.now();
    const manifest = this.manifest;
    let status: number;
    let failed = false;
    if (this.host.rebuild) {
      ({ status, timedOut: failed } = await this.runInProcess(this.host.rebuild, stale, signal));
    } else if (!manifest) {
      status = 127;
      failed = true;
    } else {
      const named = manifest.rebuilder ? this.host.rebuilders[manifest.rebuilder] : undefined;
      const argv = manifest.command ?? named?.command ?? [];
      const timeoutSec = manifest.timeoutSec ?? named?.timeoutSec ?? DEFAULT_TIMEOUT_SEC;
      const socket = this.host.controlSocket();
      // Vetted again at every run: the helper or a directory to it may have been opened up since the load.
      const untrusted = await vetManifestHelper(this.host.adapters.fs, this.root, manifest, this.loadOptions());
      if (untrusted !== null) return this.refuseHelper(untrusted, startedAt);
      const runAs = named?.user !== undefined || named?.group !== undefined ? { user: named.user, group: named.group } : undefined;
      const exit = await this.host.adapters.processes.run(
        {
          argv,
          ...(runAs ? { runAs } : {}),
          cwd: this.root,
          env: helperEnvironment({ volumeId: this.id, root: this.root, stale: stale.map((s) => s.name), ...(socket ? { socket } : {}) }),
          timeoutMs: timeoutSec * 1000,
          killGraceMs: KILL_GRACE_MS,
          maxOutputBytes: MAX_HELPER_OUTPUT,
          onStarted: (pid) => {
            const identity = this.host.adapters.processes.identity(pid);
            if (identity !== null) this.persist({ helper: { pid, identity } });
          },
        },
        signal,
      );
      status = exit.status;
      failed = exit.spawnError !== undefined || exit.timedOut;
      log.info(
        { volume: this.id, status, timedOut: exit.timedOut, signal: exit.signal, spawnError: exit.spawnError, output: exit.output },
        'helper exited',
      );
    }
    return { status, startedAt, finishedAt: clock.now(), failed };
  }

  /**
   * A helper that failed its trust check at run time is not started: the run counts as one that
   * could not start (126, as a shell's "cannot execute"), and the manifest is reloaded, so the
   * volume turns `invalid` with the reason once this run ends.
   */
  private refuseHelper(reason: string, startedAt: number): RebuildOutcome {
    this.host.env.log.error({ volume: this.id, reason }, 'helper not started: untrusted');
    this.actor.send({ type: 'MANIFEST_CHANGED' });
    return { status: HELPER_UNTRUSTED_STATUS, startedAt, finishedAt: this.host.env.clock.now(), failed: true };
  }

  /**
   * The in-process `rebuild` (SPEC §12) under the same rules as a helper process: its signal is
   * aborted at `timeoutSec` (status 124, a failure) or when the volume stops, and one that ignores
   * the abort is abandoned 10 s later, so neither a rebuild nor `stop()` can hang for ever.
   */
  private async runInProcess(rebuild: RebuildFunction, stale: StaleCache[], outer: AbortSignal): Promise<{ status: number; timedOut: boolean }> {
    const { clock, log } = this.host.env;
    const controller = new AbortController();
    let timedOut = false;
    let abandon!: () => void;
    const abandoned = new Promise<number>((resolve) => (abandon = () => resolve(124)));
    let graceTimer: unknown;
    const stopIt = (reason: unknown) => {
      if (controller.signal.aborted) return;
      controller.abort(reason);
      graceTimer = clock.setTimeout(abandon, KILL_GRACE_MS);
    };
    const timeoutMs = (this.manifest?.timeoutSec ?? DEFAULT_TIMEOUT_SEC) * 1000;
    const timer = clock.setTimeout(() => {
      timedOut = true;
      stopIt(new WardenError('ETIMEDOUT', `the rebuild ran longer than ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const onOuterAbort = () => stopIt(outer.reason);
    if (outer.aborted) onOuterAbort();
    else outer.addEventListener('abort', onOuterAbort, { once: true });
    try {
      const run = Promise.resolve()
        .then(() => rebuild({ id: this.id, root: this.root }, stale, controller.signal))
        .then(
          (status) => {
            if (Number.isSafeInteger(status)) return status;
            log.warn({ volume: this.id, status: String(status) }, 'in-process rebuild resolved a non-integer: counted as status 1');
            return 1;
          },
          (err: unknown) => {
            log.warn({ volume: this.id, err: String(err) }, 'in-process rebuild threw');
            return 1;
          },
        );
      const status = await Promise.race([run, abandoned]);
      return { status: timedOut ? 124 : status, timedOut };
    } finally {
      clock.clearTimeout(timer);
      if (graceTimer !== undefined) clock.clearTimeout(graceTimer);
      outer.removeEventListener('abort', onOuterAbort);
    }
  }

  private requestDaemonLock(): void {
    this.daemonWaiting = true;
    // xstate delivers emitted events after the transition's own actions: queue after them so
    // subscribers see rebuild.started before lock.granted (SPEC §8 order).
    queueMicrotask(() => {
      if (this.actor.getSnapshot().status !== 'active') return;
      this.lock.request(DAEMON_HOLDER, { wait: true }).catch((err) => {
        // Only the volume going away can refuse the daemon's own request.
        this.host.env.log.debug({ volume: this.id, err: String(err) }, 'daemon lock request ended');
      });
    });
  }

  private releaseDaemonLock(status: number): void {
    if (this.lock.holder()?.client !== DAEMON_HOLDER_ID) return;
    this.lock.unlock(DAEMON_HOLDER_ID, status);
  }

  /**
   * Watches with the new plan, and only once it is ready closes the old one: a change made
   * while a load or check runs is seen by one watcher or the other, never lost.
   */
  private async rewatch(plan: WatchPlan): Promise<void> {
    const previous = this.watchHandle;
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    const handle = this.host.adapters.fs.watch(plan.spec, (event) => {
      if (event.type === 'ready' || event.type === 'error') ready();
      this.onWatchEvent(plan, event);
    });
    this.watchHandle = handle;
    this.plan = plan;
    const { clock } = this.host.env;
    const timer = clock.setTimeout(ready, WATCH_READY_TIMEOUT_MS);
    await isReady;
    clock.clearTimeout(timer);
    await previous?.close();
  }

  private async closeWatch(): Promise<void> {
    const handle = this.watchHandle;
    this.watchHandle = null;
    this.plan = null;
    await handle?.close();
  }

  private onWatchEvent(plan: WatchPlan, event: WatchEvent): void {
    if (this.actor.getSnapshot().status !== 'active') return;
    // A watcher being replaced reports until its successor is ready (rewatch): what it sees is
    // read with the current plan, so nothing changed in that window is lost.
    const current = this.plan;
    if (plan !== current) {
      if (event.type !== 'changed' || current === null) return;
      plan = current;
    }
    switch (event.type) {
      case 'changed': {
        const change = classifyChange(plan, event.path);
        if (change.kind === 'manifest') this.actor.send({ type: 'MANIFEST_CHANGED' });
        else if (change.kind === 'installer') this.actor.send({ type: 'INSTALLER_CHANGED' });
        else if (change.kind === 'source') this.queuePath(change.rel);
        return;
      }
      case 'rootRemoved':
        this.actor.send({ type: 'ROOT_REMOVED' });
        return;
      case 'degraded':
        this.host.env.log.warn({ volume: this.id, reason: event.reason }, 'watching degraded');
        this.actor.send({ type: 'WATCH_DEGRADED', reason: event.reason });
        return;
      case 'error':
        this.host.env.log.warn({ volume: this.id, message: event.message }, 'watch error');
        return;
      case 'ready':
        return;
    }
  }

  /** Paths changed in one burst go out as one FS_CHANGED (one `volume.changed`). */
  private queuePath(rel: string): void {
    this.pendingPaths.push(rel);
    if (this.changedSinceRebuild.size < 10_000) this.changedSinceRebuild.add(rel);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      const paths = [...new Set(this.pendingPaths)];
      this.pendingPaths = [];
      if (this.actor.getSnapshot().status === 'active') this.actor.send({ type: 'FS_CHANGED', paths });
    });
  }
}

export type { LockBackend };
