import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createWarden, type WardenHandle } from '../../src/index.js';
import { eventually, makeVolume } from './helpers.js';

/**
 * Issue 17, finding 7, driven as the hostile local user: uid 65534 (through setpriv) owns or can
 * write the helper's directory and replaces the script. Needs root and util-linux's setpriv.
 */
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0;
const canSwitch = isRoot && hasSetpriv;
if (!canSwitch) console.log(`skipping helper trust tests with other uids: ${isRoot ? 'setpriv (util-linux) not found' : 'not running as root'}`);

/** Runs `script` with sh as uid/gid 65534, no supplementary groups. */
function asNobody(script: string, cwd: string): void {
  const run = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', 'sh', '-c', script], { cwd, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`as uid ${NOBODY}: ${script}: ${run.stderr}`);
}

const PWNED = '#!/bin/sh\necho pwned > cache/pwned.txt\ncat src/*.txt > cache/out.txt\n';

describe.runIf(canSwitch)('helpers other users can write (uid 65534 via setpriv)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function start(roots: string[], extra: Parameters<typeof createWarden>[0] = {}): WardenHandle {
    const warden = createWarden({ roots, settleMs: 20, ...extra });
    cleanups.push(() => warden.stop());
    return warden;
  }

  function toolsVolume(): { root: string } {
    const vol = makeVolume({ manifest: { version: 1, caches: [{ name: 'out', output: 'cache/out.txt', sources: ['src'] }], command: ['./tools/build.sh'] } });
    cleanups.push(vol.cleanup);
    chmodSync(vol.root, 0o755);
    spawnSync('mkdir', ['-m', '755', path.join(vol.root, 'tools')]);
    writeFileSync(path.join(vol.root, 'tools', 'build.sh'), '#!/bin/sh\ncat src/*.txt > cache/out.txt\n', { mode: 0o755 });
    return vol;
  }

  it('refuses a root-owned 0644 manifest\'s command when another uid owns tools/ and replaced the script', async () => {
    const { root } = toolsVolume();
    chownSync(path.join(root, 'tools'), NOBODY, NOBODY);
    asNobody(`rm tools/build.sh && printf '%s' '${PWNED}' > tools/build.sh && chmod 755 tools/build.sh`, root);
    const warden = start([root]);
    await warden.start();
    const volume = await eventually(() => warden.status().volumes[0]!, (v) => v.state === 'invalid');
    expect(volume.error).toBe(
      "command[0]: untrusted helper: tools is owned by uid 65534, not by root or the daemon's user: chown it, or keep the helper in an owner-only directory",
    );
    expect(existsSync(path.join(root, 'cache', 'pwned.txt'))).toBe(false);
  });

  it('checks again before every run: a directory opened up after the load stops the next run and the volume turns invalid', async () => {
    const { root } = toolsVolume();
    const warden = start([root]);
    await warden.start();
    await eventually(() => warden.status().volumes[0]!, (v) => v.state === 'idle' && v.lastRebuild?.status === 0);
    chmodSync(path.join(root, 'tools'), 0o777);
    asNobody(`rm -f tools/build.sh && printf '%s' '${PWNED}' > tools/build.sh && chmod 755 tools/build.sh`, root);
    writeFileSync(path.join(root, 'src', 'a.txt'), 'changed\n');
    const volume = await eventually(() => warden.status().volumes[0]!, (v) => v.state === 'invalid');
    expect(volume.error).toMatch(/^command\[0\]: untrusted helper: tools is writable by group or others: run chmod go-w on it/);
    expect(volume.lastRebuild?.status).toBe(126);
    expect(existsSync(path.join(root, 'cache', 'pwned.txt'))).toBe(false);
  });

  it('runs a rebuilder as its configured user, with no new privileges and no capabilities', async () => {
    const vol = makeVolume({ manifest: { version: 1, caches: [{ name: 'out', output: 'cache/out.txt', sources: ['src'] }], rebuilder: 'asNobody' } });
    cleanups.push(vol.cleanup);
    chmodSync(vol.root, 0o755);
    chownSync(path.join(vol.root, 'cache'), NOBODY, NOBODY);
    const report = 'id -u > cache/out.txt; id -g >> cache/out.txt; grep -E "^(NoNewPrivs|CapEff)" /proc/self/status >> cache/out.txt';
    const warden = start([vol.root], { rebuilders: { asNobody: { command: ['/bin/sh', '-c', report], user: 'nobody' } } });
    await warden.start();
    await eventually(() => warden.status().volumes[0]!, (v) => v.lastRebuild !== null);
    expect(warden.status().volumes[0]!.lastRebuild!.status).toBe(0);
    const [uid, gid, ...status] = readFileSync(path.join(vol.root, 'cache', 'out.txt'), 'utf8').trim().split('\n');
    expect([uid, gid]).toEqual([String(NOBODY), String(NOBODY)]);
    expect(status).toEqual(['CapEff:\t0000000000000000', 'NoNewPrivs:\t1']);
  });

  it('does not start a rebuilder whose user does not exist: the run counts as one that could not start', async () => {
    const vol = makeVolume({ manifest: { version: 1, caches: [{ name: 'out', output: 'cache/out.txt', sources: ['src'] }], rebuilder: 'ghost' } });
    cleanups.push(vol.cleanup);
    const warden = start([vol.root], { rebuilders: { ghost: { command: ['/bin/true'], user: 'no-such-user-vw' } } });
    await warden.start();
    const volume = await eventually(() => warden.status().volumes[0]!, (v) => v.lastRebuild !== null);
    expect(volume.lastRebuild!.status).toBe(127);
  });
});
