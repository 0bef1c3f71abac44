import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type WardenClient } from '../../src/client/index.js';
import { eventually, makeVolume } from '../integration/helpers.js';
import { shortTempDir } from '../adapters/socket-server.helpers.js';
import { assertBuilt, runCli, startCli, startDaemon, stopDaemon, type CliProcess } from './run-cli.js';

assertBuilt();

describe('volwarden CLI against a running daemon', () => {
  const vol = makeVolume();
  const tmp = shortTempDir();
  const socket = join(tmp.dir, 'c.sock');
  const statusSocket = join(tmp.dir, 's.sock');
  const volumeId = `path:${vol.root}`;
  let daemon: CliProcess;
  let holder: WardenClient;

  beforeAll(async () => {
    daemon = await startDaemon([
      '--watch', vol.root, '--socket', socket, '--status-socket', statusSocket,
      '--state-dir', join(tmp.dir, 'state'), '--settle-ms', '100', '--log-level', 'info',
    ]);
    holder = await connect({ socket, name: 'test-holder' });
    await eventually(() => holder.status(), (s) => s.volumes[0]?.state === 'idle' && s.volumes[0].lastRebuild !== null);
  });

  afterAll(async () => {
    await holder?.close();
    if (daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
    vol.cleanup();
    tmp.cleanup();
  });

  it('prints a one-line banner and logs the inotify budget as JSON lines', () => {
    expect(daemon.stderr.trim()).toBe(`volwarden: watching 1 volume; control socket ${socket}; status socket ${statusSocket}`);
    const lines = daemon.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => 'watches' in l)).toMatchObject({ level: 30, watches: expect.any(Number) });
  });

  it('shows the volume idle with its last rebuild in status --json', async () => {
    const { code, stdout } = await runCli(['--json', 'status', '--socket', statusSocket]);
    expect(code).toBe(0);
    const status = JSON.parse(stdout);
    expect(status.daemon.state).toBe('running');
    expect(status.volumes).toHaveLength(1);
    expect(status.volumes[0]).toMatchObject({ id: volumeId, state: 'idle', lastRebuild: { status: 0 } });
  });

  it('renders a status table with one row per volume', async () => {
    const { code, stdout } = await runCli(['status', vol.root, '--socket', socket]);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[1]).toMatch(/^VOLUME\s+STATE\s+LOCK\s+WAITERS\s+TOKEN\s+FAILURES\s+LAST REBUILD\s+STALE\/ERROR$/);
    expect(lines[2]).toMatch(new RegExp(`^${volumeId}\\s+idle\\s+-\\s+0\\s+\\d+\\s+0\\s+ok \\S+ \\d+s ago\\s+-$`));
  });

  it('runs CMD under the lock with VOLWARDEN_TOKEN and exits with its code', async () => {
    const { code, stdout } = await runCli(['lock', volumeId, '--socket', socket, '--', 'sh', '-c', 'echo "token=$VOLWARDEN_TOKEN"; exit 3']);
    expect(code).toBe(3);
    const token = Number(/^token=(\d+)$/m.exec(stdout)?.[1]);
    expect(token).toBeGreaterThan(0);
    const after = (await holder.status(volumeId)).volumes[0]!;
    expect(after.lock.state).toBe('unlocked');
    expect(after.lock.token).toBeGreaterThanOrEqual(token);
    expect(after.failures).toBeGreaterThanOrEqual(1);
    await holder.retry(volumeId);
  });

  it('exits 75 when the volume is held (--no-wait, or --timeout), and can-unmount says busy', async () => {
    const lease = await holder.lockVolume(volumeId);
    try {
      const [noWait, timedOut, busy, reboot] = await Promise.all([
        runCli(['lock', vol.root, '--no-wait', '--socket', socket, '--', 'true']),
        runCli(['lock', vol.root, '--timeout', '0.2', '--socket', socket, '--', 'true']),
        runCli(['can-unmount', vol.root, '--socket', socket]),
        runCli(['reboot-lock', '--socket', socket, '--', 'true']),
      ]);
      expect(reboot.code).toBe(75);
      expect(reboot.stderr).toContain(volumeId);
      expect(noWait.code).toBe(75);
      expect(noWait.stderr.trim().split('\n')).toHaveLength(1);
      expect(noWait.stderr).toMatch(/locked/);
      expect(timedOut.code).toBe(75);
      expect(timedOut.stderr).toMatch(/timed out/);
      expect(busy.code).toBe(75);
    } finally {
      await lease.release();
    }
  });

  it('forwards SIGTERM to CMD and exits with its status; reboot-lock exits with its CMD too', async () => {
    const lock = startCli(['lock', vol.root, '--socket', socket, '--', 'sh', '-c', 'trap "exit 5" TERM; echo ready; while :; do sleep 0.05; done']);
    await eventually(() => lock.stdout, (out) => out.includes('ready'));
    lock.child.kill('SIGTERM');
    expect((await lock.done).code).toBe(5);
    const reboot = await runCli(['reboot-lock', '--socket', socket, '--', 'sh', '-c', 'exit 4']);
    expect(reboot.code).toBe(4);
    expect((await holder.status()).reboot.state).toBe('free');
    await holder.retry(volumeId);
  });

  it('exits 66 for an unknown volume and 69 when no daemon answers', async () => {
    const [lock, unmount, noDaemon] = await Promise.all([
      runCli(['lock', 'path:/no/such', '--socket', socket, '--', 'true']),
      runCli(['can-unmount', 'path:/no/such', '--socket', socket]),
      runCli(['status', '--socket', join(tmp.dir, 'nobody.sock')]),
    ]);
    expect(lock.code).toBe(66);
    expect(unmount.code).toBe(66);
    expect(noDaemon.code).toBe(69);
    expect(noDaemon.stderr.trim().split('\n')).toHaveLength(1);
    expect(noDaemon.stderr).toMatch(/not reachable/);
  });

  it('answers can-unmount 0 on an idle volume, runs check and retry', async () => {
    await eventually(() => holder.status(volumeId), (s) => s.volumes[0]!.state === 'idle');
    const unmount = await runCli(['can-unmount', volumeId, '--socket', statusSocket]);
    expect(unmount.code).toBe(0);
    const check = await runCli(['check', volumeId, '--socket', socket]);
    expect(check.code).toBe(0);
    expect(check.stdout.trim()).toMatch(/^(checking|idle|rebuilding)$/);
    const retry = await runCli(['retry', volumeId, '--socket', socket]);
    expect(retry.code).toBe(0);
  });

  it('prints a volume.changed line in subscribe --json after a source write', async () => {
    const sub = startCli(['subscribe', volumeId, '--json', '--socket', statusSocket]);
    try {
      // Nothing prints until the subscription exists: write until a change comes through.
      await eventually(
        () => {
          appendFileSync(join(vol.root, 'src', 'a.txt'), 'more\n');
          return sub.stdout;
        },
        (out) => out.includes('"volume.changed"'),
        20_000,
      );
      const changed = sub.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.type === 'volume.changed');
      expect(changed).toMatchObject({ volume: volumeId, paths: ['src/a.txt'], n: expect.any(Number) });
    } finally {
      sub.child.kill('SIGINT');
    }
    expect((await sub.done).code).toBe(0);
  });

  it('refuses a second daemon on the same socket with exit 75', async () => {
    const second = await runCli(['daemon', '--watch', vol.root, '--socket', socket, '--status-socket', join(tmp.dir, 's2.sock'), '--state-dir', join(tmp.dir, 'state2')]);
    expect(second.code).toBe(75);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    expect(second.stderr).toContain('already running');
    expect(second.stderr).toContain(socket);
  });

  it('stops on SIGTERM with exit 0 and removes its socket files', async () => {
    await holder.close();
    daemon.child.kill('SIGTERM');
    const result = await daemon.done;
    expect(result.code).toBe(0);
    expect(existsSync(socket)).toBe(false);
    expect(existsSync(statusSocket)).toBe(false);
  });
});

