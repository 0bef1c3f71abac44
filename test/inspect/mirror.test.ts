import { describe, expect, it } from 'vitest';
import { InspectionMirror } from '../../src/inspect/mirror.js';
import type { ActorInfo, InspectRecord, MachineDefinition } from '../../src/inspect/records.js';

const machine = (id: string): MachineDefinition => ({ id, root: { key: id, path: '', type: 'compound', transitions: [], states: [] } });
const actor = (sessionId: string, id: string, state: string): ActorInfo => ({
  sessionId, id, kind: 'volume', machineId: 'volume', parent: null, state, status: 'active', context: {},
});

describe('InspectionMirror', () => {
  it('starts from the daemon\'s snapshot', () => {
    const mirror = new InspectionMirror({
      machines: [machine('volume')],
      actors: [actor('x:1', 'volume:path:/a', 'idle')],
      log: [{ kind: 'event', t: 1, type: 'PING', source: null, target: 'volume:path:/a' }],
    });
    expect(mirror.machines().map((m) => m.id)).toEqual(['volume']);
    expect(mirror.actors()).toEqual([actor('x:1', 'volume:path:/a', 'idle')]);
    expect(mirror.log().map((e) => e.type)).toEqual(['PING']);
  });

  it('applies streamed records as the page does and passes each one on to its listeners', () => {
    const mirror = new InspectionMirror({ machines: [], actors: [actor('x:1', 'volume:path:/a', 'idle')] });
    const passed: InspectRecord[] = [];
    const unsubscribe = mirror.subscribe((r) => passed.push(r));
    const records: InspectRecord[] = [
      { kind: 'machine', t: 2, machine: machine('lock') },
      { kind: 'actor', t: 3, actor: actor('x:1', 'volume:path:/a', 'settling') },
      { kind: 'actor', t: 3, actor: actor('x:2', 'volume:path:/b', 'idle') },
      { kind: 'event', t: 4, type: 'FS_CHANGE', source: null, target: 'volume:path:/a' },
      { kind: 'removed', t: 5, sessionId: 'x:2', id: 'volume:path:/b' },
      { kind: 'dropped', t: 6, count: 3, reason: 'test' },
    ];
    for (const record of records) mirror.apply(record);
    expect(passed).toEqual(records);
    expect(mirror.machines().map((m) => m.id)).toEqual(['lock']);
    expect(mirror.actors().map((a) => [a.id, a.state])).toEqual([['volume:path:/a', 'settling']]);
    expect(mirror.log().map((e) => e.type)).toEqual(['FS_CHANGE']);
    unsubscribe();
    mirror.apply({ kind: 'actors', t: 7, actors: [] });
    expect(passed).toHaveLength(records.length);
    expect(mirror.actors()).toEqual([]);
  });

  it('keeps at most logLimit events', () => {
    const mirror = new InspectionMirror({ machines: [], actors: [] }, { logLimit: 2 });
    for (const type of ['A', 'B', 'C']) mirror.apply({ kind: 'event', t: 1, type, source: null, target: 't' });
    expect(mirror.log().map((e) => e.type)).toEqual(['B', 'C']);
  });
});
