import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type WardenClient } from '../../src/client/index.js';
import { shortTempDir } from '../adapters/socket-server.helpers.js';
import { assertBuilt, startCli, type CliProcess } from '../cli/run-cli.js';
import { eventually, makeVolume } from '../integration/helpers.js';

assertBuilt();

interface Row {
  state: string;
  token: number;
}

/** The volume row of every table `status --follow` has printed to a pipe so far. */
function tables(stdout: string): Row[] {
  return stdout
    .split(/^(?=daemon )/m)
    .filter((t) => t.trim() !== '')
    .map((table) => {
      const cells = table.trim().split('\n')[2]?.split(/\s{2,}/) ?? [];
      return { state: cells[1] ?? '?', token: Number(cells[4]) };
    });
}

/** `volwarden status --follow` as an operator runs it under systemd: redraws on notifications. */
describe('volwarden status --follow', () => {
  const vol = makeVolume();
  const tmp = shortTempDir();
  const socket = join(tmp.dir, 'c.sock');
  const statusSocket = join(tmp.dir, 's.sock');
  const id = `path:${vol.root}`;
  let daemon: CliProcess;
  let client: WardenClient;

  beforeAll(async () => {
    daemon = startCli([
      'daemon', '--watch', vol.root, '--socket', socket, '--status-socket', statusSocket,
      '--state-dir', join(tmp.dir, 'state'), '--settle-ms', '300',
    ]);
    await eventually(() => daemon.stderr, (text) => text.includes('control socket') || daemon.child.exitCode !== null);
    client = await connect({ socket: statusSocket, name: 'follow-test' });
    await eventually(() => client.status(id), (s) => s.volumes[0]?.state === 'idle' && s.volumes[0].lastRebuild !== null);
  });

  afterAll(async () => {
    await client?.close();
    if (daemon?.child.exitCode === null) {
      daemon.child.kill('SIGTERM');
      await daemon.done;
    }
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
});