describe('volwarden CLI without a daemon', () => {
  const tmp = shortTempDir();
  afterAll(() => tmp.cleanup());

  it('checks manifests: 0 when valid, 65 when invalid, 66 when missing', async () => {
    const good = makeVolume();
    const bad = makeVolume({ manifest: { version: 1, caches: [{ name: 'out', output: '/etc/passwd', sources: ['src'] }], command: ['./build.sh'] } });
    try {
      const [ok, invalid, missing] = await Promise.all([
        runCli(['manifest', 'check', good.root]),
        runCli(['manifest', 'check', bad.root]),
        runCli(['manifest', 'check', tmp.dir]),
      ]);
      expect(ok).toMatchObject({ code: 0, stdout: 'ok: 1 cache\n' });
      expect(invalid.code).toBe(65);
      expect(invalid.stderr).toMatch(/caches\[0\]\.output: /);
      expect(invalid.stderr.trim().split('\n')).toHaveLength(1);
      expect(missing.code).toBe(66);
    } finally {
      good.cleanup();
      bad.cleanup();
    }
  });

  it('writes a starter manifest with init that passes manifest check, and never overwrites it', async () => {
    const init = await runCli(['init', tmp.dir]);
    expect(init.code).toBe(0);
    const file = join(tmp.dir, '.volwarden.json');
    expect(statSync(file).mode & 0o777).toBe(0o644);
    const check = await runCli(['manifest', 'check', tmp.dir]);
    expect(check).toMatchObject({ code: 0, stdout: 'ok: 1 cache\n' });
    const before = readFileSync(file, 'utf8');
    const again = await runCli(['init', tmp.dir]);
    expect(again.code).toBe(64);
    expect(again.stderr).toMatch(/already exists/);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('rejects a config file with an unknown key: exit 64 naming its JSON path', async () => {
    const config = join(tmp.dir, 'config.json');
    writeFileSync(config, JSON.stringify({ roots: ['/x'], rebuilders: { docs: { command: ['x'], timeoutSek: 3 } } }));
    const result = await runCli(['daemon', '--config', config, '--socket', join(tmp.dir, 'c.sock')]);
    expect(result.code).toBe(64);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('rebuilders.docs.timeoutSek: unknown key');
  });

  it('exits 64 with one line on a bad flag or a missing argument, and 69 for visualize', async () => {
    const [flag, missingArg, visualize] = await Promise.all([
      runCli(['status', '--bogus']),
      runCli(['lock']),
      runCli(['visualize']),
    ]);
    expect(flag.code).toBe(64);
    expect(flag.stderr.trim().split('\n')).toHaveLength(1);
    expect(flag.stderr).toContain('--bogus');
    expect(missingArg.code).toBe(64);
    expect(visualize.code).toBe(69);
    expect(visualize.stderr).toMatch(/not reachable/);
  });

  it('exits 64 with one line naming the usage when a command or subcommand is missing', async () => {
    const [none, manifest] = await Promise.all([runCli([]), runCli(['manifest'])]);
    expect(none.code).toBe(64);
    expect(none.stderr.trim().split('\n')).toEqual(['volwarden: a command is missing: usage volwarden [options] [command]; see `volwarden --help`']);
    expect(manifest.code).toBe(64);
    expect(manifest.stderr.trim().split('\n')).toHaveLength(1);
    expect(manifest.stderr).toContain('volwarden manifest --help');
  });
});
