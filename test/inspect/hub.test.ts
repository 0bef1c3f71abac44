import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActor, createMachine, sendTo, SimulatedClock } from 'xstate';
import { WardenError } from '../../src/errors.js';
import { InspectionHub } from '../../src/inspect/hub.js';
import type { InspectRecord } from '../../src/inspect/records.js';
import { demoLockMachine, demoVolumeMachine } from './demo-machine.js';

function setupHub(options: { logLimit?: number; graceMs?: number } = {}) {
  const clock = new SimulatedClock();
  const hub = new InspectionHub({ clock, graceMs: options.graceMs ?? 1000, ...(options.logLimit === undefined ? {} : { logLimit: options.logLimit }) });
  const records: InspectRecord[] = [];
  hub.subscribe((record) => records.push(record));
  const startVolume = (root = '/demo') => createActor(demoVolumeMachine, {
    id: `volume:path:${root}`, inspect: hub.observer, clock, input: { id: `path:${root}`, root },
  }).start();
  return { clock, hub, records, startVolume };
}

describe('InspectionHub', () => {
  it('lists an actor with its kind, machine, state and small context once it starts', () => {
    const { hub, startVolume } = setupHub();
    startVolume();
    const [actor] = hub.actors();
    expect(actor).toMatchObject({
      id: 'volume:path:/demo', kind: 'volume', machineId: 'volume', parent: null,
      state: 'idle', status: 'active', context: { id: 'path:/demo', root: '/demo', checks: 0 },
    });
  });

  it('keeps the machine definition with descriptions, delays, guards and nesting', () => {
    const { hub, startVolume } = setupHub();
    startVolume();
    const [definition] = hub.machines();
    expect(definition?.id).toBe('volume');
    expect(definition?.description).toBe('A demo volume');
    const root = definition!.root;
    expect(root.initial).toBe('idle');
    expect(root.states.map((s) => s.key)).toEqual(['idle', 'busy', 'gone']);
    expect(root.transitions).toContainEqual({ event: 'REMOVE', targets: ['gone'], description: 'The volume disappeared' });
    const busy = root.states.find((s) => s.key === 'busy')!;
    expect(busy).toMatchObject({ type: 'compound', initial: 'settling', description: 'Something is happening on the volume' });
    const settling = busy.states.find((s) => s.key === 'settling')!;
    expect(settling.transitions).toContainEqual(expect.objectContaining({ targets: ['busy.checking'], delay: 60000, description: 'Quiet long enough' }));
    const checking = busy.states.find((s) => s.key === 'checking')!;
    expect(checking.transitions[0]).toMatchObject({ event: 'CHECKED', guard: 'isStale', targets: ['busy.settling'] });
    expect(checking.transitions[1]).toMatchObject({ event: 'CHECKED', targets: ['idle'] });
    expect(root.states.find((s) => s.key === 'gone')?.type).toBe('final');
    expect(JSON.parse(JSON.stringify(definition))).toEqual(definition);
  });

  it('announces each machine definition once, and registered machines before any actor', () => {
    const { hub, records, startVolume } = setupHub();
    hub.registerMachine(demoLockMachine);
    startVolume('/a');
    startVolume('/b');
    expect(records.filter((r) => r.kind === 'machine').map((r) => r.kind === 'machine' && r.machine.id)).toEqual(['lock', 'volume']);
    expect(hub.machines().map((m) => m.id)).toEqual(['lock', 'volume']);
  });

  it('follows state changes, including delayed transitions on the injected clock', () => {
    const { clock, hub, records, startVolume } = setupHub();
    const actor = startVolume();
    actor.send({ type: 'CHANGE' });
    expect(hub.actors()[0]?.state).toEqual({ busy: 'settling' });
    clock.increment(60000);
    expect(hub.actors()[0]).toMatchObject({ state: { busy: 'checking' }, context: { checks: 1 } });
    const states = records.flatMap((r) => (r.kind === 'actor' ? [r.actor.state] : []));
    expect(states).toEqual(['idle', { busy: 'settling' }, { busy: 'checking' }]);
  });

  it('logs every event but emits an actor record only when something visible changed', () => {
    const { hub, records, startVolume } = setupHub();
    const actor = startVolume();
    const before = records.length;
    actor.send({ type: 'PING' });
    const fresh = records.slice(before);
    expect(fresh).toEqual([{ kind: 'event', t: 0, type: 'PING', source: null, target: 'volume:path:/demo' }]);
    expect(hub.log().at(-1)).toMatchObject({ type: 'PING', target: 'volume:path:/demo' });
  });

  it('names the sending actor as the source of an event', () => {
    const { hub } = setupHub();
    const parent = createMachine({
      id: 'client',
      invoke: { id: 'lock:demo', src: demoLockMachine },
      on: { GO: { actions: sendTo('lock:demo', { type: 'LOCK' }) } },
    });
    const actor = createActor(parent, { id: 'client:1', inspect: hub.observer }).start();
    actor.send({ type: 'GO' });
    expect(hub.log()).toContainEqual(expect.objectContaining({ type: 'LOCK', source: 'client:1', target: 'lock:demo' }));
    const lock = hub.actors().find((a) => a.id === 'lock:demo');
    expect(lock).toMatchObject({ kind: 'lock', parent: 'client:1', state: 'locked' });
    expect(hub.actors().find((a) => a.id === 'client:1')?.kind).toBe('client');
  });

  it('names the client or waiter in the payload as the source of an event sent from outside any actor', () => {
    const { hub } = setupHub();
    const anyEvents = createMachine({ id: 'lock', on: { '*': {} } });
    const lock = createActor(anyEvents, { id: 'lock:path:/srv', inspect: hub.observer }).start();
    lock.send({ type: 'LOCK_REQUESTED', requestId: 'path:/srv#4', client: { client: 7, name: 'make' }, wait: true });
    lock.send({ type: 'CLIENT_DIED', client: 10 });
    lock.send({ type: 'WAITER_LEFT', waiterId: 'path:/srv#4' });
    lock.send({ type: 'LOCK_REQUESTED', requestId: 'path:/srv#5', client: { client: 0, name: 'volwarden' }, wait: true });
    lock.send({ type: 'VOLUME_GONE' });
    const sources = hub.log().filter((e) => e.type !== 'xstate.init').map((e) => [e.type, e.source, e.sourceFrom]);
    expect(sources).toEqual([
      ['LOCK_REQUESTED', 'client:7', 'payload'],
      ['CLIENT_DIED', 'client:10', 'payload'],
      ['WAITER_LEFT', 'waiter:path:/srv#4', 'payload'],
      // Client 0 is the daemon, asking for the lock on behalf of its volume.
      ['LOCK_REQUESTED', 'volume:path:/srv', 'payload'],
      ['VOLUME_GONE', null, undefined],
    ]);
  });

  it('prefers the sending actor xstate reports over a client named in the payload', () => {
    const { hub } = setupHub();
    const parent = createMachine({
      id: 'client',
      invoke: { id: 'lock:demo', src: demoLockMachine },
      on: { GO: { actions: sendTo('lock:demo', { type: 'LOCK', client: 9 }) } },
    });
    createActor(parent, { id: 'client:1', inspect: hub.observer }).start().send({ type: 'GO' });
    const lock = hub.log().find((e) => e.type === 'LOCK');
    expect(lock).toMatchObject({ source: 'client:1' });
    expect(lock?.sourceFrom).toBeUndefined();
  });

  it('keeps a stopped actor for the grace period so its final state shows, then removes it', () => {
    const { clock, hub, records, startVolume } = setupHub({ graceMs: 500 });
    const actor = startVolume();
    actor.stop();
    expect(hub.actors()[0]).toMatchObject({ id: 'volume:path:/demo', status: 'stopped' });
    clock.increment(499);
    expect(hub.actors()).toHaveLength(1);
    clock.increment(1);
    expect(hub.actors()).toEqual([]);
    expect(records.at(-1)).toMatchObject({ kind: 'removed', id: 'volume:path:/demo' });
  });

  it('removes an actor that reached a final state after the grace period', () => {
    const { clock, hub, startVolume } = setupHub({ graceMs: 100 });
    const actor = startVolume();
    actor.send({ type: 'REMOVE' });
    expect(hub.actors()[0]).toMatchObject({ state: 'gone', status: 'done' });
    clock.increment(100);
    expect(hub.actors()).toEqual([]);
  });

  it('bounds the event log, keeping the newest events', () => {
    const { hub, startVolume } = setupHub({ logLimit: 5 });
    const actor = startVolume();
    for (let i = 0; i < 20; i += 1) actor.send({ type: 'PING' });
    actor.send({ type: 'CHANGE' });
    const log = hub.log();
    expect(log).toHaveLength(5);
    expect(log.at(-1)?.type).toBe('CHANGE');
  });

  it('never throws into xstate, even on an inspection event it does not understand', () => {
    const { hub } = setupHub();
    expect(() => hub.observer({ type: '@xstate.snapshot', actorRef: {}, snapshot: null } as never)).not.toThrow();
    expect(() => hub.observer(null as never)).not.toThrow();
  });

  it('keeps other listeners running when one throws', () => {
    const { hub, records, startVolume } = setupHub();
    hub.subscribe(() => {
      throw new Error('boom');
    });
    const actor = startVolume();
    actor.send({ type: 'PING' });
    expect(records.some((r) => r.kind === 'event' && r.type === 'PING')).toBe(true);
  });

  it('stops emitting after close', async () => {
    const { hub, records, startVolume } = setupHub();
    const actor = startVolume();
    await hub.close();
    const before = records.length;
    actor.send({ type: 'CHANGE' });
    expect(records.length).toBe(before);
  });
});

