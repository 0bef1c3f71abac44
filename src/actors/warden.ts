import path from 'node:path';
import type { Observable } from 'rxjs';
import { createActor, type Actor, type InspectionEvent, type Observer } from 'xstate';
import type { EtcdConfigInput } from '../cluster/etcd-options.js';
import { stoppedError, WardenError } from '../errors.js';
import { wardenMachine } from '../machines/warden.js';
import { MANIFEST_FILE } from '../manifest/schema.js';
import type { EventInput, WardenEvent } from '../protocol/events.js';
import type { HolderView, StatusResult, VolumeStatus } from '../protocol/types.js';
import { volumeIdFor, normalizeRoot } from '../adapters/volume-id.js';
import type { Adapters, MountEntry, WatchHandle } from '../adapters/types.js';
import { isNetworkOrPseudoFs } from '../adapters/mount-table.js';
import { VERSION } from '../version.js';
import { ClientRegistry } from './clients.js';
import { combineInspectors, DEFAULT_LIMITS, silentLogger, type ActorEnv, type Limits, type Logger } from './env.js';
import { EventBus } from './event-bus.js';
import { RebootRuntime } from './reboot-runtime.js';
import { SubscriberHub } from './subscriber-hub.js';
import { VolumeRuntime, type RebuildFunction, type RebuilderSpec } from './volume-runtime.js';
import type { VolumeDefaults } from '../machines/volume.js';

/** Node timers fire at once past this (TimeoutOverflowWarning), so longer waits are refused. */
const MAX_TIMER_MS = 2_147_483_647;

/** Options of {@link createWarden} (SPEC §12, §13). */
export interface WardenOptions {
  /** Volume roots to watch (absolute, or relative to the current directory). */
  roots?: string[];
  discoverMounts?: boolean;
  settleMs?: number;
  startupDelayMs?: number;
  maxFailures?: number;
  maxAttempts?: number;
  /** Named rebuild helpers a manifest's `rebuilder` may refer to. */
  rebuilders?: Record<string, RebuilderSpec>;
  /** Replaces every volume's `command`/`rebuilder`: resolves the exit status. */
  rebuild?: RebuildFunction;
  /** Real adapters by default; pass in-memory twins for tests and simulations. */
  adapters?: Partial<Adapters>;
  /** Persist counters and tokens in this directory (ignored when `adapters.state` is given). */
  stateDir?: string;
  /** Any xstate v5 inspection observer (e.g. `@statelyai/inspect`'s `inspector.inspect`). */
  inspect?: ((event: InspectionEvent) => void) | Observer<InspectionEvent>;
  limits?: Partial<Limits>;
  logger?: Logger;
  /** The uid a manifest with an inline `command` must be owned by (default: ours). */
  daemonUid?: number;
  /** Cluster locks (SPEC §15.4): the etcd cluster shared by every host's daemon; validated by `createWarden`. */
  etcd?: EtcdConfigInput;
}

/** What {@link Warden.reconfigure} takes: the parts of a config a running warden can follow. */
export interface Reconfiguration {
  roots: string[];
  discoverMounts?: boolean;
  settleMs?: number;
  maxFailures?: number;
  maxAttempts?: number;
  rebuilders?: Record<string, RebuilderSpec>;
  limits?: Partial<Limits>;
}

/** A client identity inside the warden: a socket connection or an in-process caller. */
export interface ClientRef {
  id: number;
  rights: 'control' | 'status';
}

/**
 * One warden: every volume, lock, waiter, client and subscriber of one daemon or embedding,
 * each an xstate actor. Nothing is module-level, so several wardens can share a process.
 */
