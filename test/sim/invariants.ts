/**
 * What must hold in the simulated world, checked after every step (SPEC §4, §5, §6, §8), plus
 * what must hold once it has come to rest (every waiter answered, no change lost). It watches
 * the warden from outside only: the inspection stream (volume counters and states), the event
 * bus (grants, tokens, the reboot lock), the fake helpers, `status`, the state store and what
 * each client was told.
 */
import type { InspectionEvent } from 'xstate';
import type { FakeRun } from '../../src/adapters/processes.memory.js';
import type { VolumeContext } from '../../src/machines/volume.js';
import type { WardenEvent } from '../../src/protocol/events.js';
import type { SentRequest, SimClient } from './sim-client.js';
import type { Step } from './schedule.js';
import { SIM_LIMITS } from './fixtures.js';
import type { World } from './world.js';

/** One broken invariant, at the step (index into the schedule) where it was seen. */
export interface Violation {
  step: number;
  message: string;
}


interface Counters {
  failures: number;
  attempts: number;
}

/** What the last snapshot of one volume actor showed. */
interface VolumeSeen extends Counters {
  top: string;
  sub: string | null;
  context: VolumeContext;
  /** A lock holder died while this rebuild ran (its failure counted then). */
  holderDiedThisRun: boolean;
}

const topOf = (value: unknown): string => (typeof value === 'string' ? value : Object.keys(value as object)[0] ?? '');
const subOf = (value: unknown): string | null =>
  typeof value === 'object' && value !== null ? String(Object.values(value as Record<string, unknown>)[0]) : null;

/** Where `failures`/`attempts` must be after `event` (SPEC §4), given what they were before. */
function expectedCounters(prev: VolumeSeen, event: { type: string; [key: string]: unknown }, top: string): Counters {
  let { failures, attempts } = prev;
  const helperMode = prev.context.manifest?.lockMode === 'helper';
  const reset = () => {
    failures = 0;
    attempts = 0;
  };
  switch (event.type) {
    case 'LOCK_RELEASED':
      if (event.status === 0) reset();
      else failures += 1;
      break;
    case 'HOLDER_DIED':
      failures += 1;
      break;
    case 'xstate.done.actor.runHelper': {
      const status = (event.output as { status: number }).status;
      // In lockMode helper the helper's own unlock is accounted, except a helper that could not start.
      if (!helperMode) {
        if (status === 0) reset();
        else failures += 1;
      } else if ((status === 127 || status === 124) && !prev.holderDiedThisRun) {
        // ...and one that ran past timeoutSec (SPEC §3), unless a holder died during the run: that
        // may have been the helper itself, counted once already as a dead holder.
        failures += 1;
      }
      break;
    }
    case 'xstate.error.actor.runHelper':
      failures += 1;
      break;
    case 'RETRY_REQUESTED':
    case 'MANIFEST_CHANGED':
      if (prev.top === 'gaveUp') reset();
      break;
  }
  if (top === 'rebuilding' && prev.top !== 'rebuilding') attempts += 1;
  return { failures, attempts };
}

/** The invariants of one simulation run. */
export class Invariants {
  readonly violations: Violation[] = [];
  /** The last fencing token granted per volume, across restarts (SPEC §5). */
  private readonly lastToken = new Map<string, number>();
  /** Who holds each volume according to the event bus (granted/released alternate). */
  private readonly heldBy = new Map<string, number>();
  private readonly sessions = new Map<string, VolumeSeen>();
  /** The latest counters per volume id, across actors and restarts (they must persist). */
  private readonly counters = new Map<string, Counters>();
  private tick = 0;
  private readonly changedAt = new Map<string, number>();
  private readonly examinedAt = new Map<string, number>();
  private grants: Array<{ client: SimClient; request: SentRequest }> = [];
  /** Waiter actors (SPEC §2) by session: which volume, and whether still active. */
  private readonly waiterActors = new Map<string, { volume: string; active: boolean; id: string }>();
  private outputWrite: { volume: string; stateBefore: string | undefined } | null = null;

  constructor(private readonly world: World) {}

