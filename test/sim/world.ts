/**
 * The simulated world: one warden with every adapter replaced by its in-memory twin (file tree,
 * clock, helpers, mounts, state store, sockets), and the clients, helpers and disasters a
 * schedule drives. Everything runs on the simulated clock and microtasks, so a schedule replays
 * exactly. The invariants (./invariants.ts) watch it through the warden's inspection stream,
 * its event bus, the fake helpers and what each client is told.
 */
import { createWarden, type WardenHandle } from '../../src/actors/library.js';
import type { Listen } from '../../src/actors/socket-router.js';
import type { Logger } from '../../src/actors/env.js';
import { simulatedClock, type ManualClock } from '../../src/adapters/clock.js';
import type { MemoryFs } from '../../src/adapters/fs.memory.js';
import { MemoryMountTable } from '../../src/adapters/mount-table.memory.js';
import { FakeProcesses, type FakeRun } from '../../src/adapters/processes.memory.js';
import { MemorySocketServer } from '../../src/adapters/socket-server.memory.js';
import { MemoryStateStore } from '../../src/adapters/state-store.memory.js';
import type { InspectionEvent } from 'xstate';
import { Invariants } from './invariants.js';
import { SimClient } from './sim-client.js';
import {
  CACHES,
  GuardedFs,
  INSTALLER_PID,
  LIVELOCK_BUDGET,
  SIM_DEFAULTS,
  SIM_LIMITS,
  UID,
  flush,
  isWatched,
  manifestText,
  rootOf,
  volumeIdOf,
} from './fixtures.js';
import { SLOTS, VOLUMES, type HelperOutcome, type ManifestVariant, type Step } from './schedule.js';

/** Options of one simulated world. */
export interface WorldOptions {
  /** Also hand every inspection event to this observer (an InspectionHub's, for traces). */
  inspect?: (event: InspectionEvent) => void;
}

/** One simulation run's world. */
export class World {
  readonly clock: ManualClock = simulatedClock(1_000_000);
  readonly fs: MemoryFs = new GuardedFs(() => this.spin());
  readonly mounts = new MemoryMountTable();
  readonly state = new MemoryStateStore();
  readonly processes: FakeProcesses;
  readonly invariants: Invariants;
  readonly clients: Array<SimClient | null> = Array.from({ length: SLOTS }, () => null);
  warden!: WardenHandle;
  sockets!: MemorySocketServer;
  stepIndex = -1;
  /** Schedule steps executed (the drain at the end is not counted). */
  steps = 0;
  restarts = 0;
  /** Between the start and the end of `warden.stop()`. */
  stopping = false;
  private order = 0;
  private spinAt = -1;
  private spins = 0;
  private readonly rootPresent: boolean[] = [];
  /** The source files that exist (only this world touches the tree). */
  private readonly files = new Set<string>();
  private readonly inspect: ((event: InspectionEvent) => void) | undefined;

  constructor(options: WorldOptions = {}) {
    this.inspect = options.inspect;
    this.invariants = new Invariants(this);
    const schedule = this.clock.setTimeout.bind(this.clock);
    this.clock.setTimeout = (fn: (...args: any[]) => void, ms: number) => {
      if (this.spin()) throw new Error('sim livelock guard');
      return schedule(fn, ms);
    };
    this.processes = new FakeProcesses({ clock: this.clock, onRun: (run) => this.invariants.onRun(run) });
    this.processes.failToStart('./missing-helper');
    for (let vol = 0; vol < VOLUMES; vol++) this.createVolumeTree(vol, 'daemon');
  }

  /** Starts the first warden. */
  async boot(): Promise<void> {
    await this.startWarden();
  }

  /** Runs one schedule step, lets the warden react, then checks every invariant. */
  async apply(step: Step): Promise<void> {
    this.stepIndex += 1;
    this.steps += 1;
    await this.perform(step);
    await flush();
    this.invariants.afterStep(step);
  }

