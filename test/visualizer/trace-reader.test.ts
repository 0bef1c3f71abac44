import { describe, expect, it } from 'vitest';
import type { InspectRecord, MachineDefinition } from '../../src/inspect/records.js';
import { readTrace, TraceReplay } from '../../visualizer/src/trace-reader.js';

const machine: MachineDefinition = {
  id: 'lock',
  root: {
    key: '(machine)', path: '', type: 'compound', initial: 'unlocked', transitions: [],
    states: [
      { key: 'unlocked', path: 'unlocked', type: 'atomic', transitions: [{ event: 'LOCK', targets: ['locked'] }], states: [] },
      { key: 'locked', path: 'locked', type: 'atomic', transitions: [{ event: 'UNLOCK', targets: ['unlocked'] }], states: [] },
    ],
  },
};
const actor = (state: string) => ({ sessionId: 'x:1', id: 'lock:path:/a', kind: 'lock', machineId: 'lock', parent: null, state, status: 'active', context: {} });
const records: InspectRecord[] = [
  { kind: 'machines', t: 0, machines: [machine] },
  { kind: 'actor', t: 1, actor: actor('unlocked') as never },
  { kind: 'event', t: 2, type: 'LOCK', source: 'client:1', target: 'lock:path:/a' },
  { kind: 'actor', t: 2, actor: actor('locked') as never },
  { kind: 'removed', t: 3, sessionId: 'x:1', id: 'lock:path:/a' },
];
const jsonl = (lines: unknown[]) => `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`;

describe('readTrace', () => {
  it('reads the header and every record in order', () => {
    const result = readTrace(jsonl(records));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.trace.machines).toEqual([machine]);
    expect(result.trace.records.map((r) => r.kind)).toEqual(['actor', 'event', 'actor', 'removed']);
  });

  it('accepts blank lines and a missing final newline when the last line is whole', () => {
    const text = `${JSON.stringify(records[0])}\n\n${JSON.stringify(records[2])}`;
    expect(readTrace(text)).toMatchObject({ ok: true, trace: { records: [{ kind: 'event' }] } });
  });

  it('loads every record before a last line that was cut off, with a note saying so', () => {
    const text = jsonl(records.slice(0, 3)) + JSON.stringify(records[3]).slice(0, 30);
    const result = readTrace(text);
    expect(result).toMatchObject({ ok: true, trace: { machines: [machine], records: [{ kind: 'actor' }, { kind: 'event' }] } });
    expect(result.ok && result.note).toBe('the last line (4) is cut off, as when the daemon is killed or the file is copied while it is written: showing the 2 record(s) before it');
  });

  it('gives no note for a whole trace', () => {
    const result = readTrace(jsonl(records));
    expect(result.ok && result.note).toBeUndefined();
  });

  it('still rejects a trace whose only line, the header, was cut off', () => {
    expect(readTrace(JSON.stringify(records[0]).slice(0, 40))).toEqual({ ok: false, line: 1, error: 'line 1 is cut off: the trace looks truncated (was the daemon still writing it?)' });
  });

  it('still rejects a cut line in the middle, or a broken last line the writer finished with a newline', () => {
    const middle = `${JSON.stringify(records[0])}\n${JSON.stringify(records[1]).slice(0, 30)}\n${JSON.stringify(records[2])}`;
    const result = readTrace(middle);
    expect(result).toMatchObject({ ok: false, line: 2 });
    expect(!result.ok && result.error).toMatch(/^line 2 is not valid JSON/);
    const finished = `${jsonl(records.slice(0, 2))}${JSON.stringify(records[2]).slice(0, 30)}\n`;
    expect(readTrace(finished)).toMatchObject({ ok: false, line: 3 });
  });

  it('names the line that is not JSON', () => {
    const text = `${JSON.stringify(records[0])}\n{oops\n${JSON.stringify(records[2])}\n`;
    const result = readTrace(text);
    expect(result).toMatchObject({ ok: false, line: 2 });
    expect(!result.ok && result.error).toMatch(/^line 2 is not valid JSON/);
  });

  it('rejects a file that does not start with machine definitions', () => {
    const result = readTrace(jsonl(records.slice(2)));
    expect(result).toMatchObject({ ok: false, line: 1 });
    expect(!result.ok && result.error).toContain('volwarden daemon --record');
  });

  it('rejects an empty file', () => {
    expect(readTrace('')).toEqual({ ok: false, error: 'the file is empty: a trace starts with a line of machine definitions' });
    expect(readTrace('\n\n')).toMatchObject({ ok: false });
  });

  it('rejects records of the wrong shape, naming the line', () => {
    expect(readTrace(jsonl([records[0], { kind: 'event', t: 1, type: 5, target: 'x', source: null }]))).toMatchObject({ ok: false, line: 2, error: 'line 2: the event is malformed' });
    expect(readTrace(jsonl([records[0], { kind: 'teleport', t: 1 }]))).toMatchObject({ ok: false, error: 'line 2: unknown record kind "teleport"' });
    expect(readTrace(jsonl([records[0], [1, 2]]))).toMatchObject({ ok: false, line: 2 });
    expect(readTrace(jsonl([records[0], { kind: 'event', type: 'A', target: 'x', source: null }]))).toMatchObject({ ok: false, error: 'line 2: the event record has no time ("t")' });
    expect(readTrace(jsonl([{ kind: 'machines', t: 0, machines: [{ id: 'm', root: { key: 'r' } }] }]))).toMatchObject({ ok: false, error: 'line 1: the machine definitions are malformed' });
  });
});

