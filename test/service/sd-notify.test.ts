import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/actors/env.js';
import { notifyReady, notifyStopping } from '../../src/cli/sd-notify.js';
import { shortTempDir } from '../adapters/socket-server.helpers.js';
import { assertBuilt, startCli } from '../cli/run-cli.js';
import { eventually, makeVolume } from '../integration/helpers.js';

/** systemd readiness (packaging/volwarden.service `Type=notify`) through a fake systemd-notify. */

interface LogLine {
  level: 'info' | 'warn' | 'error' | 'debug';
  obj: object;
  msg?: string;
}

function recordingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return { log: { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') }, lines };
}

/**
 * A directory holding a `systemd-notify` that appends one line per call to `calls.log`: its argv,
 * its NOTIFY_SOCKET, and whether `probeSocket` answered at that moment.
 */
function fakeSystemdNotify(dir: string, options: { exitCode?: number; probeSocket?: string } = {}): { bin: string; calls: () => string[] } {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const log = join(dir, 'calls.log');
  const probe = options.probeSocket
    ? `$(${JSON.stringify(process.execPath)} -e "require('net').createConnection(process.argv[1]).on('connect',()=>{console.log('answers');process.exit(0)}).on('error',()=>{console.log('refused');process.exit(0)})" ${JSON.stringify(options.probeSocket)})`
    : '-';
  writeFileSync(
    join(bin, 'systemd-notify'),
    `#!/bin/sh\nprintf '%s | socket=%s | control=%s\\n' "$*" "$NOTIFY_SOCKET" "${probe}" >> ${JSON.stringify(log)}\nexit ${options.exitCode ?? 0}\n`,
  );
  chmodSync(join(bin, 'systemd-notify'), 0o755);
  return { bin, calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []) };
}

