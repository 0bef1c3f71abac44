import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type WardenClient, type WardenEvent } from '../../src/client/index.js';
import { shortTempDir } from '../adapters/socket-server.helpers.js';
import { assertBuilt, runCli, startCli, startDaemon, stopDaemon, type CliProcess } from '../cli/run-cli.js';
import { eventually, makeVolume } from '../integration/helpers.js';

assertBuilt();

interface Row {
  head: string;
  state: string;
  lock: string;
  waiters: number;
  token: number;
}

/** The header and volume row of every table `status --follow` has printed to a pipe so far. */
function tables(stdout: string): Row[] {
  return stdout
    .split(/^(?=daemon )/m)
    .filter((t) => t.trim() !== '')
    .map((table) => {
      const lines = table.trim().split('\n');
      const cells = lines[2]?.split(/\s{2,}/) ?? [];
      return { head: lines[0] ?? '', state: cells[1] ?? '?', lock: cells[2] ?? '?', waiters: Number(cells[3]), token: Number(cells[4]) };
    });
}

const last = (rows: Row[]): Row | undefined => rows[rows.length - 1];

/** `volwarden status --follow` as an operator runs it under systemd: redraws on notifications. */
describe('volwarden status --follow', () => {
  const vol = makeVolume();
  const tmp = shortTempDir();
  const socket = join(tmp.dir, 'c.sock');
  const statusSocket = join(tmp.dir, 's.sock');
  const id = `path:${vol.root}`;
  let daemon: CliProcess;
  let client: WardenClient;
  const published: WardenEvent[] = [];

  beforeAll(async () => {
    daemon = await startDaemon([
      '--watch', vol.root, '--socket', socket, '--status-socket', statusSocket,
      '--state-dir', join(tmp.dir, 'state'), '--settle-ms', '300',
    ]);
    client = await connect({ socket: statusSocket, name: 'follow-test' });
    await eventually(() => client.status(id), (s) => s.volumes[0]?.state === 'idle' && s.volumes[0].lastRebuild !== null);
    // Every notification the daemon publishes, to show which redraws came without one.
    client.subscribe('*').subscribe({ next: (event) => void published.push(event), error: () => {} });
  });

  afterAll(async () => {
    await client?.close();
    await stopDaemon(daemon);
    vol.cleanup();
    tmp.cleanup();
  });

  it('redraws into a pipe when a source changes, and exits 0 on SIGINT', async () => {
    const follow = startCli(['status', '--follow', '--socket', statusSocket]);
    const [first] = await eventually(() => tables(follow.stdout), (t) => t.length >= 1 || follow.child.exitCode !== null);
    expect(first).toMatchObject({ state: 'idle' });
    expect(follow.stdout).not.toContain('\x1b['); // A pipe gets plain tables, no screen clearing.

    writeFileSync(join(vol.root, 'src', 'b.txt'), 'beta\n');
    // The daemon-mode rebuild takes the volume lock, so a finished one shows the next token.
    const drawn = await eventually(
      () => tables(follow.stdout),
      (t) => t.some((row) => row.state === 'idle' && row.token > first.token) || follow.child.exitCode !== null,
    );
    expect(drawn.slice(1).some((row) => row.state !== 'idle')).toBe(true);
    expect(follow.stdout).toMatch(/\n\ndaemon /); // Tables in a pipe are a blank line apart.

    follow.child.kill('SIGINT');
    const { code, stderr } = await follow.done;
    expect(code).toBe(0);
    expect(stderr).toBe('');
  });

  it('shows a waiter queuing and leaving, and the reboot lock waiting, though no notification is published for them', async () => {
    const holder = await connect({ socket, name: 'holder' });
    const waiter = await connect({ socket, name: 'waiter' });
    const rebooter = await connect({ socket, name: 'rebooter' });
    const follow = startCli(['status', '--follow', '--socket', statusSocket]);
    try {
      await eventually(() => tables(follow.stdout), (t) => t.length >= 1 || follow.child.exitCode !== null);
      const lease = await holder.lockVolume(id);
      await eventually(() => last(tables(follow.stdout)), (row) => row?.lock.startsWith('holder') === true || follow.child.exitCode !== null);
      const before = published.length;

      const queued = waiter.lockVolume(id, { wait: true, timeoutMs: 1500 }).catch((err: unknown) => err);
      const shown = await eventually(() => last(tables(follow.stdout)), (row) => row?.waiters === 1 || follow.child.exitCode !== null);
      expect(shown).toMatchObject({ waiters: 1, lock: expect.stringMatching(/^holder/) });
      expect(published.slice(before)).toEqual([]);

      expect(await queued).toMatchObject({ code: 'ETIMEDOUT' });
      await eventually(() => last(tables(follow.stdout)), (row) => row?.waiters === 0 || follow.child.exitCode !== null);
      expect(last(tables(follow.stdout))).toMatchObject({ waiters: 0 });

      // The locked volume is busy, so the reboot lock waits; its waiter's death frees it again.
      const rebooting = rebooter.lockReboot({ wait: true }).catch((err: unknown) => err);
      await eventually(() => last(tables(follow.stdout))?.head ?? '', (head) => head.endsWith('reboot lock waiting') || follow.child.exitCode !== null);
      await rebooter.close();
      await rebooting;
      await eventually(() => last(tables(follow.stdout))?.head ?? '', (head) => head.endsWith('reboot lock free') || follow.child.exitCode !== null);
      expect(published.slice(before)).toEqual([]);

      await lease.release();
      await eventually(() => last(tables(follow.stdout)), (row) => row?.lock === '-' || follow.child.exitCode !== null);
    } finally {
      follow.child.kill('SIGINT');
      await Promise.all([holder.close(), waiter.close(), rebooter.close()]);
    }
    const { code, stderr } = await follow.done;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('stacks the volumes in a 40-column terminal: no line is wider than 40, and exits 0 on SIGTERM', async () => {
    const follow = startCli(['status', '--follow', '--socket', statusSocket], { env: { COLUMNS: '40' } });
    await eventually(() => follow.stdout, (out) => out.includes('waiting') || follow.child.exitCode !== null);
    const holder = await connect({ socket, name: 'narrow' });
    const held = await holder.lockVolume(id);
    await eventually(() => follow.stdout, (out) => out.includes('locked by narrow') || follow.child.exitCode !== null);
    await held.release();
    await holder.close();
    await eventually(() => follow.stdout.split('\n\n').at(-1) ?? '', (t) => t.includes('unlocked') || follow.child.exitCode !== null);

    follow.child.kill('SIGTERM');
    const { code, stdout, stderr } = await follow.done;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stdout.split('\n');
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(40);
    expect(lines).toContain(id.length <= 40 ? id : `…${id.slice(id.length - 39)}`);
    expect(stdout).toMatch(/^ {2}idle · unlocked · 0 waiting/m);
    expect(stdout).not.toContain('VOLUME');
  });

  it('exits 66 with one line for an unknown volume', async () => {
    const { code, stdout, stderr } = await runCli(['status', '--follow', join(tmp.dir, 'not-a-volume'), '--socket', statusSocket]);
    expect(code).toBe(66);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^volwarden: no volume /);
  });
});

/** The daemon goes away under a running `status --follow`: it must say so and stop, not hang. */
describe('volwarden status --follow when the daemon stops', () => {
  const vol = makeVolume();
  const tmp = shortTempDir();
  const socket = join(tmp.dir, 'c.sock');
  const statusSocket = join(tmp.dir, 's.sock');
  let daemon: CliProcess;

  beforeAll(async () => {
    daemon = await startDaemon(['--watch', vol.root, '--socket', socket, '--status-socket', statusSocket, '--state-dir', join(tmp.dir, 'state')]);
  });

  afterAll(async () => {
    await stopDaemon(daemon);
    vol.cleanup();
    tmp.cleanup();
  });

  it('exits 69 with one stderr line once the daemon is gone', async () => {
    const follow = startCli(['status', '--follow', '--socket', statusSocket]);
    await eventually(() => tables(follow.stdout), (t) => t.length >= 1 || follow.child.exitCode !== null);
    daemon.child.kill('SIGTERM');
    await daemon.done;
    const { code, stderr } = await follow.done;
    expect(code).toBe(69);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^volwarden: the daemon at \S+ closed the connection: status --follow stopped; run it again once the daemon is back\n$/);
  });
});