export class Warden {
  readonly env: ActorEnv;
  readonly adapters: Adapters;
  readonly clients: ClientRegistry;
  readonly hub: SubscriberHub;
  readonly events$: Observable<WardenEvent>;
  private readonly bus: EventBus;
  private readonly actor: Actor<typeof wardenMachine>;
  private readonly reboot: RebootRuntime;
  private readonly volumes = new Map<string, VolumeRuntime>();
  /** Roots without a manifest yet, watched for one: configured roots and usable mounts. */
  private readonly manifestWatches = new Map<string, WatchHandle>();
  private roots: string[];
  /** Volumes found by mount discovery, by mount point (SPEC §13 discoverMounts). */
  private readonly discovered = new Set<string>();
  private mountWatch: WatchHandle | null = null;
  private controlSocketPath: string | undefined;
  private startedAt = 0;
  private started = false;
  /** Settles once start() has loaded every volume: a reboot examination needs them all. */
  private startup: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private mountsCache: MountEntry[] = [];
  /** What SIGHUP may change under running volumes (SPEC §13): read at each load and rebuild. */
  private rebuilders: Record<string, RebuilderSpec>;
  private volumeDefaults: VolumeDefaults;
  private discoverMounts: boolean;
  /** In-process lease holders to tell when their lock is lost (volume gone, warden stopped). */
  private readonly lostListeners = new Map<number, (reason: WardenError) => void>();

  constructor(readonly options: WardenOptions, adapters: Adapters) {
    this.adapters = adapters;
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    const log = options.logger ?? silentLogger;
    this.env = { clock: adapters.clock, inspect: combineInspectors(options.inspect), limits, log };
    this.roots = (options.roots ?? []).map((r) => normalizeRoot(path.resolve(r)));
    this.rebuilders = options.rebuilders ?? {};
    this.volumeDefaults = volumeDefaults(options);
    this.discoverMounts = options.discoverMounts ?? false;
    this.bus = new EventBus({ clock: adapters.clock, onSinkError: (err) => log.error({ err: String(err) }, 'event subscriber failed') });
    this.events$ = this.bus.events$;
    this.hub = new SubscriberHub({
      clock: adapters.clock,
      ackTimeoutMs: limits.ackTimeoutMs,
      maxSubscribers: limits.maxSubscribers,
      maxQueuedEvents: limits.maxQueuedEvents,
      maxFrameBytes: limits.maxFrameBytes,
      ...(this.env.inspect ? { inspect: this.env.inspect } : {}),
      onSendError: (err, client) => log.warn({ client, err: String(err) }, 'notification could not be sent'),
    });
    this.bus.addSink((event) => this.hub.publish(event));
    this.actor = createActor(wardenMachine, {
      id: 'warden',
      input: { startupDelayMs: options.startupDelayMs ?? 0 },
      clock: adapters.clock,
      inspect: this.env.inspect,
    });
    this.clients = new ClientRegistry(this.env, (id) => this.clientDied(id));
    this.reboot = new RebootRuntime(this.env, {
      examine: () => this.examineForReboot(),
      busyNow: () => {
        for (const volume of this.volumes.values()) if (busyWithoutLooking(volume)) return volume.id;
        return null;
      },
      heldChanged: (held, holder) => {
        if (held) this.publish({ type: 'reboot.locked', volume: '*', holder });
        for (const volume of this.volumes.values()) volume.actor.send({ type: 'REBOOT_LOCK_CHANGED', held });
      },
    });
    let wasRunning = false;
    this.actor.subscribe((snapshot) => {
      if (snapshot.value === 'running' && !wasRunning) {
        wasRunning = true;
        for (const volume of this.volumes.values()) volume.actor.send({ type: 'WARDEN_RUNNING' });
      }
    });
  }

  /** Starts watching every root; resolves once every volume has loaded its manifest. */
  start(): Promise<void> {
    if (this.stopping) return Promise.reject(stoppedError());
    this.startup ??= this.doStart();
    return this.startup;
  }

  /** Operations on a warden that is stopping or stopped answer ECONNRESET, as a closed socket would. */
  private assertServing(): void {
    if (this.stopping) throw stoppedError();
  }