describe('notifyReady and notifyStopping', () => {
  const tmp = shortTempDir();
  afterAll(() => tmp.cleanup());

  it('do nothing without NOTIFY_SOCKET', async () => {
    const fake = fakeSystemdNotify(join(tmp.dir, 'none'));
    const { log, lines } = recordingLogger();
    await notifyReady({ log, env: { PATH: fake.bin } });
    await notifyStopping({ log, env: { PATH: fake.bin, NOTIFY_SOCKET: '' } });
    expect(fake.calls()).toEqual([]);
    expect(lines).toEqual([]);
  });

  it('run systemd-notify with READY, the main pid and a status line, then STOPPING=1', async () => {
    const fake = fakeSystemdNotify(join(tmp.dir, 'ok'));
    const { log, lines } = recordingLogger();
    const env = { PATH: fake.bin, NOTIFY_SOCKET: '/run/systemd/notify' };
    await notifyReady({ log, env, pid: 4242 }, 'watching 2 volumes');
    await notifyStopping({ log, env });
    expect(fake.calls()).toEqual([
      '--ready --pid=4242 --status=watching 2 volumes | socket=/run/systemd/notify | control=-',
      'STOPPING=1 | socket=/run/systemd/notify | control=-',
    ]);
    expect(lines.filter((l) => l.level !== 'debug')).toEqual([]);
  });

  it('log one warning when systemd-notify is not installed', async () => {
    const { log, lines } = recordingLogger();
    await notifyReady({ log, env: { PATH: join(tmp.dir, 'empty'), NOTIFY_SOCKET: '/run/systemd/notify' } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', msg: expect.stringContaining('systemd-notify is not on PATH') });
  });

  it('log one warning, and resolve, when systemd-notify fails', async () => {
    const fake = fakeSystemdNotify(join(tmp.dir, 'fails'), { exitCode: 1 });
    const { log, lines } = recordingLogger();
    await notifyStopping({ log, env: { PATH: fake.bin, NOTIFY_SOCKET: '/run/systemd/notify' } });
    expect(lines.map((l) => l.level)).toEqual(['warn']);
    expect(lines[0].msg).toContain('systemd-notify failed');
  });
});

describe('volwarden daemon under a Type=notify unit', () => {
  assertBuilt();
  const tmp = shortTempDir();
  const vol = makeVolume();
  afterAll(() => {
    vol.cleanup();
    tmp.cleanup();
  });

  function daemon(name: string, env: NodeJS.ProcessEnv) {
    const dir = join(tmp.dir, name);
    mkdirSync(dir);
    const socket = join(dir, 'c.sock');
    const args = ['daemon', '--watch', vol.root, '--socket', socket, '--status-socket', join(dir, 's.sock'), '--state-dir', join(dir, 'state'), '--settle-ms', '50'];
    return { dir, socket, proc: startCli(args, { env }) };
  }

  it('reports readiness once its control socket answers, and STOPPING=1 on SIGTERM', async () => {
    const socket = join(tmp.dir, 'notify', 'c.sock');
    const fake = fakeSystemdNotify(join(tmp.dir, 'notify-fake'), { probeSocket: socket });
    const { proc } = daemon('notify', { PATH: `${fake.bin}:${process.env.PATH}`, NOTIFY_SOCKET: '/run/systemd/fake-notify' });
    const [ready] = await eventually(fake.calls, (calls) => calls.length >= 1 || proc.child.exitCode !== null);
    expect(ready).toBe(`--ready --pid=${proc.child.pid} --status=watching 1 volume | socket=/run/systemd/fake-notify | control=answers`);
    proc.child.kill('SIGTERM');
    const { code } = await proc.done;
    expect(code).toBe(0);
    expect(fake.calls()).toEqual([ready, 'STOPPING=1 | socket=/run/systemd/fake-notify | control=answers']);
  });

  it('never runs systemd-notify outside systemd (no NOTIFY_SOCKET)', async () => {
    const fake = fakeSystemdNotify(join(tmp.dir, 'plain-fake'));
    const { proc } = daemon('plain', { PATH: `${fake.bin}:${process.env.PATH}`, NOTIFY_SOCKET: '' });
    await eventually(() => proc.stderr, (text) => text.includes('control socket') || proc.child.exitCode !== null);
    proc.child.kill('SIGTERM');
    expect((await proc.done).code).toBe(0);
    expect(fake.calls()).toEqual([]);
  });

  it('keeps running, with one warning, when the notify socket does not exist', async () => {
    const { proc, socket } = daemon('broken', { NOTIFY_SOCKET: join(tmp.dir, 'no-such-notify.sock') });
    const warned = await eventually(
      () => proc.stdout.split('\n').filter((l) => l.includes('systemd-notify')),
      (lines) => lines.length > 0 || proc.child.exitCode !== null,
    );
    expect(warned).toHaveLength(1);
    expect(JSON.parse(warned[0])).toMatchObject({ level: 40 });
    expect(existsSync(socket)).toBe(true);
    expect(proc.child.exitCode).toBeNull();
    proc.child.kill('SIGTERM');
    expect((await proc.done).code).toBe(0);
  });
});

// A real datagram socket needs something that can bind one: Node cannot, python3 can.
const PYTHON_LISTENER = `
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('listening', flush=True)
with open(sys.argv[2], 'a') as out:
    while True:
        msg, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(64))
        out.write(msg.decode() + '\\n---\\n'); out.flush()
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array('i'); fds.frombytes(data[:len(data) - len(data) % 4])
                for fd in fds: os.close(fd)
`;

function missingForRealSocket(): string | undefined {
  if (spawnSync('python3', ['-c', 'import socket; socket.AF_UNIX'], { stdio: 'ignore' }).status !== 0) return 'python3 is not installed';
  if (spawnSync('systemd-notify', ['--help'], { stdio: 'ignore' }).status !== 0) return 'systemd-notify is not installed';
  return undefined;
}

const realSocketSkip = missingForRealSocket();
if (realSocketSkip) console.warn(`skipping the real notify socket test: ${realSocketSkip}`);

describe.skipIf(realSocketSkip !== undefined)('volwarden daemon and the real systemd-notify', () => {
  assertBuilt();
  const tmp = shortTempDir();
  afterAll(() => tmp.cleanup());

  it('sends READY=1 with its own pid as MAINPID on the datagram socket, then STOPPING=1', async () => {
    const vol = makeVolume();
    const notifySocket = join(tmp.dir, 'notify.sock');
    const received = join(tmp.dir, 'received.txt');
    const listener = spawn('python3', ['-c', PYTHON_LISTENER, notifySocket, received], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((resolve) => listener.stdout!.once('data', resolve));
      const messages = () => (existsSync(received) ? readFileSync(received, 'utf8').split('\n---\n').filter(Boolean) : []);
      const proc = startCli(
        ['daemon', '--watch', vol.root, '--socket', join(tmp.dir, 'c.sock'), '--status-socket', join(tmp.dir, 's.sock'), '--state-dir', join(tmp.dir, 'state')],
        { env: { NOTIFY_SOCKET: notifySocket } },
      );
      const [ready] = await eventually(messages, (m) => m.length >= 1 || proc.child.exitCode !== null);
      expect(ready.split('\n')).toEqual(expect.arrayContaining(['READY=1', `MAINPID=${proc.child.pid}`, 'STATUS=watching 1 volume']));
      proc.child.kill('SIGTERM');
      expect((await proc.done).code).toBe(0);
      expect(messages()).toContain('STOPPING=1');
      expect(proc.stdout).not.toContain('systemd-notify');
    } finally {
      listener.kill();
      vol.cleanup();
    }
  });
});
