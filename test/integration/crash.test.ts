import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type ClientConnection } from '../../src/client/connection.js';
import type { VolumeStatus } from '../../src/protocol/types.js';
import { shortTempDir } from '../adapters/socket-server.helpers.js';
import { ensureBuilt, PROJECT } from './fixtures/ensure-built.js';
import { childPids, isRunning, procStat } from './fixtures/proc.mjs';
import { eventually, makeVolume } from './helpers.js';

const MAIN = path.join(PROJECT, 'dist', 'cli', 'main.js');
const HELPER = path.join(PROJECT, 'test', 'integration', 'fixtures', 'chaos-helper.sh');
const CYCLES = 4;

/** The counters and token a daemon reports or persists; none of them may ever go down here. */
interface Counters {
  failures: number;
  attempts: number;
  token: number;
}

/** A `volwarden daemon` process started through the CLI. */
interface Daemon {
  process: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/**
 * Issue 7 part 4, beyond restart.test.ts (which kills a library daemon during lock traffic):
 * the CLI daemon is SIGKILLed while a rebuild helper runs, again and again. Every helper fails
 * and every client unlocks with status 1, so no success ever resets the counters: failures,
 * attempts and the fencing token must only grow, across every restart; and the helper each
 * killed daemon leaves behind is stopped by the next one before it rebuilds that volume again.
 */
describe('a daemon SIGKILLed in the middle of rebuilds', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  beforeAll(ensureBuilt, 120_000);

  function startCli(args: string[]): Daemon {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    });
    return { process: child, exited, stderr: () => stderr };
  }

  /** Connects once the daemon answers; fails with its stderr if it exits first. */
  async function connectWhenUp(daemon: Daemon, socket: string): Promise<ClientConnection> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (daemon.process.exitCode !== null) throw new Error(`the daemon exited with ${daemon.process.exitCode}: ${daemon.stderr()}`);
      try {
        const conn = await connectClient(socket, { name: 'crash-test' });
        cleanups.push(() => conn.close());
        // It listens before it starts: lock_volume answers EAGAIN until the warden runs.
        await eventually(() => conn.request('status'), (s) => (s.daemon as { state: string }).state === 'running');
        return conn;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`the daemon never answered: ${String(err)}; stderr: ${daemon.stderr()}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }

  async function volumeStatus(conn: ClientConnection): Promise<VolumeStatus> {
    return ((await conn.request('status')).volumes as VolumeStatus[])[0]!;
  }

  it('restarts on its stale socket files with whole state files, and counters and tokens never go backwards', async () => {
    const work = shortTempDir();
    cleanups.push(work.cleanup);
    // Every helper sleeps 900–1200 ms, then fails (exit-v): the volume stays stale, so each
    // daemon's first check starts a rebuild, and so does every source write.
    writeFileSync(path.join(work.dir, 'exit-v'), '1');
    writeFileSync(path.join(work.dir, 'kills'), '');
    const hold = path.join(work.dir, 'hold-v');
    const vol = makeVolume({
      manifest: {
        version: 1,
        caches: [{ name: 'out', output: 'cache/out.txt', sources: ['src'] }],
        command: ['/bin/sh', HELPER, work.dir, 'v', '1200', '900'],
        maxFailures: 1000,
        maxAttempts: 1000,
      },
    });
    cleanups.push(vol.cleanup);
    const volumeId = `path:${vol.root}`;
    const socket = path.join(work.dir, 'run', 'private', 'control.sock');
    const statusSocket = path.join(work.dir, 'run', 'status.sock');
    const stateDir = path.join(work.dir, 'state');
    const daemonArgs = ['daemon', '--watch', vol.root, '--socket', socket, '--status-socket', statusSocket,
      '--state-dir', stateDir, '--settle-ms', '50', '--log-level', 'warn'];

    let seen: Counters = { failures: 0, attempts: 0, token: 0 };
    /** Asserts that nothing went down since the last observation, then remembers this one. */
    const observe = (where: string, now: Counters) => {
      const current = { failures: now.failures, attempts: now.attempts, token: typeof now.token === 'number' ? now.token : NaN };
      for (const key of ['failures', 'attempts', 'token'] as const) {
        expect(current[key], `${key} ${where} (before: ${JSON.stringify(seen)})`).toBeGreaterThanOrEqual(seen[key]);
      }
      seen = current;
    };
    const observeStatus = (where: string, v: VolumeStatus) => observe(where, { failures: v.failures, attempts: v.attempts, token: v.lock.token });

    /** Every file in state-dir/volumes: whole JSON records, or temp files a killed writer left. */
    const persisted = (): Counters => {
      const dir = path.join(stateDir, 'volumes');
      const records = readdirSync(dir).map((name) => {
        if (!name.endsWith('.json')) {
          expect(name).toMatch(/\.tmp-\d+$/);
          return undefined;
        }
        return JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as Counters & { volumeId: string };
      });
      const record = records.find((r) => r?.volumeId === volumeId);
      expect(record, `a record for ${volumeId} in ${dir}`).toBeDefined();
      return record!;
    };

    const orphans: number[] = [];
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      if (cycle > 1) {
        // The SIGKILLed daemon could not remove its sockets: the new one must replace them.
        expect(lstatSync(socket).isSocket()).toBe(true);
        expect(lstatSync(statusSocket).isSocket()).toBe(true);
      }
      const daemon = startCli(daemonArgs);
      const conn = await connectWhenUp(daemon, socket);
      if (orphans.length > 0) expect(isRunning(orphans.at(-1)!), `the helper left by cycle ${cycle - 1}`).toBe(false);
      rmSync(hold, { force: true });
      observeStatus(`at start of cycle ${cycle}`, await volumeStatus(conn));

      // A client grant (queued behind the start-up rebuild) is above every token seen so far;
      // it unlocks with status 1, a failure, so the counters keep growing.
      const { token } = (await conn.request('lock_volume', { volume: volumeId, wait: true })) as { token: number };
      expect(token).toBeGreaterThan(seen.token);
      await conn.request('unlock_volume', { volume: volumeId, status: 1, token });
      observeStatus(`after the client grant of cycle ${cycle}`, await volumeStatus(conn));

      // A source write starts a rebuild; SIGKILL the daemon at a random point while its helper runs.
      appendFileSync(path.join(vol.root, 'src', 'a.txt'), `cycle ${cycle}\n`);
      const [helper] = await eventually(() => childPids(daemon.process.pid!, 'sh'), (pids) => pids.length > 0);
      observeStatus(`while rebuilding in cycle ${cycle}`, await eventually(() => volumeStatus(conn), (v) => v.state === 'rebuilding'));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 250)));
      // However slow the next start is (a loaded machine), this helper is still there to be stopped.
      writeFileSync(hold, '');
      daemon.process.kill('SIGKILL');
      expect((await daemon.exited).signal).toBe('SIGKILL');
      cleanups.push(() => {
        if (isRunning(helper!)) process.kill(-helper!, 'SIGKILL');
      });

      observe(`in the state directory after the SIGKILL of cycle ${cycle}`, persisted());
      // The helper outlives the daemon: it leads its own process group, so nothing killed it.
      expect(isRunning(helper!)).toBe(true);
      expect(procStat(helper!)!.pgrp).toBe(helper);
      orphans.push(helper!);
    }


    // Not vacuous: each cycle added at least one failure (the client's status 1) and one launch.
    expect(seen.failures).toBeGreaterThanOrEqual(CYCLES);
    expect(seen.attempts).toBeGreaterThanOrEqual(CYCLES);

    const daemon = startCli(daemonArgs);
    const conn = await connectWhenUp(daemon, socket);
    rmSync(hold, { force: true });
    observeStatus('after the last restart', await volumeStatus(conn));
    // Each next daemon stopped the helper its predecessor left before it rebuilt again: it was
    // gone by the time that daemon answered, and no two helpers ever held the marker at once.
    for (const orphan of orphans) expect(isRunning(orphan)).toBe(false);
    const helperLog = readFileSync(path.join(work.dir, 'log-v'), 'utf8');
    expect(helperLog.split('\n').filter((line) => line.includes('violation')), helperLog).toEqual([]);
    expect(helperLog.match(/^hterm /gm)?.length ?? 0).toBeGreaterThanOrEqual(CYCLES);
    expect(persisted().token).toBeGreaterThanOrEqual(seen.token);

    // A second daemon on the same socket is refused and leaves the running one's socket alone
    // (cli.test.ts checks the message of a refusal next to a daemon that started cleanly).
    const inode = lstatSync(socket).ino;
    const second = startCli(['daemon', '--watch', vol.root, '--socket', socket, '--status-socket', path.join(work.dir, 'other.sock'),
      '--state-dir', path.join(work.dir, 'other-state'), '--log-level', 'warn']);
    expect((await second.exited).code).toBe(75);
    expect(second.stderr().trim().split('\n')).toHaveLength(1);
    expect(second.stderr()).toContain('already running');
    expect(lstatSync(socket).ino).toBe(inode);
    const { token } = (await conn.request('lock_volume', { volume: volumeId, wait: true })) as { token: number };
    expect(token).toBeGreaterThan(seen.token);
    await conn.request('unlock_volume', { volume: volumeId, status: 1, token });

    await conn.close();
    daemon.process.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
    expect(() => lstatSync(socket)).toThrow(/ENOENT/);
    expect(() => lstatSync(statusSocket)).toThrow(/ENOENT/);
  }, 90_000);

});