  private async doStart(): Promise<void> {
    this.started = true;
    this.startedAt = this.adapters.clock.now();
    this.actor.start();
    this.mountsCache = await this.adapters.mounts.list().catch(() => []);
    for (const root of this.roots) await this.addRoot(root);
    if (this.discoverMounts) await this.startDiscovery();
    await Promise.all([...this.volumes.values()].map((v) => this.loaded(v)));
    // stop() may have come while volumes loaded: it owns the warden from here.
    if (this.stopping) return;
    this.actor.send({ type: 'ADAPTERS_READY' });
  }

  /** The warden's state as SPEC §2 names it. */
  state(): string {
    return String(this.actor.getSnapshot().value);
  }

  /** The `status` routine's result (SPEC §10). */
  status(volume?: string): StatusResult {
    const volumes: VolumeStatus[] = volume === undefined
      ? [...this.volumes.values()].map((v) => v.status())
      : [this.volume(volume).status()];
    return {
      daemon: { state: this.state(), version: VERSION, pid: process.pid, startedAt: this.startedAt },
      volumes,
      reboot: this.reboot.view(),
    };
  }

  /** Finds a volume by id or absolute root; ENOENT otherwise. */
  volume(ref: string): VolumeRuntime {
    const byId = this.volumes.get(ref);
    if (byId) return byId;
    const atRoot = path.isAbsolute(ref) ? this.volumeAt(normalizeRoot(ref)) : undefined;
    if (atRoot) return atRoot;
    throw new WardenError('ENOENT', `no volume ${JSON.stringify(ref)}: see \`volwarden status\` for the volumes watched`);
  }

  /** Where helpers are told to connect (VOLWARDEN_SOCKET). */
  setControlSocket(socketPath: string | undefined): void {
    this.controlSocketPath = socketPath;
  }

  // ---- operations shared by the socket protocol and the library (SPEC §5–§7) ----

  /** `lock_volume`, with SPEC §5's checks in order. */
  async lockVolume(client: ClientRef, ref: string, options: { wait: boolean; timeoutMs?: number }): Promise<{ token: number }> {
    if (client.rights !== 'control') throw new WardenError('EPERM', 'lock_volume needs the control socket');
    this.assertServing();
    if (options.timeoutMs !== undefined && !(Number.isInteger(options.timeoutMs) && options.timeoutMs >= 0 && options.timeoutMs <= MAX_TIMER_MS)) {
      throw new WardenError('EINVAL', `timeoutMs must be an integer from 0 to ${MAX_TIMER_MS}`);
    }
    if (this.state() === 'starting') throw new WardenError('EAGAIN');
    if (this.reboot.held()) throw new WardenError('ENOLCK', 'the reboot lock is held: volume locks are refused until it is released');
    const volume = this.volume(ref);
    return volume.lock.request(this.clients.holderView(client.id), options);
  }

  unlockVolume(client: ClientRef, ref: string, status: number, token?: number): void {
    if (client.rights !== 'control') throw new WardenError('EPERM', 'unlock_volume needs the control socket');
    this.assertServing();
    this.volume(ref).lock.unlock(client.id, status, token);
  }

  cancelLock(client: ClientRef, ref: string): void {
    if (client.rights !== 'control') throw new WardenError('EPERM', 'lock_cancel needs the control socket');
    this.assertServing();
    this.volume(ref).lock.cancel(client.id);
  }

  async lockReboot(client: ClientRef, wait: boolean): Promise<void> {
    if (client.rights !== 'control') throw new WardenError('EPERM', 'lock_reboot needs the control socket');
    this.assertServing();
    // Volumes still loading are not known yet: examining now would call them all clean.
    if (this.state() === 'starting') {
      if (this.startup === null) throw new WardenError('EAGAIN');
      await this.startup;
    }
    await this.reboot.lock(this.clients.holderView(client.id), wait);
  }

  unlockReboot(client: ClientRef): void {
    if (client.rights !== 'control') throw new WardenError('EPERM', 'unlock_reboot needs the control socket');
    this.reboot.unlock(client.id);
  }

