import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { coalesceRedraws, concernsStatus, followStatus, REDRAW_GAP_MS, type FollowIO } from '../../src/cli/status-follow.js';
import { CliError } from '../../src/cli/exit-codes.js';
import { WardenError } from '../../src/errors.js';
import type { ActorInfo, InspectRecord } from '../../src/inspect/records.js';
import type { StatusResult } from '../../src/protocol/types.js';

const NOW = 1_700_000_000_000;

function status(waiters = 0, lastRebuildAgo?: number): StatusResult {
  return {
    daemon: { state: 'running', version: '0.1.0', pid: 42, startedAt: 0 },
    reboot: { state: 'free' },
    volumes: [{
      id: 'path:/srv/data', root: '/srv/data', state: 'idle', lock: { state: 'unlocked', waiters, token: 3 },
      failures: 0, attempts: 0, stale: [],
      lastRebuild: lastRebuildAgo === undefined ? null : { status: 0, at: NOW - lastRebuildAgo, durationMs: 20 },
    }],
  };
}

/** A follow loop on fakes: a daemon whose status the test sets, a change feed it pokes, a screen it reads. */
function harness(options: { tty?: boolean; json?: boolean; width?: number; volume?: string; initial?: StatusResult; fetch?: () => Promise<StatusResult>; pollBusyMs?: number } = {}) {
  const signals = new EventEmitter();
  const frames: string[] = [];
  let current = options.initial ?? status();
  let width = options.width;
  let watcher: { changed(): void; lost(reason: string): void } | undefined;
  let watchedVolume: () => string | undefined = () => undefined;
  const unwatch = vi.fn();
  const fetch = vi.fn(options.fetch ?? (async () => current));
  const io: FollowIO = {
    volume: options.volume,
    fetch,
    watch(volumeId, on) {
      watchedVolume = volumeId;
      watcher = on;
      return unwatch;
    },
    write: (text) => void frames.push(text),
    width: () => width,
    tty: options.tty ?? false,
    json: options.json ?? false,
    signals: signals as unknown as FollowIO['signals'],
    ...(options.pollBusyMs !== undefined ? { pollBusyMs: options.pollBusyMs } : {}),
  };
  const done = followStatus(io);
  done.catch(() => {});
  return {
    done, frames, fetch, unwatch, signals,
    set status(next: StatusResult) {
      current = next;
    },
    set width(next: number | undefined) {
      width = next;
    },
    changed: () => watcher!.changed(),
    lost: (reason: string) => watcher!.lost(reason),
    watchedVolume: () => watchedVolume(),
  };
}

