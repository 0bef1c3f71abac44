import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type ClientConnection } from '../../src/client/connection.js';
import { createWarden } from '../../src/index.js';
import type { VolumeStatus } from '../../src/protocol/types.js';
import { shortTempDir } from '../adapters/socket-server.helpers.js';
import { eventually, makeVolume } from './helpers.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.join(HERE, 'fixtures');
const PROJECT = path.resolve(HERE, '..', '..');

/** The fixture daemon imports the built library: build it when dist is missing or older than src. */
function ensureBuilt(): void {
  const entry = path.join(PROJECT, 'dist', 'index.js');
  const newestSource = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => {
      const full = path.join(dir, e.name);
      return e.isDirectory() ? newestSource(full) : e.name.endsWith('.ts') ? statSync(full).mtimeMs : 0;
    }));
  if (existsSync(entry) && statSync(entry).mtimeMs >= newestSource(path.join(PROJECT, 'src'))) return;
  // Type errors elsewhere do not stop tsc from emitting; only a missing entry point is fatal.
  const build = spawnSync(process.execPath, [path.join(PROJECT, 'node_modules', '.bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: PROJECT, encoding: 'utf8' });
  if (!existsSync(entry)) throw new Error(`could not build dist: ${build.stdout}${build.stderr}`);
}

/** Counters and fencing tokens persist in the state directory (SPEC §4, §5, §13). */
describe('restarting the warden', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function tempDir(prefix: string): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  it('keeps failures and continues tokens after a clean stop and start', async () => {
    const vol = makeVolume();
    cleanups.push(vol.cleanup);
    const stateDir = tempDir('vw-state-');
    const options = { roots: [vol.root], settleMs: 60_000, stateDir };

    const first = createWarden(options);
    cleanups.push(() => first.stop());
    await first.start();
    await eventually(() => first.status().volumes[0]!, (v) => v.state === 'idle' && v.lastRebuild !== null && v.lock.state === 'unlocked');
    let token = first.status().volumes[0]!.lock.token;
    for (let i = 0; i < 3; i++) {
      const lease = await first.lockVolume(vol.root, { owner: `grant-${i}` });
      expect(lease.token).toBe(++token);
      await lease.release(0);
    }
    const failing = await first.lockVolume(vol.root, { owner: 'failing' });
    expect(failing.token).toBe(++token);
    await failing.release(1);
    expect(first.status().volumes[0]).toMatchObject({ failures: 1, lock: { state: 'unlocked', token } });
    await first.stop();

    const second = createWarden(options);
    cleanups.push(() => second.stop());
    await second.start();
    await eventually(() => second.status().volumes[0]!, (v) => v.state === 'idle');
    expect(second.status().volumes[0]).toMatchObject({ failures: 1, lock: { state: 'unlocked', token } });
    const next = await second.lockVolume(vol.root, { owner: 'after-restart' });
    expect(next.token).toBe(token + 1);
    await next.release(0);
    expect(second.status().volumes[0]!.failures).toBe(0);
  });

  describe('a daemon process killed mid-traffic', () => {
    beforeAll(ensureBuilt, 120_000);

    function run(script: string, args: string[]): { process: ChildProcess; exited: Promise<number | null>; line(prefix: string): Promise<string> } {
      const child = spawn(process.execPath, [path.join(FIXTURES, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      const lines: string[] = [];
      let stderr = '';
      readline.createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      cleanups.push(async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      });
      return {
        process: child,
        exited,
        line: (prefix) => eventually(() => lines.find((l) => l.startsWith(prefix)) ?? stderr.slice(0, 500), (l) => l.startsWith(prefix), 20_000),
      };
    }

    async function volumeStatus(conn: ClientConnection): Promise<VolumeStatus> {
      const reply = await conn.request('status');
      return (reply.volumes as VolumeStatus[])[0]!;
    }

    /** Every record in the state directory, each of which must be whole JSON. */
    function records(stateDir: string): Array<{ name: string; record: Record<string, unknown> }> {
      const dir = path.join(stateDir, 'volumes');
      return readdirSync(dir)
        .filter((name) => name.endsWith('.json'))
        .map((name) => ({ name, record: JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as Record<string, unknown> }));
    }

    it('leaves whole state files and the next daemon continues above the last granted token', async () => {
      const vol = makeVolume();
      cleanups.push(vol.cleanup);
      const stateDir = tempDir('vw-state-');
      const work = shortTempDir();
      cleanups.push(work.cleanup);
      const socket = path.join(work.dir, 'private', 'control.sock');
      const marker = path.join(work.dir, 'marker');
      const volumeId = `path:${vol.root}`;
      let lastGranted = 0;

      const startDaemon = async () => {
        const daemon = run('daemon.mjs', [vol.root, socket, stateDir]);
        await daemon.line('listening ');
        const conn = await connectClient(socket, { name: 'observer' });
        cleanups.push(() => conn.close());
        await eventually(() => volumeStatus(conn), (v) => v.state === 'idle' && v.lock.state === 'unlocked');
        return { daemon, conn };
      };

      for (const round of [1, 2]) {
        const { daemon, conn } = await startDaemon();
        // The first grant of a new daemon is above anything granted before it died.
        const { token } = (await conn.request('lock_volume', { volume: volumeId })) as { token: number };
        expect(token).toBeGreaterThan(lastGranted);
        await conn.request('unlock_volume', { volume: volumeId, status: 0, token });

        const log = path.join(work.dir, `log-${round}`);
        writeFileSync(log, '');
        if (existsSync(marker)) unlinkSync(marker);
        const hammers = Array.from({ length: 3 }, () => run('hammer.mjs', [socket, volumeId, marker, log, '20000']));
        const starts = () => readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('start '));
        await eventually(starts, (s) => s.length >= 40, 20_000);

        daemon.process.kill('SIGKILL');
        await daemon.exited;
        // The hammers notice their connection is gone and exit.
        await Promise.all(hammers.map((h) => h.exited));

        const granted = Math.max(token, ...starts().map((l) => Number(l.split(' ')[1])));
        expect(granted).toBeGreaterThan(lastGranted);
        const files = records(stateDir);
        expect(files).toHaveLength(1);
        expect(files[0]!.record).toMatchObject({ volumeId });
        expect(files[0]!.record.token as number).toBeGreaterThanOrEqual(granted);
        lastGranted = granted;
      }

      const { conn } = await startDaemon();
      const persisted = records(stateDir)[0]!.record.token as number;
      expect((await volumeStatus(conn)).lock.token).toBe(persisted);
      const { token } = (await conn.request('lock_volume', { volume: volumeId })) as { token: number };
      expect(token).toBe(persisted + 1);
      expect(token).toBeGreaterThan(lastGranted);
      // Temp files a killed writer may have left behind are cleaned up by the next daemon.
      expect(readdirSync(path.join(stateDir, 'volumes')).filter((n) => !n.endsWith('.json') || n.includes('.tmp-'))).toEqual([]);
    }, 40_000);
  });
});