  /** `can_unmount` (SPEC §7): EBUSY when locked, or stale and not gaveUp (a rebuild is started). */
  async canUnmount(ref: string): Promise<void> {
    this.assertServing();
    const volume = this.volume(ref);
    if (volume.lock.view().state !== 'unlocked') throw new WardenError('EBUSY', `${volume.id} is locked`);
    const state = volume.state();
    if (state === 'gaveUp' || state === 'invalid') return;
    if (state === 'checking' || state === 'rebuilding') throw new WardenError('EBUSY', `${volume.id} is ${state}`);
    const stale = await volume.staleNow();
    if (stale.length > 0) {
      volume.actor.send({ type: 'CHECK_REQUESTED' });
      const next = this.reboot.held() ? 'it rebuilds once the reboot lock is released' : 'a rebuild was started';
      throw new WardenError('EBUSY', `${volume.id} is stale: ${stale[0]!.reason}; ${next}`);
    }
  }

  /** `check`: skip the settle timer; resolves the state right after. */
  check(client: ClientRef, ref: string): string {
    if (client.rights !== 'control') throw new WardenError('EPERM', 'check needs the control socket');
    this.assertServing();
    const volume = this.volume(ref);
    volume.actor.send({ type: 'CHECK_REQUESTED' });
    return volume.state();
  }

  retry(client: ClientRef, ref: string): void {
    if (client.rights !== 'control') throw new WardenError('EPERM', 'retry needs the control socket');
    this.assertServing();
    this.volume(ref).actor.send({ type: 'RETRY_REQUESTED' });
  }

  /** `subscribe`: `volume` is an id, a root, or "*". */
  subscribe(client: { id: number; send(frame: object): void }, ref: string, events?: string[]): number {
    this.assertServing();
    const volume = ref === '*' ? '*' : this.volume(ref).id;
    return this.hub.subscribe(client, volume, events);
  }

  /** Stops cleanly (SPEC §13): helpers get SIGTERM and up to 10 s, counters are written. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  // ---- internals ----

  publish(event: EventInput): void {
    this.bus.publish(event);
  }

  /**
   * Follows a new configuration (SIGHUP, SPEC §13): volumes of removed roots go, new roots are
   * added, and unchanged volumes keep their state, lock holder, waiters and subscribers.
   */
  async setRoots(roots: string[]): Promise<void> {
    const next = roots.map((r) => normalizeRoot(path.resolve(r)));
    const removed = this.roots.filter((r) => !next.includes(r));
    const added = next.filter((r) => !this.roots.includes(r));
    this.roots = next;
    for (const root of removed) {
      await this.unwatchManifest(root);
      if (!this.discovered.has(root)) this.volumeAt(root)?.actor.send({ type: 'VOLUME_REMOVED' });
    }
    for (const root of added) if (!this.volumeAt(root)) await this.addRoot(root);
  }

  /**
   * Follows a reloaded daemon config (SIGHUP, SPEC §13) without dropping any lock: roots as
   * {@link setRoots}; rebuilder definitions apply from the next run, and when the set of names
   * changes every volume reloads its manifest in place (a name may have become valid or unknown);
   * new default settle time and failure limits reach every volume; `discoverMounts` turns
   * discovery on or off; `maxClients`, `maxStatusClients` and `statusIdleTimeoutMs` apply to the next connection. What it does not apply
   * (sockets, state directory, the other limits) it returns, so the caller can say a restart is due.
   *
   * @example
   * const needRestart = await warden.reconfigure({ roots: ['/srv/data'], rebuilders: { docs: { command: ['make'] } } });
   */
  async reconfigure(next: Reconfiguration): Promise<Array<keyof Limits>> {
    const namesChanged = !sameKeys(this.rebuilders, next.rebuilders ?? {});
    this.rebuilders = next.rebuilders ?? {};
    const defaults = volumeDefaults(next);
    if (JSON.stringify(defaults) !== JSON.stringify(this.volumeDefaults)) {
      this.volumeDefaults = defaults;
      for (const volume of this.volumes.values()) volume.actor.send({ type: 'DEFAULTS_CHANGED', defaults });
    }
    if (namesChanged) for (const volume of this.volumes.values()) volume.actor.send({ type: 'MANIFEST_CHANGED' });
    const limits = { ...DEFAULT_LIMITS, ...next.limits };
    // Connection budgets and the status idle timeout apply from the next connection.
    Object.assign(this.env.limits, { maxClients: limits.maxClients, maxStatusClients: limits.maxStatusClients, statusIdleTimeoutMs: limits.statusIdleTimeoutMs });
    const notApplied = (Object.keys(limits) as Array<keyof Limits>).filter((k) => limits[k] !== this.env.limits[k]);
    // Roots first: discovery turned off must see the new roots, or it would drop one that the
    // new config now lists itself (and its lock holder with it).
    await this.setRoots(next.roots);
    await this.setDiscovery(next.discoverMounts ?? false);
    return notApplied;
  }

