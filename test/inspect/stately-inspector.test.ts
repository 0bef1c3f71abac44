import { createInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import { describe, expect, it } from 'vitest';
import { createWarden, FakeProcesses, MemoryFs, MemoryMountTable, MemoryStateStore, simulatedClock } from '../../src/index.js';

// SPEC §12 `inspect`: any xstate v5 inspection observer can watch a warden. @statelyai/inspect is
// the maintained successor of @xstate/inspect (which only speaks xstate v4); its inspector takes
// an adapter, so an in-memory one shows what Stately's tools would be sent.
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

describe('a Stately inspector on a warden', () => {
  it('is sent every warden actor, its definition, snapshots and events', async () => {
    const sent: StatelyInspectionEvent[] = [];
    const inspector = createInspector({ send: (event) => void sent.push(event) });
    const clock = simulatedClock(0);
    const fs = new MemoryFs({ uid: 1000 });
    fs.writeFile('/vol/.volwarden.json', JSON.stringify({ version: 1, caches: [{ name: 'out', output: 'cache/out.txt', sources: ['src'] }], command: ['./build.sh'] }), { uid: 1000, mode: 0o644 });
    fs.writeFile('/vol/src/a.txt', 'alpha');
    const processes = new FakeProcesses({ clock, onRun: (run) => run.exit(0) });
    const warden = createWarden({
      roots: ['/vol'],
      daemonUid: 1000,
      inspect: inspector.inspect,
      adapters: { fs, clock, processes, mounts: new MemoryMountTable(), state: new MemoryStateStore() },
    });
    await warden.start();
    const lease = await warden.lockVolume('/vol', { wait: true, owner: 'stately-test' });
    await lease.release(0);
    await settle();
    await warden.stop();
    inspector.stop();

    const actors = sent.filter((e) => e.type === '@xstate.actor');
    const names = actors.map((e) => e.name);
    for (const id of ['warden', 'volume:path:/vol', 'lock:path:/vol', 'rebootLock']) expect(names).toContain(id);
    expect(names.some((name) => name.startsWith('client:'))).toBe(true);
    // Stately draws the machine from the definition it is sent with each actor.
    const volume = actors.find((e) => e.name === 'volume:path:/vol')!;
    expect(JSON.parse(volume.definition!)).toMatchObject({ id: 'volume', states: { idle: {}, rebuilding: {} } });
    const lockEvents = sent.filter((e) => e.type === '@xstate.event' && e.event.type === 'LOCK_REQUESTED');
    expect(lockEvents.length).toBeGreaterThanOrEqual(2);
    const volumeStates = sent
      .filter((e): e is Extract<StatelyInspectionEvent, { type: '@xstate.snapshot' }> => e.type === '@xstate.snapshot')
      .filter((e) => sent.some((a) => a.type === '@xstate.actor' && a.name === 'volume:path:/vol' && a.sessionId === e.sessionId))
      .map((e) => JSON.stringify((e.snapshot as { value: unknown }).value));
    expect(volumeStates).toContain('"idle"');
    expect(volumeStates.some((v) => v.includes('rebuilding'))).toBe(true);
  });
});