describe('InspectionHub.record', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'volwarden-hub-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the machine definitions first, the live actors next, then one timed record per line', async () => {
    const { clock, hub, startVolume } = setupHub();
    hub.registerMachine(demoLockMachine);
    const actor = startVolume();
    clock.increment(250);
    const path = join(dir, 'trace.jsonl');
    const recorder = await hub.record(path);
    actor.send({ type: 'CHANGE' });
    await recorder.close();
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n').map((line) => JSON.parse(line) as InspectRecord);
    expect(lines[0]).toMatchObject({ kind: 'machines', t: 250 });
    expect(lines[0]?.kind === 'machines' && lines[0].machines.map((m) => m.id)).toEqual(['lock', 'volume']);
    expect(lines[1]).toMatchObject({ kind: 'actors', actors: [expect.objectContaining({ id: 'volume:path:/demo', state: 'idle' })] });
    expect(lines.slice(2)).toEqual([
      { kind: 'event', t: 250, type: 'CHANGE', source: null, target: 'volume:path:/demo' },
      expect.objectContaining({ kind: 'actor', t: 250, actor: expect.objectContaining({ state: { busy: 'settling' } }) }),
    ]);
    expect(recorder.dropped).toBe(0);
  });

  it('leaves out the actors line when nothing is alive yet', async () => {
    const { hub } = setupHub();
    const path = join(dir, 'empty.jsonl');
    const recorder = await hub.record(path);
    await recorder.close();
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({ kind: 'machines', t: 0, machines: [] });
  });

  it('stops at the size limit and says so in a dropped line', async () => {
    const { hub, startVolume } = setupHub();
    const actor = startVolume();
    const path = join(dir, 'small.jsonl');
    const recorder = await hub.record(path, { maxFileBytes: 2000 });
    for (let i = 0; i < 100; i += 1) actor.send({ type: 'PING' });
    await recorder.close();
    const text = await readFile(path, 'utf8');
    const last = JSON.parse(text.trimEnd().split('\n').at(-1)!) as InspectRecord;
    expect(last).toMatchObject({ kind: 'dropped', reason: expect.stringContaining('size limit') });
    expect(recorder.dropped).toBeGreaterThan(0);
    expect(text.length).toBeLessThan(2200);
  });

  it('drops records while the disk falls behind and notes how many', async () => {
    const { hub, startVolume } = setupHub();
    const actor = startVolume();
    const path = join(dir, 'slow.jsonl');
    const recorder = await hub.record(path, { maxBufferBytes: 1 });
    for (let i = 0; i < 50; i += 1) actor.send({ type: 'PING' });
    expect(recorder.dropped).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    actor.send({ type: 'CHANGE' });
    await recorder.close();
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n').map((line) => JSON.parse(line) as InspectRecord);
    const noteIndex = lines.findIndex((l) => l.kind === 'dropped');
    expect(lines[noteIndex]).toMatchObject({ kind: 'dropped', reason: 'the trace writer fell behind', count: expect.any(Number) });
    expect(lines[noteIndex + 1]).toMatchObject({ kind: 'event', type: 'CHANGE' });
  });

  it('rejects with a one-line WardenError when the file cannot be written', async () => {
    const { hub } = setupHub();
    const error = await hub.record(join(dir, 'missing', 'trace.jsonl')).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(WardenError);
    expect((error as WardenError).message).toMatch(/^cannot write the trace file .*trace\.jsonl: ENOENT$/);
  });

  it('closes open recorders when the hub closes', async () => {
    const { hub, startVolume } = setupHub();
    startVolume();
    const path = join(dir, 'closed.jsonl');
    await hub.record(path);
    await hub.close();
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(2);
  });
});