  /**
   * Mount points discovery may make volumes of: local, writable, and one per mounted tree. A bind
   * mount or a second mount of the same device shows the same files, and two volumes over them
   * would hold two locks on one set of caches: the mount point already watched (else the first
   * one listed) stands for them all.
   */
  private usableMountPoints(mounts: MountEntry[]): Set<string> {
    const byTree = new Map<string, string[]>();
    for (const m of mounts) {
      if (m.readOnly || isNetworkOrPseudoFs(m.fsType)) continue;
      const root = normalizeRoot(m.mountPoint);
      const tree = m.device === undefined ? `at ${root}` : `${m.device} ${m.fsRoot ?? '/'}`;
      const roots = byTree.get(tree);
      if (roots) roots.push(root);
      else byTree.set(tree, [root]);
    }
    const watched = new Set([...this.volumes.values()].map((v) => v.root));
    const usable = new Set<string>();
    for (const roots of byTree.values()) usable.add(roots.find((r) => watched.has(r)) ?? roots[0]!);
    return usable;
  }

  private async setDiscovery(on: boolean): Promise<void> {
    if (on === this.discoverMounts) return;
    this.discoverMounts = on;
    if (on) return this.startDiscovery();
    await this.mountWatch?.close();
    this.mountWatch = null;
    for (const root of [...this.discovered]) {
      this.discovered.delete(root);
      if (!this.roots.includes(root)) this.volumeAt(root)?.actor.send({ type: 'VOLUME_REMOVED' });
    }
    for (const root of [...this.manifestWatches.keys()]) if (!this.roots.includes(root)) await this.unwatchManifest(root);
  }

  /** Scans the mount table and follows it from now on (once, whoever asks first). */
  private async startDiscovery(): Promise<void> {
    await this.rescanMounts();
    if (this.stopping || this.mountWatch !== null || !this.discoverMounts) return;
    this.mountWatch = this.adapters.mounts.watch(() => void this.rescanMounts());
  }

  /**
   * Mount discovery: every local, writable mount whose root holds a manifest is a volume; one
   * unmounted or remounted read-only goes (SPEC §13). A moved filesystem keeps its `uuid:` id.
   */
  async rescanMounts(): Promise<void> {
    if (this.stopping) return;
    const mounts = await this.adapters.mounts.list().catch(() => this.mountsCache);
    this.mountsCache = mounts;
    const usable = this.usableMountPoints(mounts);
    for (const root of [...this.discovered]) {
      if (usable.has(root)) continue;
      this.discovered.delete(root);
      if (!this.roots.includes(root)) this.volumeAt(root)?.actor.send({ type: 'ROOT_REMOVED' });
    }
    for (const root of [...this.manifestWatches.keys()]) {
      if (!usable.has(root) && !this.roots.includes(root)) await this.unwatchManifest(root);
    }
    for (const root of usable) {
      if (this.volumeAt(root)) continue;
      const manifest = await this.adapters.fs.lstat(path.join(root, MANIFEST_FILE));
      if (this.stopping) return;
      if (!manifest) {
        // A manifest written later, onto a file system already mounted, makes it a volume too;
        // a bind-mounted file (e.g. /etc/hosts in a container) cannot hold one.
        if ((await this.adapters.fs.stat(root))?.kind === 'dir') this.watchForManifest(root, () => void this.rescanMounts());
        continue;
      }
      // The same file system under two uuids is a clone; under one id it can be one volume only.
      const other = this.volumes.get(volumeIdFor(root, this.mountsCache));
      if (other && usable.has(other.root)) {
        this.env.log.warn({ root, volume: other.id, at: other.root }, 'a second file system with the same UUID: not watched');
        continue;
      }
      this.discovered.add(root);
      const volume = this.createVolume(root);
      await this.loaded(volume);
      if (this.state() === 'running') volume.actor.send({ type: 'WARDEN_RUNNING' });
    }
  }