describe('TraceReplay', () => {
  const result = readTrace(jsonl(records));
  if (!result.ok) throw new Error(result.error);
  const replay = new TraceReplay(result.trace, 2);

  it('knows the first step with actors in view, where the page opens the trace', () => {
    expect(replay.firstActorStep).toBe(1);
    const late = readTrace(jsonl([records[0], records[2], records[1], records[3]]));
    if (!late.ok) throw new Error(late.error);
    expect(new TraceReplay(late.trace).firstActorStep).toBe(2);
    const none = readTrace(jsonl([records[0], records[2]]));
    if (!none.ok) throw new Error(none.error);
    expect(new TraceReplay(none.trace).firstActorStep).toBe(1);
  });

  it('starts with the definitions and no actors', () => {
    const view = replay.viewAt(0);
    expect(Object.keys(view.machines)).toEqual(['lock']);
    expect(view.actors).toEqual({});
    expect(replay.recordAt(0)).toBeUndefined();
  });

  it('shows each step in turn, forward and back', () => {
    expect(replay.lastStep).toBe(4);
    expect(replay.viewAt(1).actors['x:1']?.state).toBe('unlocked');
    expect(replay.viewAt(2).log.map((e) => e.type)).toEqual(['LOCK']);
    expect(replay.viewAt(3).actors['x:1']?.state).toBe('locked');
    expect(replay.viewAt(4).actors).toEqual({});
    expect(replay.viewAt(1).actors['x:1']?.state).toBe('unlocked');
    expect(replay.recordAt(2)).toMatchObject({ kind: 'event', type: 'LOCK' });
  });

  it('clamps steps outside the trace', () => {
    expect(replay.viewAt(-5).actors).toEqual({});
    expect(replay.viewAt(99).t).toBe(3);
  });

  it('gives views that do not share state with each other', () => {
    const a = replay.viewAt(3);
    a.log.push({ kind: 'event', t: 9, type: 'X', source: null, target: 'y' });
    delete a.actors['x:1'];
    expect(replay.viewAt(3).log).toHaveLength(1);
    expect(replay.viewAt(3).actors['x:1']).toBeDefined();
  });

  it('matches a straight replay at every step of a long trace', () => {
    const many: InspectRecord[] = [records[0]!];
    for (let i = 0; i < 1000; i += 1) many.push({ kind: 'event', t: i, type: `E${i}`, source: null, target: 't' });
    const long = readTrace(jsonl(many));
    if (!long.ok) throw new Error(long.error);
    const steps = new TraceReplay(long.trace);
    for (const step of [0, 1, 249, 250, 251, 999, 1000]) {
      const view = steps.viewAt(step);
      expect(view.log.length).toBe(Math.min(step, 2000));
      expect(view.log.at(-1)?.type).toBe(step === 0 ? undefined : `E${step - 1}`);
    }
  });
});
