import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createWarden, type VolumeStatus, type WardenHandle } from '../../src/index.js';
import { eventually, makeVolume, shortTmp } from './helpers.js';

/**
 * The volume lifecycle of SPEC §3–§4 on real temp directories, real chokidar and real helper
 * processes: the behaviours the in-memory tests show, once more against the real world.
 */
describe('volume lifecycle on a real volume', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const CACHE = { name: 'out', output: 'cache/out.txt', sources: ['src'] };
  const manifestOf = (extra: Record<string, unknown> = {}) => ({ version: 1, caches: [CACHE], command: ['./build.sh'], ...extra });

  function volume(options: Parameters<typeof makeVolume>[0] = {}): string {
    const vol = makeVolume(options);
    cleanups.push(vol.cleanup);
    return vol.root;
  }

  async function started(roots: string[], extra: Parameters<typeof createWarden>[0] = {}): Promise<WardenHandle> {
    const warden = createWarden({ roots, settleMs: 50, ...extra });
    cleanups.push(() => warden.stop());
    await warden.start();
    return warden;
  }

  const status = (warden: WardenHandle): VolumeStatus => warden.status().volumes[0]!;
  const idleAfter = (warden: WardenHandle, token: number) =>
    eventually(() => status(warden), (v) => v.state === 'idle' && v.lock.token >= token && v.lock.state === 'unlocked');
  const runs = (root: string) => readFileSync(path.join(root, 'cache', 'runs.log'), 'utf8').trim().split('\n');
  const writeManifest = (root: string, manifest: object, mode = 0o644) => {
    writeFileSync(path.join(root, '.volwarden.json'), JSON.stringify(manifest));
    chmodSync(path.join(root, '.volwarden.json'), mode);
  };

  it('rebuilds exactly once more after a change made while the helper ran, even if the output is newer', async () => {
    // The helper reads the sources at once, then takes its time before writing the output: a
    // source written meanwhile is older than the output, yet missing from it.
    const root = volume({
      script: '#!/bin/sh\ncontent=$(cat src/*.txt)\nsleep 0.6\nprintf "%s\\n" "$content" > cache/out.txt\necho run >> cache/runs.log\n',
    });
    const warden = await started([root]);
    await eventually(() => status(warden), (v) => v.state === 'rebuilding');
    await new Promise((r) => setTimeout(r, 150));
    writeFileSync(path.join(root, 'src', 'b.txt'), 'beta\n');
    await idleAfter(warden, 2);
    // One more settle period: nothing else follows.
    await new Promise((r) => setTimeout(r, 400));
    expect(runs(root)).toHaveLength(2);
    expect(status(warden)).toMatchObject({ state: 'idle', stale: [], lock: { token: 2 } });
    expect(readFileSync(path.join(root, 'cache', 'out.txt'), 'utf8')).toContain('beta');
  });

  it('ignores sources that leave the root by symlink or .., and reports them in status.error', async () => {
    const root = volume({ manifest: { version: 1, caches: [{ name: 'out', output: 'cache/out.txt', sources: ['src', 'link'] }], command: ['./build.sh'] } });
    const outside = shortTmp('vw-outside-');
    cleanups.push(() => rmSync(outside, { recursive: true, force: true }));
    writeFileSync(path.join(outside, 'secret.txt'), 'outside');
    symlinkSync(outside, path.join(root, 'link'));
    const warden = await started([root]);
    // Reported from the very first check, which found the output missing.
    const v = await eventually(() => status(warden), (s) => s.state === 'idle' && s.lastRebuild !== null);
    expect(v.error).toBe('caches[0].sources[1] ("link"): resolves outside the volume root');
    expect(v.lastRebuild!.status).toBe(0);

    writeManifest(root, { version: 1, caches: [{ name: 'out', output: '../escape.txt', sources: ['src'] }], command: ['./build.sh'] });
    const invalid = await eventually(() => status(warden), (s) => s.state === 'invalid');
    expect(invalid.error).toMatch(/^caches\[0\]\.output: /);
    writeManifest(root, { version: 1, caches: [{ name: 'out', output: '/tmp/abs.txt', sources: ['src'] }], command: ['./build.sh'] });
    await eventually(() => status(warden), (s) => s.state === 'invalid' && /^caches\[0\]\.output: must be a relative path/.test(s.error ?? ''));
  });

  it('refuses an inline command from a group-writable manifest, and follows a chmod that fixes it', async () => {
    const root = volume();
    chmodSync(path.join(root, '.volwarden.json'), 0o664);
    const warden = await started([root]);
    const v = await eventually(() => status(warden), (s) => s.state === 'invalid');
    expect(v.error).toBe('untrusted manifest: command requires an owner-only manifest');
    // Only the mode changes: no write, no new mtime.
    chmodSync(path.join(root, '.volwarden.json'), 0o644);
    await eventually(() => status(warden), (s) => s.state === 'idle' && s.lastRebuild?.status === 0);
  });

  it('loads a manifest that is a symlink to a file inside the root, without reloading for ever', async () => {
    const root = volume();
    mkdirSync(path.join(root, 'conf'));
    renameSync(path.join(root, '.volwarden.json'), path.join(root, 'conf', 'manifest.json'));
    symlinkSync('conf/manifest.json', path.join(root, '.volwarden.json'));
    const warden = await started([root]);
    // start() resolves once every volume has loaded: a reload loop would never let it.
    expect(warden.status().daemon.state).toBe('running');
    await idleAfter(warden, 1);
    const states: string[] = [];
    const timer = setInterval(() => states.push(status(warden).state), 10);
    await new Promise((r) => setTimeout(r, 500));
    clearInterval(timer);
    expect(new Set(states)).toEqual(new Set(['idle']));
  });

  it('gives up after maxFailures failing rebuilds, and retry starts over', async () => {
    const root = volume({ manifest: manifestOf({ maxFailures: 2 }), script: '#!/bin/sh\necho run >> cache/runs.log\nexit 3\n' });
    const warden = await started([root]);
    await eventually(() => status(warden), (v) => v.state === 'idle' && v.failures === 1);
    appendFileSync(path.join(root, 'src', 'a.txt'), 'again\n');
    const gaveUp = await eventually(() => status(warden), (v) => v.state === 'gaveUp');
    expect(gaveUp).toMatchObject({ failures: 2, attempts: 2, lastRebuild: { status: 3 } });
    appendFileSync(path.join(root, 'src', 'a.txt'), 'no automatic rebuild now\n');
    await new Promise((r) => setTimeout(r, 300));
    expect(runs(root)).toHaveLength(2);

    writeFileSync(path.join(root, 'build.sh'), '#!/bin/sh\ncat src/*.txt > cache/out.txt\necho run >> cache/runs.log\n');
    warden.core.retry(warden.core.libraryClient('operator'), root);
    await eventually(() => status(warden), (v) => v.state === 'idle' && v.failures === 0 && v.lastRebuild?.status === 0);
    expect(runs(root)).toHaveLength(3);
  });

  it('suspends while the installer named by installerPidFile runs, and resumes when it exits', async () => {
    const root = volume({ manifest: manifestOf({ installerPidFile: 'run/installer.pid' }) });
    const installer: ChildProcess = spawn('sleep', ['30'], { stdio: 'ignore' });
    cleanups.push(() => void installer.kill('SIGKILL'));
    mkdirSync(path.join(root, 'run'));
    writeFileSync(path.join(root, 'run', 'installer.pid'), `${installer.pid}\n`);
    const warden = await started([root]);
    await eventually(() => status(warden), (v) => v.state === 'suspended');
    appendFileSync(path.join(root, 'src', 'a.txt'), 'written by the installer\n');
    await new Promise((r) => setTimeout(r, 200));
    expect(status(warden).state).toBe('suspended');
    installer.kill('SIGKILL');
    const v = await eventually(() => status(warden), (s) => s.state === 'idle' && s.lastRebuild !== null);
    expect(readFileSync(path.join(root, 'cache', 'out.txt'), 'utf8')).toContain('written by the installer');
    expect(v.stale).toEqual([]);
  });

  it('ignores an installer pid file that leaves the root, and says so in status.error', async () => {
    const root = volume({ manifest: manifestOf({ installerPidFile: 'run/installer.pid' }) });
    const outside = shortTmp('vw-pid-');
    cleanups.push(() => rmSync(outside, { recursive: true, force: true }));
    // A live pid (ours) behind a symlink out of the root must not suspend the volume.
    writeFileSync(path.join(outside, 'pid'), `${process.pid}\n`);
    mkdirSync(path.join(root, 'run'));
    symlinkSync(path.join(outside, 'pid'), path.join(root, 'run', 'installer.pid'));
    const warden = await started([root]);
    const v = await eventually(() => status(warden), (s) => s.state === 'idle' && s.lastRebuild !== null);
    expect(v.error).toBe('installerPidFile ("run/installer.pid"): resolves outside the volume root');
  });

  it('stops a helper past the timeoutSec of its configured rebuilder and counts a failure', async () => {
    const root = volume({ manifest: { version: 1, caches: [CACHE], rebuilder: 'slow' } });
    const warden = await started([root], { rebuilders: { slow: { command: ['sleep', '30'], timeoutSec: 1 } } });
    const v = await eventually(() => status(warden), (s) => s.lastRebuild !== null, 8000);
    expect(v).toMatchObject({ failures: 1, attempts: 1, lastRebuild: { status: 124 } });
  });

  it('counts a helper-mode helper that cannot be started as a failure', async () => {
    const root = volume({ manifest: { version: 1, caches: [CACHE], command: ['./missing.sh'], lockMode: 'helper' } });
    const warden = await started([root]);
    const v = await eventually(() => status(warden), (s) => s.lastRebuild !== null);
    expect(v).toMatchObject({ failures: 1, attempts: 1, lastRebuild: { status: 127 } });
  });

  it('rebuilds again for a change made while its rebuild waited for the lock', async () => {
    // Like most helpers, this one rebuilds only the caches named in VOLWARDEN_STALE.
    const ONLY_STALE = [
      'case ",$VOLWARDEN_STALE," in *,out,*) cat src/*.txt > cache/out.txt;; esac',
      'case ",$VOLWARDEN_STALE," in *,two,*) cat more/*.txt > cache/two.txt;; esac',
    ].join('\n');
    const root = volume({
      manifest: { version: 1, caches: [CACHE, { name: 'two', output: 'cache/two.txt', sources: ['more'] }], command: ['sh', '-c', ONLY_STALE] },
    });
    mkdirSync(path.join(root, 'more'));
    writeFileSync(path.join(root, 'more', 'm.txt'), 'm\n');
    const warden = await started([root]);
    await idleAfter(warden, 1);
    const lease = await warden.lockVolume(root, { owner: 'holder' });
    appendFileSync(path.join(root, 'src', 'a.txt'), 'first\n');
    await eventually(() => status(warden), (v) => v.state === 'checking' && v.lock.waiters === 1);
    appendFileSync(path.join(root, 'more', 'm.txt'), 'second, while queued\n');
    await new Promise((r) => setTimeout(r, 150));
    await lease.release(0);
    await eventually(() => status(warden), (v) => v.state === 'idle' && v.lock.state === 'unlocked' && v.stale?.length === 0 && v.lock.token >= 3);
    expect(readFileSync(path.join(root, 'cache', 'two.txt'), 'utf8')).toContain('second, while queued');
  });
});
