import { describe, expect, it } from 'vitest';
import { renderStatus } from '../../src/cli/status-table.js';
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
    expect(lines[2]).toMatch(/^path:\/srv\/a-rather-long-volume-root-name\s+idle\s+backup\/99\s+2\s+5\s+1\s+-\s+-$/);
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
