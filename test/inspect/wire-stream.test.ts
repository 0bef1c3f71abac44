import { setImmediate as nextTick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { InspectionHub } from '../../src/inspect/hub.js';
import type { InspectRecord } from '../../src/inspect/records.js';
import { streamInspection } from '../../src/inspect/wire-stream.js';
import { demoVolumeMachine } from './demo-machine.js';

function sink() {
  const frames: { id: number; records: InspectRecord[] }[] = [];
  return { frames, closed: false, send: (frame: object) => void frames.push(frame as { id: number; records: InspectRecord[] }) };
}

describe('streamInspection', () => {
  it('snapshots the present, then sends later records in one 2001 frame per tick', async () => {
    const hub = new InspectionHub();
    const volume = createActor(demoVolumeMachine, { id: 'volume:path:/a', inspect: hub.observer, input: { id: 'path:/a', root: '/a' } }).start();
    const out = sink();
    const stream = streamInspection(hub, out);
    expect(stream.snapshot.machines.map((m) => m.id)).toEqual(['volume']);
    expect(stream.snapshot.actors.map((a) => [a.id, a.state])).toEqual([['volume:path:/a', 'idle']]);
    volume.send({ type: 'CHANGE' });
    volume.send({ type: 'PING' });
    expect(out.frames).toEqual([]);
    await nextTick();
    expect(out.frames).toHaveLength(1);
    expect(out.frames[0]!.id).toBe(2001);
    expect(out.frames[0]!.records.map((r) => r.kind)).toEqual(['event', 'actor', 'event']);
    stream.stop();
    volume.send({ type: 'REMOVE' });
    await nextTick();
    expect(out.frames).toHaveLength(1);
    await hub.close();
  });

  it('splits a burst into frames of at most maxBatch records', async () => {
    const hub = new InspectionHub();
    const out = sink();
    streamInspection(hub, out, { maxBatch: 2 });
    const volume = createActor(demoVolumeMachine, { id: 'volume:path:/a', inspect: hub.observer, input: { id: 'path:/a', root: '/a' } }).start();
    for (let i = 0; i < 4; i += 1) volume.send({ type: 'PING' });
    await nextTick();
    expect(out.frames.length).toBeGreaterThanOrEqual(3);
    expect(out.frames.every((f) => f.records.length <= 2)).toBe(true);
    await hub.close();
  });

  it('stops by itself once the connection is closed', async () => {
    const hub = new InspectionHub();
    const out = sink();
    streamInspection(hub, out);
    const volume = createActor(demoVolumeMachine, { id: 'volume:path:/a', inspect: hub.observer, input: { id: 'path:/a', root: '/a' } }).start();
    out.closed = true;
    await nextTick();
    volume.send({ type: 'PING' });
    await nextTick();
    expect(out.frames).toEqual([]);
    await hub.close();
  });
});
