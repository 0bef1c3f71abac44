import { describe, expect, it } from 'vitest';
import { msUntilAgesChange, renderStatus } from '../../src/cli/status-table.js';
import type { StatusResult, VolumeStatus } from '../../src/protocol/types.js';

function volume(over: Partial<VolumeStatus> = {}): VolumeStatus {
  return {
    id: 'path:/srv/a-rather-long-volume-root-name', root: '/srv/a-rather-long-volume-root-name', state: 'idle',
    lock: { state: 'unlocked', waiters: 0, token: 4 }, failures: 0, attempts: 0, stale: [], lastRebuild: null, ...over,
  };
}

function status(volumes: VolumeStatus[]): StatusResult {
  return { daemon: { state: 'running', version: '0.1.0', pid: 42, startedAt: 0 }, volumes, reboot: { state: 'free' } };
}

describe('status table', () => {
  it('shows the holder, waiters, token, failures and the first problem per volume', () => {
    const text = renderStatus(status([
      volume({ lock: { state: 'locked', holder: { client: 3, name: 'backup', pid: 99 }, waiters: 2, token: 5 }, failures: 1 }),
      volume({ id: 'path:/b', state: 'invalid', error: 'caches[0].output: must be a relative path' }),
      volume({ id: 'path:/c', stale: [{ name: 'out', reason: 'output missing' }] }),
    ]));
    const lines = text.split('\n');
    expect(lines[0]).toBe('daemon running (pid 42, version 0.1.0); reboot lock free');
    expect(lines[1]).toMatch(/^VOLUME\s+STATE\s+LOCK\s+WAITERS\s+TOKEN\s+FAILURES\s+LAST REBUILD\s+STALE\/ERROR$/);
    expect(lines[2]).toMatch(/^path:\/srv\/a-rather-long-volume-root-name\s+idle\s+backup\/99\?\s+2\s+5\s+1\s+-\s+-$/);
    expect(lines[3]).toMatch(/invalid\s+-\s+0\s+4\s+0\s+-\s+caches\[0\]\.output: must be a relative path$/);
    expect(lines[4]).toMatch(/out: output missing$/);
  });

  it('fits a narrow terminal by shortening the volume id from the left and the note at the end', () => {
    const text = renderStatus(status([volume({ error: 'a very long error message that would wrap in a narrow terminal window' })]), 60);
    for (const line of text.split('\n').slice(1)) expect(line.length).toBeLessThanOrEqual(60);
    expect(text).toContain('…');
  });

  it('shows the outcome, duration and age of the last rebuild', () => {
    const now = 1_700_000_000_000;
    const text = renderStatus(status([
      volume({ id: 'path:/a', lastRebuild: { status: 0, at: now - 12_000, durationMs: 26 } }),
      volume({ id: 'path:/b', lastRebuild: { status: 3, at: now - 5 * 60_000, durationMs: 1_400 } }),
      volume({ id: 'path:/c', lastRebuild: { status: 0, at: now - 3 * 3_600_000, durationMs: 95_000 } }),
      volume({ id: 'path:/d' }),
    ]), undefined, now);
    const cell = (id: string) => text.split('\n').find((l) => l.startsWith(`${id} `))!;
    expect(cell('path:/a')).toMatch(/\s0\s+ok 26ms 12s ago\s+-$/);
    expect(cell('path:/b')).toMatch(/\s0\s+exit 3 1\.4s 5m ago\s+-$/);
    expect(cell('path:/c')).toMatch(/\s0\s+ok 1m 3h ago\s+-$/);
    expect(cell('path:/d')).toMatch(/\s0\s+-\s+-$/);
  });

  it('keeps the last rebuild whole in a 100-column terminal, shortening the id and the note first', () => {
    const now = 1_700_000_000_000;
    const text = renderStatus(status([volume({ lastRebuild: { status: 0, at: now - 12_000, durationMs: 26 }, error: 'a long error message that does not fit' })]), 100, now);
    const lines = text.split('\n').slice(1);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(100);
    expect(lines[1]).toMatch(/^…[\w-]+-root-name\s.*\sok 26ms 12s ago\s+a long error message.*…$/);
  });

  it('keeps at least the outcome of the last rebuild in an 80-column terminal', () => {
    const now = 1_700_000_000_000;
    const text = renderStatus(status([volume({ lastRebuild: { status: 3, at: now - 12_000, durationMs: 26 }, error: 'a long error message that does not fit' })]), 80, now);
    const lines = text.split('\n').slice(1);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    expect(lines[0]).toContain('LAST REBUILD');
    expect(lines[1]).toContain('exit 3 26ms');
  });

  it('leaves the last rebuild out when even the shortened columns do not fit', () => {
    const now = 1_700_000_000_000;
    const text = renderStatus(status([volume({ lastRebuild: { status: 0, at: now - 12_000, durationMs: 26 } })]), 60, now);
    for (const line of text.split('\n').slice(1)) expect(line.length).toBeLessThanOrEqual(60);
    expect(text).not.toContain('LAST REBUILD');
    expect(text).not.toContain('ago');
    expect(text.split('\n')[2]).toMatch(/idle\s+-\s+0\s+4\s+0\s+-$/);
  });

  it('says how to make a volume when there is none', () => {
    expect(renderStatus(status([]))).toMatch(/no volumes/);
  });
});