describe('InspectionHub with nobody watching', () => {
  it('keeps the present current without listeners and summarizes it only when asked', () => {
    const clock = new SimulatedClock();
    const hub = new InspectionHub({ clock, graceMs: 1000 });
    const volume = createActor(demoVolumeMachine, { id: 'volume:path:/lazy', inspect: hub.observer, clock, input: { id: 'path:/lazy', root: '/lazy' } }).start();
    volume.send({ type: 'CHANGE' });
    expect(hub.actors()).toMatchObject([{ id: 'volume:path:/lazy', state: { busy: 'settling' }, context: { root: '/lazy' } }]);

    const records: InspectRecord[] = [];
    hub.subscribe((record) => records.push(record));
    volume.send({ type: 'PING' });
    volume.send({ type: 'REMOVE' });
    expect(records.filter((r) => r.kind === 'actor').map((r) => r.kind === 'actor' && r.actor.state)).toEqual(['gone']);
    clock.increment(1000);
    expect(records.at(-1)).toMatchObject({ kind: 'removed', id: 'volume:path:/lazy' });
    expect(hub.actors()).toEqual([]);
  });

  it('still drops a finished actor after the grace period when nobody watches', () => {
    const clock = new SimulatedClock();
    const hub = new InspectionHub({ clock, graceMs: 1000 });
    const volume = createActor(demoVolumeMachine, { id: 'volume:path:/gone', inspect: hub.observer, clock, input: { id: 'path:/gone', root: '/gone' } }).start();
    volume.send({ type: 'REMOVE' });
    expect(hub.actors()).toMatchObject([{ state: 'gone', status: 'done' }]);
    clock.increment(1000);
    expect(hub.actors()).toEqual([]);
  });
});