  fail(message: string): void {
    const step = this.world.stepIndex;
    if (this.violations.some((v) => v.message === message)) return;
    this.violations.push({ step, message });
  }

  /** A new warden (first boot or restart): the bus starts over, the persisted state does not. */
  wardenStarted(): void {
    for (const w of this.waiterActors.values()) if (w.active) this.fail(`waiter actor ${w.id} outlived its warden`);
    this.waiterActors.clear();
    this.heldBy.clear();
    this.grants = [];
  }

  /** A source, `watch` entry or manifest of `volume` is about to change: a check must follow. */
  sourceChanged(volume: string): void {
    this.changedAt.set(volume, ++this.tick);
  }

  /** A cache output is about to be written by someone else: that must not trigger a check. */
  outputWritten(volume: string): void {
    this.outputWrite = { volume, stateBefore: this.volumeState(volume) };
  }

  granted(client: SimClient, request: SentRequest): void {
    this.grants.push({ client, request });
  }

  /** SPEC §6: no automatic rebuild starts while the reboot lock is held. */
  onRun(run: FakeRun): void {
    if (this.world.stopping) {
      this.fail(`helper ${run.request.argv.join(' ')} started in ${run.request.cwd} while the warden is stopping`);
    }
    if (this.world.warden.status().reboot.state === 'held') {
      this.fail(`helper ${run.request.argv.join(' ')} started in ${run.request.cwd} while the reboot lock is held`);
    }
  }

  /** Counters (SPEC §4) and check/rebuild entries, from every volume actor's snapshots. */
  onInspect(event: InspectionEvent): void {
    if (event.type !== '@xstate.snapshot') return;
    const ref = event.actorRef as unknown as { id: string; sessionId: string };
    if (ref.id.startsWith('waiter:')) {
      const volume = ref.id.slice('waiter:'.length, ref.id.lastIndexOf('#'));
      this.waiterActors.set(ref.sessionId, { volume, id: ref.id, active: (event.snapshot as { status: string }).status === 'active' });
      return;
    }
    if (!ref.id.startsWith('volume:')) return;
    const volume = ref.id.slice('volume:'.length);
    const snapshot = event.snapshot as unknown as { value: unknown; context: VolumeContext };
    const context = snapshot.context;
    const top = topOf(snapshot.value);
    const sub = subOf(snapshot.value);
    const prev = this.sessions.get(ref.sessionId);
    const cause = event.event as { type: string };
    const expected = prev ? expectedCounters(prev, cause, top) : (this.counters.get(volume) ?? { failures: 0, attempts: 0 });
    if (context.failures !== expected.failures || context.attempts !== expected.attempts) {
      this.fail(
        `${volume}: after ${cause.type} in ${prev?.top ?? '(start)'} counters are failures ${context.failures}, attempts ${context.attempts};` +
          ` SPEC §4 says failures ${expected.failures}, attempts ${expected.attempts}`,
      );
    }
    if (prev && top === 'rebuilding' && prev.top !== 'rebuilding') {
      const maxFailures = prev.context.manifest?.maxFailures ?? prev.context.defaults.maxFailures;
      const maxAttempts = prev.context.manifest?.maxAttempts ?? prev.context.defaults.maxAttempts;
      if (prev.failures >= maxFailures || prev.attempts >= maxAttempts) {
        this.fail(`${volume}: a rebuild started (on ${cause.type}) with failures ${prev.failures}/${maxFailures}, attempts ${prev.attempts}/${maxAttempts}: it should have given up`);
      }
    }
    const examining = top === 'checking' && sub === 'examining';
    const wasExamining = prev?.top === 'checking' && prev.sub === 'examining';
    if ((examining && !wasExamining) || (top === 'rebuilding' && prev?.top !== 'rebuilding')) this.examinedAt.set(volume, ++this.tick);
    const holderDiedThisRun = top === 'rebuilding' && prev?.top === 'rebuilding'
      ? prev.holderDiedThisRun || cause.type === 'HOLDER_DIED'
      : false;
    const seen = { top, sub, context, failures: context.failures, attempts: context.attempts, holderDiedThisRun };
    this.sessions.set(ref.sessionId, seen);
    this.counters.set(volume, { failures: context.failures, attempts: context.attempts });
  }

