import { describe, expect, it } from 'vitest';
import { simulatedClock } from '../../src/adapters/clock.js';
import { FakeProcesses } from '../../src/adapters/processes.memory.js';
import type { SpawnRequest } from '../../src/adapters/types.js';

const request = (overrides: Partial<SpawnRequest> = {}): SpawnRequest => ({
  argv: ['./build.sh'],
  cwd: '/data',
  env: { PATH: '/bin' },
  timeoutMs: 60_000,
  killGraceMs: 10_000,
  maxOutputBytes: 1_000,
  ...overrides,
});
const never = () => new AbortController().signal;

describe('FakeProcesses', () => {
  it('runs until the test makes the helper exit, and records the run', async () => {
    const processes = new FakeProcesses({ clock: simulatedClock() });
    const exit = processes.run(request(), never());
    const run = await processes.nextRun();
    expect(processes.running).toEqual([run]);
    expect(run.request.argv).toEqual(['./build.sh']);
    run.exit(3, 'oops');
    expect(await exit).toMatchObject({ status: 3, code: 3, signal: null, timedOut: false, output: 'oops', pid: run.pid });
    expect(processes.running).toEqual([]);
    expect(processes.history).toEqual([run]);
    expect(run.done).toBe(true);
  });

  it('hands out runs in start order through nextRun, waiting for one if needed', async () => {
    const processes = new FakeProcesses({ clock: simulatedClock() });
    const waiting = processes.nextRun();
    processes.run(request({ argv: ['first'] }), never());
    processes.run(request({ argv: ['second'] }), never());
    expect((await waiting).request.argv).toEqual(['first']);
    expect((await processes.nextRun()).request.argv).toEqual(['second']);
  });

  it('reports a crash as 128 + the signal number', async () => {
    const processes = new FakeProcesses({ clock: simulatedClock() });
    const exit = processes.run(request(), never());
    (await processes.nextRun()).crash('SIGSEGV');
    expect(await exit).toMatchObject({ status: 139, code: null, signal: 'SIGSEGV' });
  });

  it('times out on the simulated clock: SIGTERM at the timeout, status 124', async () => {
    const clock = simulatedClock();
    const processes = new FakeProcesses({ clock });
    const exit = processes.run(request({ timeoutMs: 1_000 }), never());
    const run = await processes.nextRun();
    clock.advance(999);
    expect(run.done).toBe(false);
    clock.advance(1);
    expect(await exit).toMatchObject({ status: 124, timedOut: true, signal: 'SIGTERM' });
    expect(run.signals).toEqual(['SIGTERM']);
  });

  it('sends SIGKILL after the grace period to a helper that ignores SIGTERM', async () => {
    const clock = simulatedClock();
    const processes = new FakeProcesses({ clock });
    const exit = processes.run(request({ timeoutMs: 1_000, killGraceMs: 500 }), never());
    const run = await processes.nextRun();
    run.hang();
    clock.advance(1_000);
    expect(run.done).toBe(false);
    clock.advance(500);
    expect(await exit).toMatchObject({ status: 124, timedOut: true, signal: 'SIGKILL' });
    expect(run.signals).toEqual(['SIGTERM', 'SIGKILL']);
  });

  it('resolves 143 when aborted, and 137 when a hanging helper is aborted', async () => {
    const clock = simulatedClock();
    const processes = new FakeProcesses({ clock });
    const controller = new AbortController();
    const exit = processes.run(request(), controller.signal);
    controller.abort();
    expect(await exit).toMatchObject({ status: 143, timedOut: false });

    const second = new AbortController();
    const hung = processes.run(request({ killGraceMs: 200 }), second.signal);
    processes.history[1].hang();
    second.abort();
    clock.advance(200);
    expect(await hung).toMatchObject({ status: 137, signal: 'SIGKILL' });
  });

  it('does not start a run whose signal is already aborted', async () => {
    const processes = new FakeProcesses({ clock: simulatedClock() });
    const controller = new AbortController();
    controller.abort();
    expect((await processes.run(request(), controller.signal)).status).toBe(143);
    expect(processes.running).toEqual([]);
  });

  it('makes a program fail to start with status 127', async () => {
    const processes = new FakeProcesses({ clock: simulatedClock() });
    processes.failToStart('./build.sh');
    const exit = await processes.run(request(), never());
    expect(exit.status).toBe(127);
    expect(exit.spawnError).toMatch(/build\.sh/);
    expect(processes.running).toEqual([]);
  });

  it('answers isAlive from the alive set', () => {
    const processes = new FakeProcesses();
    processes.alive.add(42);
    expect(processes.isAlive(42)).toBe(true);
    expect(processes.isAlive(43)).toBe(false);
  });

  it('lets onRun script every helper', async () => {
    const processes = new FakeProcesses({ clock: simulatedClock(), onRun: (run) => run.exit(0) });
    expect((await processes.run(request(), never())).status).toBe(0);
  });

  it('truncates captured output past maxOutputBytes', async () => {
    const processes = new FakeProcesses({ clock: simulatedClock() });
    const exit = processes.run(request({ maxOutputBytes: 4 }), never());
    (await processes.nextRun()).exit(1, 'abcdefgh');
    expect((await exit).output).toBe('abcd…[truncated 4 bytes]');
  });
});