  private async doStop(): Promise<void> {
    if (this.started) this.actor.send({ type: 'STOP_REQUESTED' });
    await this.mountWatch?.close();
    this.mountWatch = null;
    await Promise.all([...this.manifestWatches.keys()].map((root) => this.unwatchManifest(root)));
    // Leases hear that the warden stopped before their volumes shut down (not that they went).
    for (const notify of this.lostListeners.values()) notify(stoppedError());
    this.lostListeners.clear();
    const volumes = [...this.volumes.values()];
    await Promise.all(volumes.map((v) => v.shutdown()));
    for (const client of this.clients.all()) this.clients.died(client.id);
    this.hub.stop();
    this.reboot.stop();
    if (this.started) this.actor.send({ type: 'HELPERS_STOPPED' });
    this.bus.complete();
  }

  private async addRoot(root: string): Promise<void> {
    const stat = await this.adapters.fs.stat(root);
    if (!stat || stat.kind !== 'dir') {
      this.env.log.error({ root }, `volume root ${root} is not a readable directory`);
    }
    const manifest = await this.adapters.fs.lstat(path.join(root, MANIFEST_FILE));
    if (this.stopping) return;
    if (manifest) this.createVolume(root);
    else this.watchForManifest(root, () => this.createVolume(root));
  }

  /**
   * A directory without a manifest is not a volume, until one appears (SPEC §1): a configured
   * root, or a usable mount with `discoverMounts`. `onAppear` runs once, when it has.
   */
  private watchForManifest(root: string, onAppear: () => void): void {
    if (this.manifestWatches.has(root) || this.stopping) return;
    const manifestPath = path.join(root, MANIFEST_FILE);
    const handle = this.adapters.fs.watch({ root, paths: [manifestPath], ignored: [] }, (event) => {
      if (event.type !== 'changed' || event.path !== manifestPath || this.stopping) return;
      void this.adapters.fs.lstat(manifestPath).then((st) => {
        if (!st || this.stopping || this.manifestWatches.get(root) !== handle) return;
        void this.unwatchManifest(root);
        onAppear();
      });
    });
    this.manifestWatches.set(root, handle);
  }

  private async unwatchManifest(root: string): Promise<void> {
    const handle = this.manifestWatches.get(root);
    this.manifestWatches.delete(root);
    await handle?.close();
  }

  /** The volume rooted at `root` (normalized), if there is one. */
  private volumeAt(root: string): VolumeRuntime | undefined {
    for (const volume of this.volumes.values()) if (volume.root === root) return volume;
    return undefined;
  }

  private createVolume(root: string): VolumeRuntime {
    const id = volumeIdFor(root, this.mountsCache);
    const existing = this.volumes.get(id);
    if (existing && existing.root === root) return existing;
    // The same filesystem (uuid:) at a new mount point: the old actor goes, the id lives on.
    if (existing) existing.actor.send({ type: 'ROOT_REMOVED' });
    const warden = this;
    const volume = new VolumeRuntime(
      {
        env: this.env,
        adapters: this.adapters,
        defaults: this.volumeDefaults,
        get rebuilders() {
          return warden.rebuilders;
        },
        rebuild: this.options.rebuild,
        daemonUid: this.options.daemonUid ?? process.getuid?.() ?? 0,
        controlSocket: () => this.controlSocketPath,
        wardenRunning: () => this.state() === 'running',
        rebootHeld: () => this.reboot.held(),
        publish: (event) => this.publish(event),
        changed: () => this.reboot.reexamine(),
        gone: (v) => this.volumeGone(v),
      },
      id,
      root,
    );
    this.volumes.set(id, volume);
    volume.start();
    return volume;
  }

