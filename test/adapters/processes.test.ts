import { spawn } from 'node:child_process';
import { mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeProcesses, helperEnvironment } from '../../src/adapters/processes.js';
import type { SpawnRequest } from '../../src/adapters/types.js';

// Integration tests with real processes (/bin/sh).
describe('createNodeProcesses', () => {
  const processes = createNodeProcesses();
  let dir: string;

  beforeAll(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'volwarden-proc-')));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const sh = (script: string, overrides: Partial<SpawnRequest> = {}): SpawnRequest => ({
    argv: ['/bin/sh', '-c', script],
    cwd: dir,
    env: { PATH: '/usr/bin:/bin' },
    timeoutMs: 20_000,
    killGraceMs: 5_000,
    maxOutputBytes: 65_536,
    ...overrides,
  });
  const never = () => new AbortController().signal;

  it('reports the exit code as the status', async () => {
    const ok = await processes.run(sh('exit 0'), never());
    const failed = await processes.run(sh('exit 3'), never());
    expect(ok).toMatchObject({ status: 0, code: 0, signal: null, timedOut: false });
    expect(failed).toMatchObject({ status: 3, code: 3, timedOut: false });
    expect(failed.pid).toBeGreaterThan(0);
  });

  it('gives the helper exactly the environment it was given and the requested cwd', async () => {
    const exit = await processes.run(sh('env; pwd', { env: { PATH: '/usr/bin:/bin', ONLY: 'this' } }), never());
    const lines = exit.output.trim().split('\n');
    const pwd = lines.pop();
    // /bin/sh may add PWD/SHLVL/_ of its own; nothing from the test runner's environment leaks.
    const names = lines.map((line) => line.split('=')[0]).filter((n) => !['PWD', 'SHLVL', '_', 'OLDPWD'].includes(n));
    expect(names.sort()).toEqual(['ONLY', 'PATH']);
    expect(pwd).toBe(dir);
  });

  it('gives the helper /dev/null as stdin', async () => {
    const exit = await processes.run(sh('cat; echo done'), never());
    expect(exit.output).toBe('done\n');
  });

  it('captures stdout and stderr together', async () => {
    const exit = await processes.run(sh('echo out; echo err >&2'), never());
    expect(exit.output).toContain('out\n');
    expect(exit.output).toContain('err\n');
  });

  it('keeps only the head of a large output and says how much was dropped', async () => {
    const exit = await processes.run(sh('head -c 100000 /dev/zero | tr "\\0" x', { maxOutputBytes: 1000 }), never());
    expect(exit.output).toBe(`${'x'.repeat(1000)}…[truncated 99000 bytes]`);
  });

  it('reports 128 + the signal number for a helper killed by a signal', async () => {
    const exit = await processes.run(sh('kill -9 $$'), never());
    expect(exit).toMatchObject({ status: 137, code: null, signal: 'SIGKILL', timedOut: false });
  });

  it('kills the whole process group on timeout and reports status 124', async () => {
    const pidFile = join(dir, 'child.pid');
    const exit = await processes.run(sh(`sleep 30 & echo $! > ${pidFile}; wait`, { timeoutMs: 300, killGraceMs: 300 }), never());
    expect(exit).toMatchObject({ status: 124, timedOut: true });
    const childPid = Number(await readFile(pidFile, 'utf8'));
    expect(processes.isAlive(childPid)).toBe(false);
  });

  it('escalates to SIGKILL when the helper ignores SIGTERM', async () => {
    const exit = await processes.run(sh('trap "" TERM; echo ready; while :; do sleep 1; done', { timeoutMs: 300, killGraceMs: 300 }), never());
    expect(exit).toMatchObject({ status: 124, timedOut: true, signal: 'SIGKILL' });
  });

  it('terminates the helper when the abort signal fires', async () => {
    const controller = new AbortController();
    const running = processes.run(sh('sleep 30'), controller.signal);
    setTimeout(() => controller.abort(), 100);
    const exit = await running;
    expect(exit).toMatchObject({ status: 143, signal: 'SIGTERM', timedOut: false });
  });

  it('does not start a helper when already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const exit = await processes.run(sh('exit 0'), controller.signal);
    expect(exit.status).toBe(143);
    expect(exit.pid).toBeUndefined();
  });

  it('reports 127 with spawnError for a program that does not exist', async () => {
    const exit = await processes.run(sh('', { argv: [join(dir, 'no-such-helper')] }), never());
    expect(exit).toMatchObject({ status: 127, timedOut: false });
    expect(exit.spawnError).toMatch(/ENOENT/);
  });

  it('reports 127 for a program that is not executable', async () => {
    const script = join(dir, 'not-executable.sh');
    await writeFile(script, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    const exit = await processes.run(sh('', { argv: [script] }), never());
    expect(exit.status).toBe(127);
    expect(exit.spawnError).toMatch(/EACCES/);
  });

  it('runs a helper named relative to its cwd, as manifests do', async () => {
    const script = join(dir, 'build.sh');
    await writeFile(script, '#!/bin/sh\nexit 5\n', { mode: 0o755 });
    expect((await processes.run(sh('', { argv: ['./build.sh'] }), never())).status).toBe(5);
  });

  it('reports 127 for an empty argv or a missing cwd', async () => {
    expect((await processes.run(sh('', { argv: [] }), never())).status).toBe(127);
    expect((await processes.run(sh('exit 0', { cwd: join(dir, 'gone') }), never())).status).toBe(127);
  });

  it('tells live processes from dead ones', async () => {
    expect(processes.isAlive(process.pid)).toBe(true);
    expect(processes.isAlive(1)).toBe(true); // EPERM or not, pid 1 exists
    expect(processes.isAlive(0)).toBe(false);
    expect(processes.isAlive(-1)).toBe(false);
    const exited = await processes.run(sh('exit 0'), never());
    expect(processes.isAlive(exited.pid!)).toBe(false);
  });

  it('names a running helper by a start-time identity that a dead one no longer has', async () => {
    let pid = 0;
    const controller = new AbortController();
    const running = processes.run(sh('sleep 20', { onStarted: (p) => (pid = p) }), controller.signal);
    while (pid === 0) await new Promise((r) => setTimeout(r, 10));
    const identity = processes.identity(pid);
    expect(identity).toMatch(/^\d+$/);
    expect(processes.identity(pid)).toBe(identity);
    controller.abort();
    await running;
    expect(processes.identity(pid)).toBeNull();
  });

  it('stops a process group it did not start, SIGKILLing one that ignores SIGTERM', async () => {
    // A detached group whose parent is gone: what a SIGKILLed daemon leaves behind.
    const leftover = spawn('/bin/sh', ['-c', "trap '' TERM; sleep 30 & sleep 30; wait"], { detached: true, stdio: 'ignore' });
    leftover.unref();
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await processes.stopGroup(leftover.pid!, 300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(processes.identity(leftover.pid!)).toBeNull();
  });
});

describe('helperEnvironment', () => {
  it('builds the minimal helper environment of SPEC §9', () => {
    expect(
      helperEnvironment({ volumeId: 'path:/data', root: '/data', socket: '/run/v.sock', stale: ['a', 'b'], path: '/bin', lang: 'C' }),
    ).toEqual({
      PATH: '/bin',
      LANG: 'C',
      VOLWARDEN_VOLUME: 'path:/data',
      VOLWARDEN_ROOT: '/data',
      VOLWARDEN_SOCKET: '/run/v.sock',
      VOLWARDEN_STALE: 'a,b',
    });
  });

  it('defaults PATH and LANG and leaves out a socket that does not exist', () => {
    const env = helperEnvironment({ volumeId: 'uuid:1', root: '/v', stale: [] });
    expect(env.PATH).toContain('/usr/bin');
    expect(env.LANG).toBe('C.UTF-8');
    expect(env.VOLWARDEN_STALE).toBe('');
    expect('VOLWARDEN_SOCKET' in env).toBe(false);
  });
});