describe('status in a narrow terminal', () => {
  const now = 1_700_000_000_000;
  const widest = (text: string) => Math.max(...text.split('\n').map((line) => line.length));

  it('stacks each volume under 60 columns: the whole id on a line, its facts indented below', () => {
    const text = renderStatus(status([
      volume({ id: 'path:/srv/data', lock: { state: 'unlocked', waiters: 0, token: 7 }, lastRebuild: { status: 0, at: now - 12_000, durationMs: 26 } }),
      volume({ id: 'path:/srv/b', lock: { state: 'locked', holder: { client: 3, name: 'backup', pid: 99 }, waiters: 2, token: 5 }, failures: 1 }),
    ]), 40, now);
    expect(widest(text)).toBeLessThanOrEqual(40);
    expect(text.split('\n')).toEqual([
      'daemon running · pid 42 · reboot free',
      'path:/srv/data',
      '  idle · unlocked · 0 waiting · token 7',
      '  0 failures · last ok 26ms 12s ago',
      'path:/srv/b',
      '  idle · locked by backup/99?',
      '  2 waiting · token 5 · 1 failure',
      '  never rebuilt',
    ]);
    expect(text).not.toContain('VOLUME');
  });

  it('keeps the reboot lock in a header cut to fit, dropping the pid and the version first', () => {
    const held = { ...status([volume()]), reboot: { state: 'held' as const, holder: { client: 9, name: 'shutdown', pid: 1 } } };
    expect(renderStatus(held, 53).split('\n')[0]).toBe('daemon running · pid 42 · reboot held by shutdown/1?');
    expect(renderStatus(held, 43).split('\n')[0]).toBe('daemon running · reboot held by shutdown/1?');
    expect(renderStatus(held, 41).split('\n')[0]).toBe('running · reboot held by shutdown/1?');
    expect(renderStatus(held, 20).split('\n')[0]).toBe('running · reboot he…');
  });

  it('cuts a long volume id from the left, and wraps its error onto at most three lines', () => {
    const text = renderStatus(status([volume({ state: 'invalid', error: 'caches[0].output: must be a relative path inside the volume root, not an absolute one' })]), 32, now);
    const lines = text.split('\n');
    expect(widest(text)).toBeLessThanOrEqual(32);
    expect(lines[1]).toBe('…/a-rather-long-volume-root-name');
    expect(lines.filter((line) => line.startsWith('  error: ') || line.startsWith('    '))).toHaveLength(3);
    expect(lines.at(-1)).toMatch(/…$/);
  });

  it('stacks rather than wraps when a long state name leaves even the short table too wide', () => {
    const lock = { state: 'locked' as const, holder: { client: 3, name: 'backup', pid: 99 }, waiters: 0, token: 4 };
    const text = renderStatus(status([volume({ state: 'rebuilding', lock, stale: [{ name: 'out', reason: 'output missing' }] })]), 60, now);
    expect(widest(text)).toBeLessThanOrEqual(60);
    expect(text).toContain('  rebuilding · locked by backup/99? · 0 waiting · token 4');
    expect(text).toContain('  stale: out: output missing');
  });

  it('never prints a line wider than the terminal, down to 12 columns', () => {
    const volumes = [
      volume({ lock: { state: 'locked', holder: { client: 3, name: 'a-long-holder-name', pid: 123456 }, waiters: 12, token: 99_999 }, lastRebuild: { status: 137, at: now - 3 * 86_400_000, durationMs: 95_000 } }),
      volume({ id: 'path:/b', state: 'gaveUp', error: 'gave up after 5 failed rebuilds: ./build.sh exited 3 (see the daemon log)' }),
    ];
    for (const width of [12, 20, 33, 45, 59, 60, 61, 80, 120]) expect(widest(renderStatus(status(volumes), width, now))).toBeLessThanOrEqual(width);
  });
});

describe('status table with hostile strings (issue 17)', () => {
  const ESC = '\x1b';

  it('prints no terminal control from a volume id, holder name or reason, in either layout', () => {
    const hostile = status([
      volume({
        id: `path:/srv/${ESC}]0;owned${'\x07'}`,
        lock: { state: 'locked', holder: { client: 3, name: `evil${ESC}[2J\u009b31m\u202e`, pid: 7 }, waiters: 0, token: 1 },
        stale: [{ name: 'out', reason: `src/${ESC}[1Ared.txt\nfake line is newer than cache/out.txt` }],
      }),
    ]);
    for (const width of [undefined, 120, 40]) {
      const text = renderStatus(hostile, width);
      expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
      if (width === undefined) {
        expect(text).toContain('evil\\x1b[2J\\x9b31m\\u{202e}/7?');
        expect(text).toContain('src/\\x1b[1Ared.txt\\x0afake line');
        expect(text.split('\n')).toHaveLength(3);
      }
    }
  });

  it("marks a client's pid as claimed and the daemon's own as its own", () => {
    const held = (client: number) => status([volume({ lock: { state: 'locked', holder: { client, name: 'volwarden', pid: 42 }, waiters: 0, token: 1 } })]);
    expect(renderStatus(held(0))).toMatch(/\svolwarden\/42\s/);
    expect(renderStatus(held(5))).toMatch(/\svolwarden\/42\?\s/);
  });
});

describe('ages in the status table', () => {
  const now = 1_700_000_000_000;
  const at = (ago: number) => status([volume({ lastRebuild: { status: 0, at: now - ago, durationMs: 5 } })]);

  it('says when the shown age next changes: the next second, minute, hour or day', () => {
    expect(msUntilAgesChange(at(12_300), now)).toBe(700);
    expect(msUntilAgesChange(at(5 * 60_000 + 10_000), now)).toBe(50_000);
    expect(msUntilAgesChange(at(3 * 3_600_000), now)).toBe(3_600_000);
    expect(msUntilAgesChange(at(3 * 86_400_000 + 1), now)).toBe(86_400_000 - 1);
  });

  it('has nothing to tick when no volume was rebuilt yet', () => {
    expect(msUntilAgesChange(status([volume()]), now)).toBeUndefined();
  });
});