  /**
   * Brings the world to rest: installers end, every helper succeeds, every holder unlocks, the
   * reboot lock is released and time passes, until nothing is left to do. Then the invariants
   * that need quiescence (every waiter answered, no change lost) are checked.
   */
  async drain(): Promise<void> {
    this.stepIndex += 1;
    this.processes.alive.clear();
    for (let round = 0; round < 40; round++) {
      for (const run of [...this.processes.running]) this.finishHelper(run, 'ok');
      await flush();
      for (const client of this.liveClients()) {
        if (client.rebootHeld) client.send('unlock_reboot', {});
        for (const [volume, token] of client.holds) client.send('unlock_volume', { volume, status: 0, token }, { heldAtSend: token, tokenSent: token });
      }
      await flush();
      await this.advance(2 * SIM_DEFAULTS.settleMs + 1000);
      this.invariants.afterStep({ kind: 'advance', ms: 0 });
      const busy = this.processes.running.length > 0 ||
        this.liveClients().some((c) => c.holds.size > 0 || c.rebootHeld || c.unanswered().length > 0);
      if (!busy && round > 2) break;
    }
    this.invariants.atQuiescence();
  }

  /** Stops the warden, advancing time so helpers that ignore SIGTERM get their SIGKILL. */
  async shutdown(): Promise<void> {
    await this.stopWarden();
  }

  liveClients(): SimClient[] {
    return this.clients.filter((c): c is SimClient => c !== null && c.alive);
  }

  /** Moves the clock to each timer's deadline in turn, letting the warden react in between. */
  async advance(ms: number): Promise<void> {
    const target = this.clock.now() + ms;
    for (let i = 0; ; i++) {
      const due = this.nextDeadline(target);
      if (due === undefined || this.invariants.violations.length > 0) break;
      if (i > 10_000) {
        this.invariants.fail(`more than 10000 timers fired within ${ms} ms`);
        break;
      }
      this.clock.set(Math.max(due, this.clock.now()));
      await flush();
    }
    this.clock.set(target);
    await flush();
  }

  /** Counts one unit of work at the current instant; true once the livelock budget is spent. */
  private spin(): boolean {
    const now = this.clock.now();
    if (now !== this.spinAt) {
      this.spinAt = now;
      this.spins = 0;
    }
    if (++this.spins === LIVELOCK_BUDGET) {
      this.invariants.fail(`livelock: the warden did ${LIVELOCK_BUDGET} timer/file operations at one instant without time passing`);
    }
    return this.spins >= LIVELOCK_BUDGET;
  }

  nextOrder(): number {
    return ++this.order;
  }

  private nextDeadline(target: number): number | undefined {
    const timers = (this.clock as unknown as { timeouts?: Map<unknown, { start: number; timeout: number }> }).timeouts;
    let next: number | undefined;
    for (const timer of timers?.values() ?? []) {
      const due = timer.start + timer.timeout;
      if (due <= target && (next === undefined || due < next)) next = due;
    }
    return next;
  }

