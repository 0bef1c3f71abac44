import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, type AnyEventObject } from 'xstate';
import { getShortestPaths, getSimplePaths } from 'xstate/graph';
import { simulatedClock } from '../../src/adapters/clock.js';
import {
  volumeMachine,
  type ExamineOutcome,
  type LoadOutcome,
  type RebuildOutcome,
  type VolumeContext,
} from '../../src/machines/volume.js';

/**
 * Model-based test of the volume machine (SPEC §4): xstate/graph walks the machine's paths,
 * and each path is replayed against a real actor on a simulated clock whose effects (manifest
 * load, staleness check, helper, installer probe) are deferred promises the path resolves.
 */

const DEFAULTS = { settleMs: 100, maxFailures: 2, maxAttempts: 2 };
const ok = (lockMode: 'daemon' | 'helper'): LoadOutcome => ({ kind: 'ok', manifest: { lockMode } });
const stale: ExamineOutcome = { installerActive: false, stale: [{ name: 'out', reason: 'output missing' }], problems: [] };
const clean: ExamineOutcome = { installerActive: false, stale: [], problems: [] };
const installer: ExamineOutcome = { installerActive: true, stale: [], problems: [] };
const exit = (status: number): RebuildOutcome => ({ status, startedAt: 0, finishedAt: 5 });
const done = (id: string, output: unknown) => ({ type: `xstate.done.actor.${id}`, output }) as unknown as AnyEventObject;

type Snap = ReturnType<typeof volumeMachine.transition>;

const topState = (value: unknown): string => (typeof value === 'string' ? value : Object.keys(value as object)[0]!);
const leaf = (snapshot: Snap): string => JSON.stringify(snapshot.value);

/** The events that make sense in each state, with small concrete payloads. */
function eventsFor(snapshot: Snap, lockMode: 'daemon' | 'helper' = 'daemon'): AnyEventObject[] {
  // A final snapshot takes no events (the pure transition function would still compute some).
  if (snapshot.status !== 'active') return [];
  const value = snapshot.value as unknown;
  const events: AnyEventObject[] = [
    { type: 'FS_CHANGED', paths: ['src/a.txt'] },
    { type: 'MANIFEST_CHANGED' },
    { type: 'CHECK_REQUESTED' },
    { type: 'RETRY_REQUESTED' },
    { type: 'LOCK_RELEASED', status: 0 },
    { type: 'LOCK_RELEASED', status: 1 },
    { type: 'INSTALLER_CHANGED' },
    { type: 'ROOT_REMOVED' },
  ];
  if (!snapshot.context.wardenRunning) events.push({ type: 'WARDEN_RUNNING' });
  if (value === 'loading') events.push(done('loadManifest', ok(lockMode)), done('loadManifest', { kind: 'invalid', error: 'version: must be 1' }), done('loadManifest', { kind: 'missing' }));
  if (value === 'settling') events.push({ type: 'xstate.after.settle.volume.settling' });
  const checking = typeof value === 'object' && value !== null ? (value as Record<string, string>) : {};
  if (checking.checking === 'examining') events.push(done('examine', stale), done('examine', clean), done('examine', installer));
  if (checking.checking === 'awaitingLock') events.push({ type: 'LOCK_GRANTED', token: 1 });
  if (checking.rebuilding === 'running') events.push(done('runHelper', exit(0)), done('runHelper', exit(1)));
  if (checking.suspended === 'probing') events.push(done('probeInstaller', { active: true }), done('probeInstaller', { active: false }));
  if (checking.suspended === 'waitingForInstaller') events.push({ type: 'xstate.after.installerPoll.volume.suspended.waitingForInstaller' });
  return events;
}