  private volumeGone(volume: VolumeRuntime): void {
    if (this.volumes.get(volume.id) !== volume) return;
    this.volumes.delete(volume.id);
    // Discovered again at the next mount-table change, if its mount still holds a manifest.
    this.discovered.delete(volume.root);
    const holder = volume.lock.holder();
    if (holder) this.lostListeners.get(holder.client)?.(new WardenError('ENOENT', `volume ${volume.id} is gone`));
    this.hub.volumeGone(volume.id);
    // A configured root whose manifest went away may become a volume again.
    if (!this.stopping && this.roots.includes(volume.root)) this.watchForManifest(volume.root, () => this.createVolume(volume.root));
    this.reboot.reexamine();
  }

  private loaded(volume: VolumeRuntime): Promise<void> {
    return new Promise((resolve) => {
      const check = () => volume.state() !== 'loading';
      if (check()) return resolve();
      const sub = volume.actor.subscribe({
        next: () => {
          if (check()) {
            sub.unsubscribe();
            resolve();
          }
        },
        complete: () => resolve(),
        error: () => resolve(),
      });
    });
  }

  private clientDied(id: number): void {
    for (const volume of this.volumes.values()) volume.lock.clientDied(id);
    this.reboot.clientDied(id);
    this.hub.clientDied(id);
  }

  /** SPEC §6: the first busy volume, starting rebuilds for stale ones; null when all are clean. */
  private async examineForReboot(): Promise<string | null> {
    // Newly discoverable volumes are rescanned first (SPEC §6).
    if (this.discoverMounts) await this.rescanMounts();
    let busy: string | null = null;
    for (const volume of [...this.volumes.values()]) {
      if (busyWithoutLooking(volume)) {
        busy ??= volume.id;
        continue;
      }
      const state = volume.state();
      if (state === 'gaveUp' || state === 'invalid' || state === 'gone') continue;
      const stale = await volume.staleNow();
      if (stale.length > 0) {
        // A suspended volume cannot rebuild while its installer runs: a check would only bounce it
        // back to suspended, re-triggering this examination without time passing (a livelock).
        if (volume.state() !== 'suspended') volume.actor.send({ type: 'CHECK_REQUESTED' });
        busy ??= volume.id;
      }
    }
    return busy;
  }

  /** In-process clients (`warden.lockVolume`) are clients too (SPEC §1). */
  libraryClient(name: string): ClientRef {
    const id = this.clients.allocateId();
    this.clients.add(id, 'control', 'library', name, process.pid);
    return { id, rights: 'control' };
  }

  /** Calls `listener` once if a lock held by `client` is lost without being released. */
  onLost(client: number, listener: ((reason: WardenError) => void) | null): void {
    if (listener) this.lostListeners.set(client, listener);
    else this.lostListeners.delete(client);
  }

  holderView(id: number): HolderView {
    return this.clients.holderView(id);
  }
}

/** SPEC §6 busy without reading files: locked, or loading, checking or rebuilding. */
function busyWithoutLooking(volume: VolumeRuntime): boolean {
  if (volume.lock.view().state !== 'unlocked') return true;
  const state = volume.state();
  return state === 'checking' || state === 'rebuilding' || state === 'loading';
}

/** SPEC §4 and §13 defaults a manifest may override. */
function volumeDefaults(options: { settleMs?: number; maxFailures?: number; maxAttempts?: number }): VolumeDefaults {
  return { settleMs: options.settleMs ?? 5000, maxFailures: options.maxFailures ?? 5, maxAttempts: options.maxAttempts ?? 25 };
}

function sameKeys(a: object, b: object): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i]);
}
