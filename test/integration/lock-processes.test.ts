import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createWarden } from '../../src/index.js';
import { connectRaw, shortTempDir, type RawClient } from '../adapters/socket-server.helpers.js';
import { eventually, makeVolume } from './helpers.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** A fixture script in its own node process, with its stdout collected line by line. */
interface Child {
  process: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
  /** Resolves with the first line starting with `prefix` (polling; generous timeout). */
  line(prefix: string, timeoutMs?: number): Promise<string>;
}

/**
 * Lock arbitration (SPEC §5) between real processes over the real control socket: holders
 * and waiters are separate node processes that are SIGKILLed, never closed politely.
 */
describe('lock arbitration between processes', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function run(script: string, args: string[]): Child {
    const child = spawn(process.execPath, [path.join(FIXTURES, script), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
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
      lines,
      exited,
      line: async (prefix, timeoutMs = 20_000) => {
        const found = await eventually(() => lines.find((l) => l.startsWith(prefix)) ?? stderr.slice(0, 500), (l) => l.startsWith(prefix), timeoutMs);
        return found;
      },
    };
  }

  const tokenOf = (line: string) => Number(line.split(' ')[1]);

  /** A real warden on a real socket, its volume clean (its own first rebuild done) and nothing settling. */
  async function daemon() {
    const vol = makeVolume();
    cleanups.push(vol.cleanup);
    const tmp = shortTempDir();
    cleanups.push(tmp.cleanup);
    const socket = path.join(tmp.dir, 'private', 'control.sock');
    const warden = createWarden({ roots: [vol.root], settleMs: 60_000 });
    cleanups.push(() => warden.stop());
    await warden.start();
    await warden.listen({ socket });
    await eventually(() => warden.status().volumes[0]!, (v) => v.state === 'idle' && v.lastRebuild !== null && v.lock.state === 'unlocked');
    const volume = () => warden.status().volumes[0]!;
    return { warden, vol, socket, tmp, volume };
  }

  it('hands the lock to the next live waiter when the holder process is SIGKILLed, counting one failure', async () => {
    const { vol, socket, volume } = await daemon();
    const holder = run('holder.mjs', [socket, vol.root, 'holder']);
    const first = tokenOf(await holder.line('locked '));
    expect(volume().lock.holder).toMatchObject({ pid: holder.process.pid });
    const waiter = run('holder.mjs', [socket, vol.root, 'waiter']);
    await eventually(volume, (v) => v.lock.waiters === 1);
    const failuresBefore = volume().failures;

    holder.process.kill('SIGKILL');
    const second = tokenOf(await waiter.line('granted '));

    expect(second).toBeGreaterThan(first);
    expect(second).toBe(first + 1);
    const after = volume();
    expect(after.failures).toBe(failuresBefore + 1);
    expect(after.lock).toMatchObject({ state: 'locked', waiters: 0, token: second, holder: { pid: waiter.process.pid } });
  });

  it('skips a waiter process that was SIGKILLed while queued', async () => {
    const { vol, socket, volume } = await daemon();
    const a = run('holder.mjs', [socket, vol.root, 'holder', 'A']);
    const token = tokenOf(await a.line('locked '));
    const b = run('holder.mjs', [socket, vol.root, 'waiter', 'B']);
    await eventually(volume, (v) => v.lock.waiters === 1);
    const c = run('holder.mjs', [socket, vol.root, 'waiter', 'C']);
    await eventually(volume, (v) => v.lock.waiters === 2);

    b.process.kill('SIGKILL');
    await b.exited;
    await eventually(volume, (v) => v.lock.waiters === 1);
    a.process.stdin!.write('unlock 0\n');
    expect(await a.line('unlocked ')).toBe('unlocked OK');

    expect(tokenOf(await c.line('granted '))).toBe(token + 1);
    expect(b.lines.some((l) => l.startsWith('granted'))).toBe(false);
    expect(volume().lock).toMatchObject({ state: 'locked', waiters: 0, token: token + 1, holder: { name: 'C', pid: c.process.pid } });
    expect(volume().failures).toBe(0);
  });

  it('keeps mutual exclusion and FIFO tokens while 12 processes hammer one volume', async () => {
    const { vol, socket, tmp, volume } = await daemon();
    const startToken = volume().lock.token;
    // Outside the volume: the hammering must not make the daemon rebuild (its grants are not logged).
    const marker = path.join(tmp.dir, 'marker');
    const log = path.join(tmp.dir, 'log');
    writeFileSync(log, '');
    const hammers = Array.from({ length: 12 }, () => run('hammer.mjs', [socket, vol.root, marker, log, '3000']));
    const codes = await Promise.all(hammers.map((h) => h.exited));
    expect(codes).toEqual(hammers.map(() => 0));

    const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    expect(lines.filter((l) => !l.startsWith('start ') && !l.startsWith('end '))).toEqual([]);
    const tokens: number[] = [];
    const grantsByPid = new Map<number, number>();
    for (let i = 0; i < lines.length; i += 2) {
      const [kind, token, pid] = lines[i]!.split(' ');
      expect(kind).toBe('start');
      // Every start is closed by its own end before anyone else starts.
      expect(lines[i + 1]).toBe(`end ${token}`);
      tokens.push(Number(token));
      grantsByPid.set(Number(pid), (grantsByPid.get(Number(pid)) ?? 0) + 1);
    }
    expect(tokens.length).toBeGreaterThan(12);
    // Strictly increasing by one: never reused, and no grant went unlogged.
    expect(tokens).toEqual(tokens.map((_, i) => startToken + 1 + i));
    const served = hammers.filter((h) => (grantsByPid.get(h.process.pid!) ?? 0) > 0).length;
    expect(served).toBeGreaterThanOrEqual(9);
    for (const h of hammers) expect(h.lines).toContain(`grants ${grantsByPid.get(h.process.pid!) ?? 0}`);
    expect(volume()).toMatchObject({ failures: 0, lock: { state: 'unlocked', waiters: 0, token: tokens.at(-1) } });
  }, 40_000);

  describe('refusals and cancellations leave the queue undisturbed', () => {
    let seq = 0;
    /** Sends a request; resolves with the reply carrying its `seq` (replies may come out of order). */
    async function call(client: RawClient, request: Record<string, unknown>): Promise<Record<string, unknown>> {
      const mySeq = send(client, request);
      return reply(client, mySeq);
    }
    function send(client: RawClient, request: Record<string, unknown>): number {
      const mySeq = ++seq;
      client.write(`${JSON.stringify({ seq: mySeq, ...request })}\n`);
      return mySeq;
    }
    function reply(client: RawClient, mySeq: number): Promise<Record<string, unknown>> {
      return eventually(() => client.frames.find((f) => f.seq === mySeq), (f) => f !== undefined) as Promise<Record<string, unknown>>;
    }

    it('answers ECANCELED, ETIMEDOUT, EDEADLK, EALREADY and EPERM, then still grants the original waiter', async () => {
      const { vol, socket, volume } = await daemon();
      const clients = await Promise.all([connectRaw(socket), connectRaw(socket), connectRaw(socket), connectRaw(socket)]);
      cleanups.push(() => clients.forEach((c) => c.socket.destroy()));
      const [holder, waiter, other, canceller] = clients as [RawClient, RawClient, RawClient, RawClient];
      for (const [i, c] of clients.entries()) expect(await call(c, { id: 1000, name: `c${i}` })).toMatchObject({ ret: 'OK' });

      const granted = await call(holder, { id: 1001, volume: vol.root });
      expect(granted).toMatchObject({ id: 1101, ret: 'OK' });
      const token = granted.token as number;
      const waiting = send(waiter, { id: 1001, volume: vol.root, wait: true });
      await eventually(volume, (v) => v.lock.waiters === 1);

      // Double lock by the holder, double wait by the waiter.
      expect(await call(holder, { id: 1001, volume: vol.root, wait: true })).toMatchObject({ id: 1101, ret: 'EDEADLK' });
      expect(await call(waiter, { id: 1001, volume: vol.root, wait: true })).toMatchObject({ id: 1101, ret: 'EALREADY' });
      // Unlock by anyone but the holder, or with a stale token.
      expect(await call(waiter, { id: 1002, volume: vol.root, status: 0 })).toMatchObject({ id: 1102, ret: 'EPERM' });
      expect(await call(other, { id: 1002, volume: vol.root, status: 1 })).toMatchObject({ id: 1102, ret: 'EPERM' });
      expect(await call(holder, { id: 1002, volume: vol.root, status: 0, token: token - 1 })).toMatchObject({ id: 1102, ret: 'EPERM' });
      // A deadline.
      expect(await call(other, { id: 1001, volume: vol.root, wait: true, timeoutMs: 150 })).toMatchObject({ id: 1101, ret: 'ETIMEDOUT' });
      // lock_cancel from another request on the same connection.
      const cancelled = send(canceller, { id: 1001, volume: vol.root, wait: true });
      await eventually(volume, (v) => v.lock.waiters === 2);
      expect(await call(canceller, { id: 1003, volume: vol.root })).toMatchObject({ id: 1103, ret: 'OK' });
      expect(await reply(canceller, cancelled)).toMatchObject({ id: 1101, ret: 'ECANCELED' });

      expect(volume().lock).toMatchObject({ state: 'locked', waiters: 1, token, holder: { name: 'c0' } });
      expect(volume().failures).toBe(0);
      expect(waiter.frames.some((f) => f.seq === waiting)).toBe(false);

      expect(await call(holder, { id: 1002, volume: vol.root, status: 0, token })).toMatchObject({ id: 1102, ret: 'OK' });
      expect(await reply(waiter, waiting)).toMatchObject({ id: 1101, ret: 'OK', token: token + 1 });
      expect(volume().lock).toMatchObject({ state: 'locked', waiters: 0, token: token + 1, holder: { name: 'c1' } });
      // Each request got exactly one reply.
      for (const c of clients) {
        const seqs = c.frames.map((f) => f.seq);
        expect(new Set(seqs).size).toBe(seqs.length);
      }
    });
  });
});
