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
    expect(lines[2]).toMatch(/^path:\/srv\/a-rather-long-volume-root-name\s+idle\s+backup\/99\s+2\s+5\s+1\s+-$/);
    expect(lines[3]).toMatch(/invalid\s+-\s+0\s+4\s+0\s+caches\[0\]\.output: must be a relative path$/);
    expect(lines[4]).toMatch(/out: output missing$/);
  });

  it('fits a narrow terminal by shortening the volume id from the left and the note at the end', () => {
    const text = renderStatus(status([volume({ error: 'a very long error message that would wrap in a narrow terminal window' })]), 60);
    for (const line of text.split('\n').slice(1)) expect(line.length).toBeLessThanOrEqual(60);
    expect(text).toContain('…');
  });

  it('says how to make a volume when there is none', () => {
    expect(renderStatus(status([]))).toMatch(/no volumes/);
  });
});