/** Projects a snapshot onto what matters, so the state space is finite. */
function serialize(snapshot: Snap): string {
  const c = snapshot.context;
  return JSON.stringify([
    snapshot.value,
    Math.min(c.failures, 2),
    Math.min(c.attempts, 2),
    c.dirty,
    c.reloadPending,
    c.wardenRunning,
    c.rebootHeld,
    c.manifest?.lockMode ?? null,
    c.stale === null ? null : c.stale.length > 0,
    snapshot.status,
  ]);
}

/** A real actor whose effects wait for the path to resolve them. */
function realVolume(wardenRunning: boolean) {
  const clock = simulatedClock();
  const pending = new Map<string, (value: unknown) => void>();
  let running = 0;
  let maxConcurrentHelpers = 0;
  const lockCalls: string[] = [];
  const deferred = <T,>(id: string) =>
    fromPromise<T, any>(() => new Promise<T>((resolve) => pending.set(id, resolve as (v: unknown) => void)));
  const logic = volumeMachine.provide({
    actors: {
      loadManifest: deferred<LoadOutcome>('loadManifest'),
      examine: deferred<ExamineOutcome>('examine'),
      probeInstaller: deferred<{ active: boolean }>('probeInstaller'),
      runHelper: fromPromise<RebuildOutcome, any>(() => {
        running++;
        maxConcurrentHelpers = Math.max(maxConcurrentHelpers, running);
        return new Promise<RebuildOutcome>((resolve) =>
          pending.set('runHelper', (v) => {
            running--;
            resolve(v as RebuildOutcome);
          }),
        );
      }),
    },
    actions: {
      requestLock: () => lockCalls.push('request'),
      releaseLock: (_, params) => lockCalls.push(`release:${params.status}`),
    },
  });
  const actor = createActor(logic, {
    clock,
    input: { id: 'path:/v', root: '/v', defaults: DEFAULTS, wardenRunning },
  });
  const emitted: string[] = [];
  actor.on('*', (e) => emitted.push(e.type));
  actor.start();
  return {
    actor,
    clock,
    pending,
    lockCalls,
    emitted,
    helpers: () => ({ running, maxConcurrentHelpers }),
  };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

/** SPEC §4 counter rules, checked between consecutive real snapshots. */
function checkCounters(before: VolumeContext, after: VolumeContext, beforeValue: unknown, afterValue: unknown, event: AnyEventObject): void {
  const enteredRebuild = topState(afterValue) === 'rebuilding' && topState(beforeValue) !== 'rebuilding';
  if (enteredRebuild) expect(after.attempts).toBe(before.attempts + 1);
  if (event.type === 'xstate.done.actor.runHelper' && after.manifest?.lockMode === 'daemon') {
    const status = (event as unknown as { output: RebuildOutcome }).output.status;
    if (status === 0) expect([after.failures, after.attempts]).toEqual([0, 0]);
    else expect(after.failures).toBe(before.failures + 1);
  }
  if (event.type === 'HOLDER_DIED' && topState(beforeValue) !== 'gone') expect(after.failures).toBe(before.failures + 1);
  if (event.type === 'RETRY_REQUESTED' && topState(beforeValue) === 'gaveUp') expect([after.failures, after.attempts]).toEqual([0, 0]);
  if (!enteredRebuild && event.type !== 'xstate.done.actor.runHelper' && !(event.type.startsWith('LOCK_RELEASED') || event.type === 'RETRY_REQUESTED' || event.type === 'MANIFEST_CHANGED')) {
    expect(after.attempts).toBe(before.attempts);
  }
}

async function replay(path: { steps: Array<{ event: AnyEventObject; state: Snap }> }, wardenRunning: boolean): Promise<void> {
  const sut = realVolume(wardenRunning);
  for (const step of path.steps) {
    if (step.event.type === 'xstate.init') continue;
    const before = sut.actor.getSnapshot();
    const { event } = step;
    if (event.type.startsWith('xstate.done.actor.')) {
      const id = event.type.slice('xstate.done.actor.'.length);
      const resolve = sut.pending.get(id);
      expect(resolve, `an effect ${id} is in flight`).toBeDefined();
      sut.pending.delete(id);
      resolve!((event as unknown as { output: unknown }).output);
    } else if (event.type === 'xstate.after.settle.volume.settling') {
      sut.clock.advance(DEFAULTS.settleMs);
    } else if (event.type.startsWith('xstate.after.installerPoll')) {
      sut.clock.advance(1000);
    } else {
      sut.actor.send(event as never);
    }
    await flush();
    const after = sut.actor.getSnapshot();
    // The real actor is where the model says it is.
    expect(leaf(after as Snap), `after ${event.type} in ${path.steps.map((s) => s.event.type + JSON.stringify((s.event as any).output ?? "")).join(" > ")}`).toBe(leaf(step.state));
    // SPEC invariants on every step.
    expect(sut.helpers().maxConcurrentHelpers).toBeLessThanOrEqual(1);
    checkCounters(before.context, after.context, before.value, after.value, event);
    if (topState(before.value) === 'gone') expect(after.status).toBe('done');
    if (after.value === 'gone') expect(after.status).toBe('done');
  }
}

describe('volume machine (model-based)', () => {
  for (const [wardenRunning, lockMode] of [[true, 'daemon'], [false, 'daemon'], [true, 'helper']] as const) {
    it(`reaches every state the model reaches, with the counters of SPEC §4 (warden ${wardenRunning ? 'running' : 'deferring'}, lockMode ${lockMode})`, async () => {
      // createTestModel refuses machines with invocations and delays, so walk the graph directly.
      const paths = getShortestPaths(volumeMachine, {
        events: ((s: Snap) => eventsFor(s, lockMode)) as never,
        serializeState: serialize as never,
        input: { id: 'path:/v', root: '/v', defaults: DEFAULTS, wardenRunning },
        limit: 20_000,
      });
      expect(paths.length).toBeGreaterThan(50);
      const reached = new Set<string>();
      for (const path of paths) {
        await replay(path as never, wardenRunning);
        reached.add(topState(path.state.value));
      }
      for (const state of ['loading', 'invalid', 'idle', 'settling', 'checking', 'rebuilding', 'suspended', 'gaveUp', 'gone']) {
        expect(reached).toContain(state);
      }
      if (!wardenRunning) expect(reached).toContain('deferred');
    });
  }

  it('walks simple paths of the helper-mode rebuild cycle without ever running two helpers', async () => {
    const paths = getSimplePaths(volumeMachine, {
      events: ((s: Snap) =>
        eventsFor(s, 'helper').filter(
          (e) => ['FS_CHANGED', 'xstate.after.settle.volume.settling', 'xstate.done.actor.runHelper', 'xstate.done.actor.examine', 'xstate.done.actor.loadManifest'].includes(e.type) &&
            !(e.type === 'xstate.done.actor.examine' && (e as { output?: ExamineOutcome }).output?.installerActive) &&
            !(e.type === 'xstate.done.actor.loadManifest' && (e as { output?: LoadOutcome }).output?.kind !== 'ok'),
        )) as never,
      serializeState: serialize as never,
      input: { id: 'path:/v', root: '/v', defaults: DEFAULTS, wardenRunning: true },
      toState: ((s: Snap) => topState(s.value) === 'gaveUp') as never,
      limit: 5000,
    });
    expect(paths.length).toBeGreaterThan(0);
    for (const path of paths.slice(0, 300)) await replay(path as never, true);
  });

  it('holds automatic rebuilds while the reboot lock is held, and rebuilds a stale volume once it is released', async () => {
    const sut = realVolume(true);
    sut.pending.get('loadManifest')!(ok('helper'));
    await flush();
    sut.pending.get('examine')!(clean);
    await flush();
    sut.actor.send({ type: 'REBOOT_LOCK_CHANGED', held: true });
    sut.actor.send({ type: 'FS_CHANGED', paths: ['src/a.txt'] });
    sut.clock.advance(DEFAULTS.settleMs);
    await flush();
    sut.pending.get('examine')!(stale);
    await flush();
    expect(sut.actor.getSnapshot().value).toBe('idle');
    expect(sut.actor.getSnapshot().context.stale).toHaveLength(1);
    expect(sut.helpers().maxConcurrentHelpers).toBe(0);
    sut.actor.send({ type: 'REBOOT_LOCK_CHANGED', held: false });
    await flush();
    sut.pending.get('examine')!(stale);
    await flush();
    expect(topState(sut.actor.getSnapshot().value)).toBe('rebuilding');
  });

  it('a holder that dies counts one failure, and enough of them give up', async () => {
    const sut = realVolume(true);
    sut.pending.get('loadManifest')!(ok('helper'));
    await flush();
    sut.pending.get('examine')!(clean);
    await flush();
    sut.actor.send({ type: 'HOLDER_DIED' });
    expect(sut.actor.getSnapshot().context.failures).toBe(1);
    sut.actor.send({ type: 'HOLDER_DIED' });
    expect(sut.actor.getSnapshot().value).toBe('gaveUp');
    expect(sut.emitted).toContain('volume.gaveUp');
    sut.actor.send({ type: 'LOCK_RELEASED', status: 0 });
    expect(sut.actor.getSnapshot().value).toEqual({ checking: 'examining' });
    expect(sut.actor.getSnapshot().context.failures).toBe(0);
  });

  it('gone is final: nothing moves it', async () => {
    const sut = realVolume(true);
    sut.actor.send({ type: 'ROOT_REMOVED' });
    for (const event of eventsFor(sut.actor.getSnapshot() as Snap)) sut.actor.send(event as never);
    expect(sut.actor.getSnapshot().status).toBe('done');
    expect(sut.actor.getSnapshot().value).toBe('gone');
  });

  it('a change during a rebuild leads to exactly one more check (the dirty mark)', async () => {
    const sut = realVolume(true);
    sut.pending.get('loadManifest')!(ok('helper'));
    await flush();
    sut.pending.get('examine')!(stale);
    await flush();
    expect(topState(sut.actor.getSnapshot().value)).toBe('rebuilding');
    sut.actor.send({ type: 'FS_CHANGED', paths: ['src/a.txt'] });
    sut.actor.send({ type: 'FS_CHANGED', paths: ['src/b.txt'] });
    sut.pending.get('runHelper')!(exit(0));
    await flush();
    expect(sut.actor.getSnapshot().value).toBe('settling');
    sut.clock.advance(DEFAULTS.settleMs);
    await flush();
    expect(sut.actor.getSnapshot().value).toEqual({ checking: 'examining' });
    sut.pending.get('examine')!(clean);
    await flush();
    expect(sut.actor.getSnapshot().value).toBe('idle');
    expect(sut.emitted.filter((t) => t === 'rebuild.started')).toHaveLength(1);
    expect(sut.emitted).toContain('volume.ready');
  });

  it('in lockMode daemon, queues for the lock before the helper and releases with its status', async () => {
    const sut = realVolume(true);
    sut.pending.get('loadManifest')!(ok('daemon'));
    await flush();
    sut.pending.get('examine')!(stale);
    await flush();
    expect(sut.actor.getSnapshot().value).toEqual({ checking: 'awaitingLock' });
    expect(sut.lockCalls).toEqual(['request']);
    sut.actor.send({ type: 'LOCK_GRANTED', token: 7 });
    await flush();
    sut.pending.get('runHelper')!(exit(3));
    await flush();
    expect(sut.lockCalls).toEqual(['request', 'release:3']);
    expect(sut.actor.getSnapshot().context.failures).toBe(1);
    expect(sut.emitted).toEqual(['rebuild.started', 'rebuild.finished']);
  });
});