describe('status --follow loop', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('should look again every pollBusyMs while a lock is held without the inspection stream, and stop once it is free', async () => {
    const locked: StatusResult = { ...status(0), volumes: [{ ...status(0).volumes[0]!, lock: { state: 'locked', holder: { client: 3, name: 'a', pid: 1 }, waiters: 0, token: 4 } }] };
    const h = harness({ initial: locked, pollBusyMs: 1000 });
    await vi.advanceTimersByTimeAsync(0);
    expect(h.fetch).toHaveBeenCalledTimes(1);
    h.status = { ...locked, volumes: [{ ...locked.volumes[0]!, lock: { ...locked.volumes[0]!.lock, waiters: 1 } }] };
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.fetch).toHaveBeenCalledTimes(2);
    expect(h.frames.at(-1)).toMatch(/\s1\s+4\s/);
    h.status = status(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.fetch).toHaveBeenCalledTimes(3);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.fetch).toHaveBeenCalledTimes(3);
    h.signals.emit('SIGINT');
    await h.done;
  });

  it('should draw once and then nothing while nothing changes: no status is fetched on a timer', async () => {
    const h = harness();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.frames).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.fetch).toHaveBeenCalledTimes(1);
    expect(h.frames).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('should fetch and redraw when the feed reports a change', async () => {
    const h = harness();
    await vi.advanceTimersByTimeAsync(REDRAW_GAP_MS);
    h.status = status(1);
    h.changed();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.fetch).toHaveBeenCalledTimes(2);
    expect(h.frames).toHaveLength(2);
    expect(h.frames[1]).toMatch(/^\ndaemon running/);
    expect(h.frames[1]).toMatch(/\sidle\s+-\s+1\s+3\s/);
  });

  it('should coalesce a burst of changes into one fetch per gap', async () => {
    const h = harness();
    await vi.advanceTimersByTimeAsync(REDRAW_GAP_MS);
    for (let i = 0; i < 50; i++) {
      h.status = status(i);
      h.changed();
      await vi.advanceTimersByTimeAsync(5);
    }
    await vi.advanceTimersByTimeAsync(REDRAW_GAP_MS);
    // 250 ms of changes: one fetch at the first, then one per 100 ms gap, and the last state drawn.
    expect(h.fetch.mock.calls.length).toBeGreaterThanOrEqual(3);
    expect(h.fetch.mock.calls.length).toBeLessThanOrEqual(5);
    expect(h.frames.at(-1)).toMatch(/\sidle\s+-\s+49\s+3\s/);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('should not print a table identical to the last one into a pipe', async () => {
    const h = harness();
    await vi.advanceTimersByTimeAsync(REDRAW_GAP_MS);
    h.changed();
    await vi.advanceTimersByTimeAsync(REDRAW_GAP_MS);
    expect(h.fetch).toHaveBeenCalledTimes(2);
    expect(h.frames).toHaveLength(1);
  });

  it('should redraw a terminal in place on SIGWINCH, at the new width, without fetching', async () => {
    const h = harness({ tty: true, width: 100 });
    await vi.advanceTimersByTimeAsync(0);
    expect(h.frames[0]).toMatch(/^\x1b\[H\x1b\[2J/);
    expect(h.frames[0]).toContain('VOLUME');
    h.width = 40;
    h.signals.emit('SIGWINCH');
    expect(h.fetch).toHaveBeenCalledTimes(1);
    expect(h.frames).toHaveLength(2);
    expect(h.frames[1]).toMatch(/^\x1b\[H(?!\x1b\[2J)/);
    expect(h.frames[1]).toContain('path:/srv/data\x1b[K\n  idle · unlocked · 0 waiting · token 3\x1b[K');
    expect(h.frames[1]).toMatch(/\x1b\[J$/);
  });

  it('should tick the ages of a terminal from the status it has, once per shown unit', async () => {
    const h = harness({ tty: true, width: 100, initial: status(0, 12_000) });
    await vi.advanceTimersByTimeAsync(0);
    expect(h.frames.at(-1)).toContain('12s ago');
    await vi.advanceTimersByTimeAsync(3_010);
    expect(h.frames.map((f) => /(\d+)s ago/.exec(f)?.[1])).toEqual(['12', '13', '14', '15']);
    expect(h.fetch).toHaveBeenCalledTimes(1);
  });

  it('should leave the ages of a pipe alone: a log gets a table per change only', async () => {
    const h = harness({ width: 100, initial: status(0, 12_000) });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.frames).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('should print one JSON line per change with --json, without screen control even in a terminal', async () => {
    const h = harness({ json: true, tty: true });
    await vi.advanceTimersByTimeAsync(REDRAW_GAP_MS);
    h.status = status(2);
    h.changed();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.frames.map((f) => JSON.parse(f).volumes[0].lock.waiters)).toEqual([0, 2]);
    expect(h.frames.join('')).not.toContain('\x1b');
  });

  it('should resolve on SIGINT and on SIGTERM and stop watching', async () => {
    for (const signal of ['SIGINT', 'SIGTERM']) {
      const h = harness();
      await vi.advanceTimersByTimeAsync(0);
      h.signals.emit(signal);
      await expect(h.done).resolves.toBeUndefined();
      expect(h.unwatch).toHaveBeenCalledTimes(1);
      expect(h.signals.listenerCount('SIGINT') + h.signals.listenerCount('SIGTERM') + h.signals.listenerCount('SIGWINCH')).toBe(0);
    }
  });

  it('should fail with exit 69 once the daemon goes away', async () => {
    const h = harness();
    await vi.advanceTimersByTimeAsync(0);
    h.lost('the daemon at /run/volwarden/status.sock closed the connection');
    const err = await h.done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect(err).toMatchObject({ exitCode: 69, message: expect.stringMatching(/^the daemon at \S+ closed the connection: status --follow stopped; run it again/) });
    expect(h.unwatch).toHaveBeenCalledTimes(1);
  });

  it('should fail with exit 69 when a fetch finds the connection gone', async () => {
    const h = harness({ fetch: () => Promise.reject(new WardenError('ECONNRESET', 'the connection to the daemon at /s.sock was lost')) });
    await expect(h.done).rejects.toMatchObject({ exitCode: 69 });
  });

  it('should pass an unknown volume on as ENOENT (exit 66), and say a followed volume is gone', async () => {
    const unknown = harness({ volume: '/nope', fetch: () => Promise.reject(new WardenError('ENOENT', 'no volume "/nope"')) });
    await expect(unknown.done).rejects.toMatchObject({ code: 'ENOENT' });

    let gone = false;
    const h = harness({ volume: '/srv/data', fetch: async () => (gone ? Promise.reject(new WardenError('ENOENT', 'no volume')) : status()) });
    await vi.advanceTimersByTimeAsync(0);
    expect(h.watchedVolume()).toBe('path:/srv/data');
    gone = true;
    h.changed();
    await vi.advanceTimersByTimeAsync(REDRAW_GAP_MS);
    await expect(h.done).rejects.toMatchObject({ exitCode: 66, message: 'path:/srv/data is gone (unmounted, or its manifest removed): status --follow stopped' });
  });
});

describe('redraw coalescing', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('should run once more after a trigger that came while a run was in flight', async () => {
    let release!: () => void;
    const run = vi.fn(() => new Promise<void>((resolve) => (release = resolve)));
    const redraws = coalesceRedraws(run, 100);
    redraws.trigger();
    redraws.trigger();
    redraws.trigger();
    expect(run).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(500);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(run).toHaveBeenCalledTimes(2);
    release();
    await vi.advanceTimersByTimeAsync(500);
    expect(run).toHaveBeenCalledTimes(2);
  });

  it('should not run after stop', async () => {
    const run = vi.fn(async () => {});
    const redraws = coalesceRedraws(run, 100);
    redraws.trigger();
    await vi.advanceTimersByTimeAsync(10);
    redraws.trigger();
    redraws.stop();
    await vi.advanceTimersByTimeAsync(500);
    expect(run).toHaveBeenCalledTimes(1);
  });
});

describe('which inspection records redraw the status', () => {
  const actor = (id: string, kind: ActorInfo['kind']): InspectRecord => ({
    kind: 'actor', t: NOW, actor: { sessionId: 'x:1', id, kind, machineId: kind, parent: 'warden', state: 'active', status: 'active', context: {} },
  });
  const event = (target: string): InspectRecord => ({ kind: 'event', t: NOW, type: 'SOME_EVENT', source: null, target });

  it('should count volumes, locks, waiters and the reboot lock', () => {
    expect(concernsStatus(actor('waiter:7', 'waiter'))).toBe(true);
    expect(concernsStatus(event('lock:path:/srv/data'))).toBe(true);
    expect(concernsStatus(event('volume:uuid:1234'))).toBe(true);
    expect(concernsStatus(actor('rebootLock', 'reboot'))).toBe(true);
    expect(concernsStatus({ kind: 'removed', t: NOW, sessionId: 'x:2', id: 'waiter:7' })).toBe(true);
    expect(concernsStatus({ kind: 'dropped', t: NOW, count: 3, reason: 'slow reader' })).toBe(true);
  });

  it('should ignore clients, subscribers and machine definitions: a status request does not redraw itself', () => {
    expect(concernsStatus(event('client:12'))).toBe(false);
    expect(concernsStatus(actor('client:12', 'client'))).toBe(false);
    expect(concernsStatus(actor('subscriber:12:1', 'subscriber'))).toBe(false);
    expect(concernsStatus({ kind: 'machine', t: NOW, machine: { id: 'volume', root: { key: 'volume', path: '', type: 'compound', transitions: [], states: [] } } })).toBe(false);
  });

  it('should ignore other volumes when following one', () => {
    expect(concernsStatus(event('lock:path:/srv/other'), 'path:/srv/data')).toBe(false);
    expect(concernsStatus(actor('volume:path:/srv/other', 'volume'), 'path:/srv/data')).toBe(false);
    expect(concernsStatus(event('volume:path:/srv/data'), 'path:/srv/data')).toBe(true);
    expect(concernsStatus(actor('waiter:9', 'waiter'), 'path:/srv/data')).toBe(true);
  });
});