  private async perform(step: Step): Promise<void> {
    switch (step.kind) {
      case 'write': {
        if (!this.hasManifestDir(step.vol)) return;
        if (isWatched(step.vol, step.file)) this.invariants.sourceChanged(volumeIdOf(step.vol));
        this.files.add(`${rootOf(step.vol)}/${step.file}`);
        await this.fs.writeFile(`${rootOf(step.vol)}/${step.file}`, `step ${this.stepIndex}`);
        return;
      }
      case 'removeSource':
        // Removing a file that is not there changes nothing, so nothing needs checking.
        if (!this.files.delete(`${rootOf(step.vol)}/${step.file}`)) return;
        if (isWatched(step.vol, step.file)) this.invariants.sourceChanged(volumeIdOf(step.vol));
        this.fs.remove(`${rootOf(step.vol)}/${step.file}`);
        return;
      case 'writeOutput':
        if (!this.hasManifestDir(step.vol)) return;
        this.invariants.outputWritten(volumeIdOf(step.vol));
        await this.fs.writeFile(`${rootOf(step.vol)}/cache/out.txt`, `stray ${this.stepIndex}`);
        return;
      case 'manifest':
        if (!this.hasManifestDir(step.vol)) return;
        this.invariants.sourceChanged(volumeIdOf(step.vol));
        await this.fs.writeFile(`${rootOf(step.vol)}/.volwarden.json`, manifestText(step.vol, step.variant), { uid: UID, mode: 0o644 });
        return;
      case 'helper': {
        const running = this.processes.running;
        if (running.length === 0) return;
        this.finishHelper(running[step.pick % running.length]!, step.outcome);
        return;
      }
      case 'installer':
        if (step.alive) {
          this.processes.alive.add(INSTALLER_PID);
          if (this.hasManifestDir(step.vol)) await this.fs.writeFile(`${rootOf(step.vol)}/run/installer.pid`, `${INSTALLER_PID}\n`);
        } else {
          this.processes.alive.delete(INSTALLER_PID);
        }
        return;
      case 'lock': {
        const client = this.client(step.slot);
        const volume = volumeIdOf(step.vol);
        client.send(
          'lock_volume',
          { volume, wait: step.wait, ...(step.timeoutMs !== undefined ? { timeoutMs: step.timeoutMs } : {}) },
          { deferrable: step.wait, rebootHeldAtSend: this.warden.status().reboot.state === 'held' },
        );
        return;
      }
      case 'unlock': {
        const client = this.client(step.slot);
        const volume = volumeIdOf(step.vol);
        const held = client.holds.get(volume);
        const token = step.token === 'none' ? undefined : step.token === 'right' ? (held ?? 1) : (held ?? 1) - 1;
        client.send(
          'unlock_volume',
          { volume, status: step.status, ...(token !== undefined ? { token } : {}) },
          { ...(held !== undefined ? { heldAtSend: held } : {}), ...(token !== undefined ? { tokenSent: token } : {}) },
        );
        return;
      }
      case 'cancel':
        this.client(step.slot).send('lock_cancel', { volume: volumeIdOf(step.vol) });
        return;
      case 'die':
        this.clients[step.slot]?.die();
        return;
      case 'subscribe':
        this.client(step.slot).send('subscribe', { volume: step.vol === '*' ? '*' : volumeIdOf(step.vol) }, { mode: step.mode });
        return;
      case 'ack':
        this.clients[step.slot]?.ackAll();
        return;
      case 'rebootLock':
        this.client(step.slot).send('lock_reboot', { wait: step.wait }, { deferrable: step.wait });
        return;
      case 'rebootUnlock':
        this.client(step.slot).send('unlock_reboot', {});
        return;
      case 'routine':
        this.client(step.slot).send(step.routine, { volume: volumeIdOf(step.vol) });
        return;
      case 'removeRoot':
        if (!this.hasManifestDir(step.vol)) return;
        this.rootPresent[step.vol] = false;
        for (const file of [...this.files]) if (file.startsWith(`${rootOf(step.vol)}/`)) this.files.delete(file);
        this.fs.remove(rootOf(step.vol));
        return;
      case 'addRoot':
        if (this.hasManifestDir(step.vol)) return;
        this.invariants.sourceChanged(volumeIdOf(step.vol));
        this.createVolumeTree(step.vol, 'daemon');
        return;
      case 'advance':
        await this.advance(step.ms);
        return;
      case 'restart':
        await this.stopWarden();
        await this.startWarden();
        return;
    }
  }

  /** The slot's live client, connecting a new one if it has none (or it died). */
  private client(slot: number): SimClient {
    const existing = this.clients[slot];
    if (existing?.alive && !existing.closed) return existing;
    existing?.markDead();
    const client = new SimClient(slot, this.sockets.connect('control'), {
      now: () => this.clock.now(),
      step: () => this.stepIndex,
      nextOrder: () => this.nextOrder(),
      ackTimeoutMs: SIM_LIMITS.ackTimeoutMs,
      fail: (message) => this.invariants.fail(message),
      granted: (c, request) => this.invariants.granted(c, request),
    });
    this.clients[slot] = client;
    return client;
  }

