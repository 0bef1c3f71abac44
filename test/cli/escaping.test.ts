import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type WardenClient } from '../../src/client/index.js';
import { shortTempDir } from '../adapters/socket-server.helpers.js';
import { eventually, makeVolume } from '../integration/helpers.js';
import { assertBuilt, runCli, startCli, startDaemon, stopDaemon, type CliProcess } from './run-cli.js';

/**
 * Issue 17 finding 8: anyone who can name a file on a volume, or say `hello`, writes strings the
 * CLI prints. None of them may reach the terminal as a control sequence.
 */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
const TITLE = '\x1b]0;pwned\x07';

describe('CLI output of hostile strings', () => {
  const vol = makeVolume();
  const tmp = shortTempDir();
  const socket = join(tmp.dir, 'c.sock');
  const statusSocket = join(tmp.dir, 's.sock');
  const id = `path:${vol.root}`;
  let daemon: CliProcess;
  let holder: WardenClient;

  beforeAll(async () => {
    assertBuilt();
    daemon = await startDaemon(['--watch', vol.root, '--socket', socket, '--status-socket', statusSocket, '--state-dir', join(tmp.dir, 'state'), '--settle-ms', '100']);
    holder = await connect({ socket, name: `evil${TITLE}\x1b[2J` });
    await eventually(() => holder.status(id), (s) => s.volumes[0]?.state === 'idle' && s.volumes[0].lastRebuild !== null);
  });

  afterAll(async () => {
    await holder?.close();
    await stopDaemon(daemon);
    vol.cleanup();
    tmp.cleanup();
  });

  it('volwarden subscribe escapes a file name and a holder name, in text and in --json', async () => {
    const text = startCli(['subscribe', '--socket', statusSocket]);
    const json = startCli(['subscribe', '--json', '--socket', statusSocket]);
    try {
      // Both have subscribed once a lock by the hostile holder shows up in both outputs.
      const lockOnce = async () => (await holder.lockVolume(id, { wait: true })).release(0);
      await eventually(async () => (await lockOnce(), text.stdout + json.stdout), () => text.stdout.includes('lock.released') && json.stdout.includes('lock.released'));
      writeFileSync(join(vol.root, 'src', `${TITLE}.txt`), 'x\n');
      await eventually(() => text.stdout, (out) => out.includes('volume.changed'));
      await eventually(() => json.stdout, (out) => out.includes('volume.changed'));
    } finally {
      text.child.kill('SIGINT');
      json.child.kill('SIGINT');
    }
    const [t, j] = await Promise.all([text.done, json.done]);
    expect(t.stdout).not.toMatch(CONTROL);
    expect(t.stdout).toContain('\\u001b]0;pwned\\u0007.txt');
    expect(t.stdout).toMatch(/holder=evil\\x1b\]0;pwned\\x07\\x1b\[2J\/\d+\?/);
    expect(j.stdout).not.toMatch(CONTROL);
    const events = j.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; paths?: string[] });
    expect(events.find((e) => e.type === 'volume.changed')?.paths).toContain(`src/${TITLE}.txt`);
  });

  it('volwarden status escapes the holder name and the error line of a daemon reply', async () => {
    const lease = await holder.lockVolume(id, { wait: true }); // behind a rebuild the last test's file may have started
    try {
      const status = await runCli(['status', '--socket', statusSocket]);
      expect(status.code).toBe(0);
      expect(status.stdout).not.toMatch(CONTROL);
      expect(status.stdout).toContain('evil\\x1b]0;pwned\\x07\\x1b[2J/');
    } finally {
      await lease.release(0);
    }
    const unknown = await runCli(['check', '--socket', socket, `/nowhere/${TITLE}`]);
    expect(unknown.code).toBe(66);
    expect(unknown.stderr).not.toMatch(CONTROL);
    expect(unknown.stderr).toContain(']0;pwned');
  });
});