  /** Tokens, one holder at a time, and the reboot lock's precondition, from the event bus. */
  onWardenEvent(event: WardenEvent): void {
    switch (event.type) {
      case 'lock.granted': {
        const last = this.lastToken.get(event.volume) ?? 0;
        if (event.token !== last + 1) this.fail(`${event.volume}: fencing token ${event.token} granted after ${last} (must be ${last + 1})`);
        this.lastToken.set(event.volume, Math.max(last, event.token));
        const holder = this.heldBy.get(event.volume);
        if (holder !== undefined) this.fail(`${event.volume}: granted to client ${event.holder.client} while client ${holder} holds it`);
        this.heldBy.set(event.volume, event.holder.client);
        return;
      }
      case 'lock.released': {
        const holder = this.heldBy.get(event.volume);
        if (holder !== event.holder.client) this.fail(`${event.volume}: released by client ${event.holder.client} but held by ${String(holder)}`);
        this.heldBy.delete(event.volume);
        return;
      }
      case 'volume.gone':
        this.heldBy.delete(event.volume);
        for (const client of this.world.liveClients()) client.holds.delete(event.volume);
        return;
      case 'reboot.locked':
        for (const v of this.world.warden.status().volumes) {
          if (v.lock.state !== 'unlocked' || ['checking', 'rebuilding', 'loading'].includes(v.state)) {
            this.fail(`reboot lock granted while ${v.id} is ${v.state} and ${v.lock.state}`);
          }
        }
        return;
      default:
        return;
    }
  }

  /** Everything that must hold once the warden has reacted to a step. */
  afterStep(step: Step): void {
    const world = this.world;
    const status = world.warden.status();
    const clients = world.liveClients().filter((c) => c.id !== null && !c.closed);
    this.checkFifo(clients);
    const present = new Set(status.volumes.map((v) => v.id));
    for (const v of status.volumes) {
      const believers = clients.filter((c) => c.holds.has(v.id));
      const holder = v.lock.holder?.client;
      if (believers.length > 1) this.fail(`${v.id}: clients ${believers.map((c) => c.id).join(', ')} were all told they hold it`);
      for (const b of believers) {
        if (holder !== b.id) this.fail(`${v.id}: client ${b.id} was granted it, but status says holder ${String(holder)}`);
        else if (v.lock.token !== b.holds.get(v.id)) this.fail(`${v.id}: client ${b.id} holds token ${b.holds.get(v.id)} but status shows ${v.lock.token}`);
      }
      if (holder !== undefined && holder !== 0 && !believers.some((b) => b.id === holder)) {
        this.fail(`${v.id}: status says client ${holder} holds it, but no live client was told so (a lock outlived its holder?)`);
      }
      // The daemon holds a lock for its rebuild, or while its first load stops a helper left running.
      if (holder === 0 && v.state !== 'rebuilding' && v.state !== 'loading') this.fail(`${v.id}: the daemon holds the lock while the volume is ${v.state}`);
      const queued = clients.reduce((n, c) => n + c.unanswered().filter((r) => r.routine === 'lock_volume' && r.volume === v.id).length, 0);
      const daemonQueued = this.daemonAwaitingLock(v.id) ? 1 : 0;
      if (v.lock.waiters !== queued + daemonQueued) {
        this.fail(`${v.id}: status shows ${v.lock.waiters} waiters, but ${queued} client requests${daemonQueued ? ' and the daemon (checking.awaitingLock)' : ''} should be queued`);
      }
      const waiterActors = [...this.waiterActors.values()].filter((w) => w.active && w.volume === v.id).length;
      if (waiterActors !== v.lock.waiters) this.fail(`${v.id}: ${waiterActors} waiter actors are active, but status shows ${v.lock.waiters} waiters`);
      const record = world.state.load(v.id);
      if (!record || record.failures !== v.failures || record.attempts !== v.attempts || record.token !== v.lock.token) {
        this.fail(`${v.id}: state store has ${JSON.stringify(record)}, status has failures ${v.failures}, attempts ${v.attempts}, token ${v.lock.token}`);
      }
    }
    for (const c of clients) {
      for (const cancel of c.requests.values()) {
        if (cancel.routine !== 'lock_cancel' || cancel.step !== world.stepIndex || cancel.replies[0]?.ret !== 'OK') continue;
        for (const r of c.unanswered()) {
          if (r.routine === 'lock_volume' && r.volume === cancel.volume && r.order < cancel.order) {
            this.fail(`client ${c.id}: lock_cancel of ${cancel.volume} answered OK, but its waiting lock_volume (step ${r.step}) got no ECANCELED`);
          }
        }
      }
      for (const volume of c.holds.keys()) if (!present.has(volume)) this.fail(`client ${c.id} still holds ${volume}, which is gone`);
      for (const r of c.unanswered()) if (!r.deferrable) this.fail(`client ${c.id}: ${r.routine} seq ${r.seq} got no reply`);
    }
    const rebootBelievers = clients.filter((c) => c.rebootHeld);
    if (rebootBelievers.length > 1) this.fail(`clients ${rebootBelievers.map((c) => c.id).join(', ')} all hold the reboot lock`);
    const rebootHolder = status.reboot.holder?.client;
    if (rebootHolder !== rebootBelievers[0]?.id) {
      this.fail(`status says the reboot lock is held by ${String(rebootHolder)}, clients believe ${String(rebootBelievers[0]?.id)}`);
    }
    for (const s of world.warden.core.hub.snapshot()) {
      if (s.queued > SIM_LIMITS.maxQueuedEvents) this.fail(`subscription ${s.sub} queues ${s.queued} events (max ${SIM_LIMITS.maxQueuedEvents})`);
    }
    if (step.kind === 'writeOutput' && this.outputWrite?.stateBefore === 'idle') {
      const after = this.volumeState(this.outputWrite.volume);
      if (after !== 'idle') this.fail(`${this.outputWrite.volume}: writing its cache output moved it from idle to ${after}`);
    }
    this.outputWrite = null;
  }