  /** A helper ends; a successful one first writes every cache output (newer than its sources). */
  private finishHelper(run: FakeRun, outcome: HelperOutcome): void {
    if (outcome === 'ok') {
      const vol = Number(run.request.cwd.slice('/v'.length));
      if (this.hasManifestDir(vol)) {
        for (const cache of CACHES[vol]!) void this.fs.writeFile(`${run.request.cwd}/${cache.output}`, `built at ${this.stepIndex}`);
      }
    }
    switch (outcome) {
      case 'ok':
      case 'okNoOutput':
        run.exit(0);
        return;
      case 'fail':
        run.exit(1, 'build failed');
        return;
      case 'crash':
        run.crash('SIGSEGV');
        return;
      case 'hang':
        run.hang();
        return;
    }
  }

  /** Whether the volume's root exists (only this world touches the tree, so it keeps count). */
  private hasManifestDir(vol: number): boolean {
    return this.rootPresent[vol]!;
  }

  private createVolumeTree(vol: number, variant: ManifestVariant): void {
    const root = rootOf(vol);
    this.rootPresent[vol] = true;
    for (const file of ['src/a.txt', 'src/b.txt', 'docs/c.md', 'etc/extra.conf']) this.files.add(`${root}/${file}`);
    void this.fs.writeFile(`${root}/src/a.txt`, 'alpha');
    void this.fs.writeFile(`${root}/src/b.txt`, 'beta');
    void this.fs.writeFile(`${root}/docs/c.md`, '# c');
    void this.fs.writeFile(`${root}/etc/extra.conf`, 'x=1');
    void this.fs.writeFile(`${root}/.volwarden.json`, manifestText(vol, variant), { uid: UID, mode: 0o644 });
  }

  private async startWarden(): Promise<void> {
    this.sockets = new MemorySocketServer();
    const sockets = this.sockets;
    const listen: Listen = (options, handlers) =>
      sockets.listen({ rights: options.rights, allocateId: options.allocateId, path: options.path, ...(options.onError ? { onError: options.onError } : {}) }, handlers);
    const invariants = this.invariants;
    const extra = this.inspect;
    this.warden = createWarden(
      {
        roots: Array.from({ length: VOLUMES }, (_, vol) => rootOf(vol)),
        ...SIM_DEFAULTS,
        daemonUid: UID,
        limits: SIM_LIMITS,
        adapters: { fs: this.fs, clock: this.clock, processes: this.processes, mounts: this.mounts, state: this.state },
        inspect: (event) => {
          invariants.onInspect(event);
          extra?.(event);
        },
        logger: this.logger(),
      },
      listen,
    );
    this.invariants.wardenStarted();
    this.warden.events$.subscribe((event) => invariants.onWardenEvent(event));
    await this.warden.start();
    await this.warden.listen({ socket: '/run/volwarden/control.sock', statusSocket: '/run/volwarden/status.sock' });
    await flush();
  }

  private async stopWarden(): Promise<void> {
    let stopped = false;
    this.stopping = true;
    const stopping = this.warden.stop().then(() => (stopped = true));
    for (let i = 0; i < 30 && !stopped; i++) {
      await flush();
      if (!stopped) await this.advance(1000);
    }
    if (!stopped) this.invariants.fail('the warden did not stop within 30 s of simulated time');
    await Promise.race([stopping, flush()]);
    this.stopping = false;
    for (const client of this.clients) client?.markDead();
    this.restarts += 1;
  }

  /** Errors the daemon logs that only a bug can cause become violations. */
  private logger(): Logger {
    const invariants = this.invariants;
    const bug = (level: string, obj: object, msg?: string) => {
      if (msg === 'request failed' || msg === 'volume actor failed' || msg === 'event subscriber failed' || msg === 'socket error') {
        invariants.fail(`daemon logged ${level} "${msg}": ${JSON.stringify(obj)}`);
      }
    };
    return {
      info() {},
      debug() {},
      warn: (obj, msg) => bug('warn', obj, msg),
      error: (obj, msg) => bug('error', obj, msg),
    };
  }
}
