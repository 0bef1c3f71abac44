import { spawn } from 'node:child_process';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectClient } from '../../src/client/connection.js';
import { connect } from '../../src/client/index.js';
import { createWarden } from '../../src/index.js';
import { connectRaw } from '../adapters/socket-server.helpers.js';
import { assertBuilt, runCli, startDaemon, stopDaemon, type CliProcess } from '../cli/run-cli.js';
import { eventually, makeVolume, shortTmp } from './helpers.js';

/**
 * Issue 17 findings 3 and 5, black-box: what a hostile local user can take from the world-writable
 * status socket (connections, subscription slots, memory) never reaches control clients, and a
 * client that stops reading is closed with its lock handed on.
 */
const HOG = fileURLToPath(new URL('./fixtures/hog.mjs', import.meta.url));
const NOBODY = 65534;
const isRoot = process.geteuid?.() === 0;
if (!isRoot) console.log('socket-budgets.test.ts: the uid-65534 case is skipped: running another uid (setpriv) needs root');

describe('socket budgets', () => {
  const cleanups: Array<() => void | Promise<void>> = [];
  beforeAll(() => assertBuilt());
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function workDir(): string {
    const dir = shortTmp('vw-budget-');
    chmodSync(dir, 0o755); // the status socket is for everyone: its directory must be reachable
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  it.skipIf(!isRoot)('uid 65534 filling the status socket and its subscription slots leaves root able to lock and subscribe', async () => {
    const vol = makeVolume();
    cleanups.push(vol.cleanup);
    const dir = workDir();
    const socket = path.join(dir, 'private', 'control.sock');
    const statusSocket = path.join(dir, 'status.sock');
    const config = path.join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ maxClients: 20, maxSubscribers: 8 }));
    const daemon: CliProcess = await startDaemon(['--watch', vol.root, '--config', config, '--socket', socket, '--status-socket', statusSocket, '--state-dir', path.join(dir, 'state'), '--settle-ms', '50']);
    cleanups.push(() => stopDaemon(daemon));

    const hog = spawn('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', process.execPath, HOG, statusSocket, '25', '9'], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => void hog.kill('SIGTERM'));
    let out = '';
    hog.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
    const report = JSON.parse(await eventually(() => out, (t) => t.includes('\n'), 30_000));
    expect(report).toEqual({ accepted: 20, refused: 5, subscribed: 8, refusedSubscriptions: 1 });

    const lock = await runCli(['lock', '--socket', socket, vol.root, '--', 'true']);
    expect({ code: lock.code, stderr: lock.stderr }).toEqual({ code: 0, stderr: '' });
    const root = await connectClient(socket, { name: 'root subscriber' });
    cleanups.push(() => root.close());
    await expect(root.request('subscribe', { volume: '*' })).resolves.toMatchObject({ ret: 'OK' });
  });

  it('closes a control client that never reads its replies, and hands its lock to the next waiter', async () => {
    const vol = makeVolume();
    cleanups.push(vol.cleanup);
    const dir = workDir();
    const socket = path.join(dir, 'private', 'control.sock');
    const warden = createWarden({ roots: [vol.root], settleMs: 50 });
    cleanups.push(() => warden.stop());
    await warden.start();
    await warden.listen({ socket });
    const id = (await eventually(() => warden.status().volumes[0]!, (v) => v.state === 'idle' && v.lastRebuild !== null)).id;

    const hoarder = await connectRaw(socket);
    cleanups.push(() => void hoarder.socket.destroy());
    hoarder.write(`${JSON.stringify({ id: 1001, seq: 1, volume: id })}\n`);
    expect((await hoarder.waitFrames(1))[0]).toMatchObject({ ret: 'OK' });
    const waiter = await connect({ socket, name: 'next' });
    cleanups.push(() => waiter.close());
    const granted = waiter.lockVolume(id, { wait: true });
    await eventually(() => warden.status(id).volumes[0]!.lock.waiters, (n) => n === 1);

    // It stops reading and asks for thousands of replies: far past the 1 MiB unread budget.
    hoarder.socket.pause();
    const request = `${JSON.stringify({ id: 1006, seq: 2 })}\n`;
    hoarder.write(request.repeat(8000));
    // Its death is what hands the lock on (SPEC §5): the grant is the event to wait for.
    const lease = await granted;
    expect(warden.status(id).volumes[0]!.lock.holder).toMatchObject({ name: 'next' });
    expect(lease.token).toBeGreaterThan(0);
    await lease.release(0);
    expect(warden.status(id).volumes[0]!.failures).toBe(0); // the waiter's success reset the count the hoarder's death added
  });

  it('keeps all status connections together within maxSocketBufferBytes, closing the biggest holders, not control clients', async () => {
    const dir = workDir();
    const socket = path.join(dir, 'private', 'control.sock');
    const statusSocket = path.join(dir, 'status.sock');
    const warden = createWarden({ roots: [], limits: { maxSocketBufferBytes: 4 * 1024 * 1024 } });
    cleanups.push(() => warden.stop());
    await warden.start();
    await warden.listen({ socket, statusSocket });

    const control = await connectClient(socket, { name: 'root' });
    cleanups.push(() => control.close());
    // Ten status clients each send 900 KB of a line they never finish (under the 1 MiB line limit).
    const unfinished = `{"id":1006,"seq":1,"pad":"${'x'.repeat(900 * 1024)}`;
    const hoarders = await Promise.all(Array.from({ length: 10 }, () => connectRaw(statusSocket)));
    for (const h of hoarders) {
      cleanups.push(() => void h.socket.destroy());
      h.write(unfinished);
    }
    const closed = await eventually(() => hoarders.filter((h) => h.socket.destroyed || h.frames.length > 0), (list) => list.length >= 6, 30_000);
    for (const h of closed.filter((c) => c.frames.length > 0)) expect(h.frames[0]).toMatchObject({ id: 0, ret: 'ENOBUFS' });
    await Promise.all(closed.map((h) => h.ended));

    // What is left fits, and both sockets still serve.
    expect(hoarders.filter((h) => !h.socket.destroyed).length).toBeLessThanOrEqual(4);
    await expect(control.request('status')).resolves.toMatchObject({ ret: 'OK' });
    const fresh = await connectClient(statusSocket, { name: 'reader' });
    cleanups.push(() => fresh.close());
    await expect(fresh.request('status')).resolves.toMatchObject({ ret: 'OK' });
  });
});