  /** Once the world is at rest: every live waiter answered, every change examined. */
  atQuiescence(): void {
    const world = this.world;
    for (const c of world.liveClients()) {
      if (c.closed) continue;
      for (const r of c.unanswered()) this.fail(`client ${c.id}: ${r.routine} ${r.volume ?? ''} (seq ${r.seq}, step ${r.step}) was never answered`);
    }
    const status = world.warden.status();
    if (status.reboot.state === 'held') return;
    for (const [volume, changed] of this.changedAt) {
      if ((this.examinedAt.get(volume) ?? 0) > changed) continue;
      const v = status.volumes.find((s) => s.id === volume);
      if (!v || ['gaveUp', 'invalid', 'suspended'].includes(v.state)) continue;
      this.fail(`${volume}: a change was never followed by a check (volume is ${v.state}, stale ${JSON.stringify(v.stale)})`);
    }
  }

  /** SPEC §5 FIFO: nobody is granted while an earlier live request for the same volume still waits. */
  private checkFifo(clients: SimClient[]): void {
    const grants = this.grants;
    this.grants = [];
    for (const { client, request } of grants) {
      for (const other of clients) {
        for (const earlier of other.unanswered()) {
          if (earlier.routine !== 'lock_volume' || earlier.volume !== request.volume || earlier.order >= request.order) continue;
          this.fail(
            `${request.volume}: client ${client.id}'s lock (step ${request.step}) was granted while client ${other.id}'s earlier one (step ${earlier.step}) still waits`,
          );
        }
      }
    }
  }

  private daemonAwaitingLock(volume: string): boolean {
    try {
      const value = this.world.warden.core.volume(volume).actor.getSnapshot().value;
      return topOf(value) === 'checking' && subOf(value) === 'awaitingLock';
    } catch {
      return false;
    }
  }

  private volumeState(volume: string): string | undefined {
    return this.world.warden.status().volumes.find((v) => v.id === volume)?.state;
  }
}
