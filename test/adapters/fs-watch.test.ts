import { chmod, mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inotifyWatchLimit, watchErrorEvent, watchWithChokidar } from '../../src/adapters/fs-watch.js';
import type { WatchEvent, WatchHandle, WatchSpec } from '../../src/adapters/types.js';

// Integration tests on real directories: real timers, polling with generous deadlines.
async function waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('watchWithChokidar', () => {
  let base: string;
  let root: string;
  let handle: WatchHandle | undefined;
  let events: WatchEvent[];

  beforeEach(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'volwarden-watch-')));
    root = join(base, 'vol');
    await mkdir(join(root, 'docs'), { recursive: true });
    await mkdir(join(root, 'cache'), { recursive: true });
    await writeFile(join(root, 'docs', 'a.md'), 'a');
    await writeFile(join(root, '.volwarden.json'), '{}');
    events = [];
  });

  afterEach(async () => {
    await handle?.close();
    handle = undefined;
    await rm(base, { recursive: true, force: true });
  });

  const start = async (spec: Partial<WatchSpec> = {}): Promise<void> => {
    handle = watchWithChokidar(
      {
        root,
        paths: [join(root, '.volwarden.json'), join(root, 'docs'), join(root, 'etc', 'docs.conf')],
        ignored: [join(root, 'docs', 'out')],
        ...spec,
      },
      (event) => events.push(event),
    );
    await waitFor(() => events.some((e) => e.type === 'ready'), 'ready');
  };

  const changed = (path: string) => () => events.some((e) => e.type === 'changed' && e.path === path);

  it('reports nothing for a manifest that is a symlink while it first scans', async () => {
    await mkdir(join(root, 'conf'));
    await writeFile(join(root, 'conf', 'm.json'), '{}');
    await rm(join(root, '.volwarden.json'));
    await symlink('conf/m.json', join(root, '.volwarden.json'));
    await start();
    expect(events.filter((e) => e.type === 'changed')).toEqual([]);
  });

  it('reports a mode change of an attributes file even after it was read', async () => {
    const manifest = join(root, '.volwarden.json');
    await chmod(manifest, 0o666);
    await start({ attributes: [manifest] });
    // Reading it moves its atime past its mtime: chokidar alone would now drop a chmod.
    await readFile(manifest);
    await new Promise((r) => setTimeout(r, 50));
    await chmod(manifest, 0o600);
    await waitFor(changed(manifest), 'the manifest chmod');
  });

  it('reports ready with the number of watches after the initial scan, and nothing else', async () => {
    await start();
    const ready = events.find((e) => e.type === 'ready');
    expect(ready).toMatchObject({ type: 'ready' });
    expect((ready as { watches: number }).watches).toBeGreaterThan(0);
    expect(events.filter((e) => e.type === 'changed')).toEqual([]);
  });

  it('reports a file created, modified and deleted under a watched directory', async () => {
    await start();
    const file = join(root, 'docs', 'sub', 'b.md');
    await mkdir(join(root, 'docs', 'sub'));
    await writeFile(file, 'one');
    await waitFor(changed(file), 'creation');

    events.length = 0;
    await writeFile(join(root, 'docs', 'a.md'), 'changed');
    await waitFor(changed(join(root, 'docs', 'a.md')), 'modification');

    events.length = 0;
    await rm(file);
    await waitFor(changed(file), 'deletion');
  });

  it('reports a change to a watched single file', async () => {
    await start();
    await writeFile(join(root, '.volwarden.json'), '{"version":1}');
    await waitFor(changed(join(root, '.volwarden.json')), 'manifest change');
  });

  it('never reports paths under an ignored output, nor unwatched paths', async () => {
    await start();
    await mkdir(join(root, 'docs', 'out'));
    await writeFile(join(root, 'docs', 'out', 'index.idx'), 'x');
    await writeFile(join(root, 'cache', 'other.bin'), 'x');
    await writeFile(join(root, 'unrelated.txt'), 'x');
    // A change after the noise: once it is seen, the noise would have been seen too.
    await writeFile(join(root, 'docs', 'a.md'), 'marker');
    await waitFor(changed(join(root, 'docs', 'a.md')), 'marker');
    await new Promise((r) => setTimeout(r, 200));
    const paths = events.flatMap((e) => (e.type === 'changed' ? [e.path] : []));
    expect(paths.every((p) => p.startsWith(join(root, 'docs')) && !p.startsWith(join(root, 'docs', 'out')))).toBe(true);
  });

  it('watches the whole root when it is a watched path, except the ignored outputs', async () => {
    await start({ paths: [root], ignored: [join(root, 'cache')] });
    await writeFile(join(root, 'cache', 'out.idx'), 'x');
    await writeFile(join(root, 'new.txt'), 'x');
    await waitFor(changed(join(root, 'new.txt')), 'new file at the root');
    await new Promise((r) => setTimeout(r, 200));
    expect(events.some((e) => e.type === 'changed' && e.path.startsWith(join(root, 'cache')))).toBe(false);
  });

  it('reports a watched file that did not exist yet when it is created, even in a new directory', async () => {
    await start();
    const conf = join(root, 'etc', 'docs.conf');
    await mkdir(join(root, 'etc'));
    await writeFile(conf, 'x');
    await waitFor(changed(conf), 'creation of a watched file');
    expect(events.some((e) => e.type === 'changed' && e.path === join(root, 'etc'))).toBe(false);
  });

  it('reports rootRemoved once when the root disappears', async () => {
    await start();
    await rm(root, { recursive: true, force: true });
    await waitFor(() => events.some((e) => e.type === 'rootRemoved'), 'rootRemoved');
    await new Promise((r) => setTimeout(r, 200));
    expect(events.filter((e) => e.type === 'rootRemoved')).toHaveLength(1);
  });

  it('reports nothing after close()', async () => {
    await start();
    await handle!.close();
    handle = undefined;
    events.length = 0;
    await writeFile(join(root, 'docs', 'a.md'), 'after close');
    await new Promise((r) => setTimeout(r, 300));
    expect(events).toEqual([]);
  });
});

describe('inotifyWatchLimit', () => {
  it('reads the system limit as a positive number on Linux', async () => {
    const limit = await inotifyWatchLimit();
    if (process.platform === 'linux') expect(limit).toBeGreaterThan(0);
    else expect(limit).toBeNull();
  });
});

describe('watchErrorEvent', () => {
  const errno = (code: string, message = `watch ${code}`) => Object.assign(new Error(message), { code });

  it('turns an exhausted inotify watch budget into one degraded line naming the limit', () => {
    const event = watchErrorEvent(errno('ENOSPC', 'ENOSPC: System limit for number of file watchers reached'));
    expect(event.type).toBe('degraded');
    expect(event).toMatchObject({ reason: expect.stringMatching(/^inotify watch limit reached \(fs\.inotify\.max_user_watches=\S+\); rescanning every 5 s$/) });
  });

  it('turns an event queue overflow into degraded', () => {
    expect(watchErrorEvent(new Error('inotify queue overflow'))).toEqual({
      type: 'degraded',
      reason: 'inotify event queue overflowed; rescanning every 5 s',
    });
  });

  it('reports other errors as errors with their message', () => {
    expect(watchErrorEvent(errno('EACCES', 'EACCES: permission denied, watch /data/x'))).toEqual({
      type: 'error',
      message: 'EACCES: permission denied, watch /data/x',
    });
  });
});
