import { describe, expect, it } from 'vitest';
import { formatEvent, formatEventJson } from '../../src/cli/format-event.js';
import type { WardenEvent } from '../../src/protocol/events.js';

describe('subscribe output', () => {
  const ts = new Date(2024, 0, 2, 14, 3, 7, 21).getTime();

  it('prints time, n, volume, type and the remaining fields as key=value', () => {
    const event: WardenEvent = { type: 'lock.released', volume: 'path:/d', ts, n: 7, holder: { client: 1, name: 'backup', pid: 4242 }, status: 0 };
    expect(formatEvent(event)).toBe('14:03:07.021 7 path:/d lock.released holder=backup/4242? status=0');
    const changed: WardenEvent = { type: 'volume.changed', volume: 'path:/d', ts, n: 8, paths: ['a b.txt', 'c'] };
    expect(formatEvent(changed)).toBe('14:03:07.021 8 path:/d volume.changed paths="a b.txt",c');
  });

  it('escapes terminal controls in file names and holder names, as text and as JSON (issue 17)', () => {
    const changed: WardenEvent = { type: 'volume.changed', volume: 'path:/d', ts, n: 9, paths: ['\x1b]0;pwned\x07.txt', 'ok.txt', 'a\u009b2J'] };
    const line = formatEvent(changed);
    expect(line).toBe('14:03:07.021 9 path:/d volume.changed paths="\\u001b]0;pwned\\u0007.txt",ok.txt,"a\\u009b2J"');
    const json = formatEventJson(changed);
    expect(json).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(JSON.parse(json)).toEqual(changed);
    const held: WardenEvent = { type: 'lock.granted', volume: 'path:/d', ts, n: 10, holder: { client: 2, name: 'x\x1b[31m', pid: 1 }, token: 3 };
    expect(formatEvent(held)).toContain('holder=x\\x1b[31m/1?');
  });

  it('prints the event itself as one JSON line', () => {
    const event: WardenEvent = { type: 'volume.ready', volume: 'path:/d', ts, n: 1 };
    expect(JSON.parse(formatEventJson(event))).toEqual(event);
  });
});
