#!/usr/bin/env node
/**
 * Connection memory of the real daemon (issue 17 finding 5), measured as users run it: the CLI
 * daemon with its state directory, its heap read after GC through `bench/heap-probe.mjs` and its
 * RSS from /proc. Each phase runs twice in one go: with this version's budgets, and with the
 * budgets before issue 17 (8 MiB of unread replies per connection, no socket-wide bound) as
 * the baseline, set through the same config keys.
 *
 * Phases (each measured once the daemon has gone quiet): idle; 1000 idle connections on each
 * socket (the fixed cost per connection); 32 status clients that never read while asking for
 * 1,500 replies of ~10 KB each; 32 status clients holding 900 KB unfinished lines; everything
 * closed again.
 *
 * Usage: npm run bench:connmem   (about a minute on 2 cores)
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createVolume, describeMachine, makeTempDir, printTable, removeTree, sleep, waitUntil, watchdog } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, '..', 'dist', 'cli', 'main.js');
const MiB = 2 ** 20;
const IDLE_CONNECTIONS = 1000;
const HOARDERS = 32;
/** Volumes per daemon: 16 make one `status` reply ~10 KB, so 1,500 unread replies pass 8 MiB. */
const VOLUMES = 16;

const MODES = [
  { name: 'before issue 17 (baseline)', config: { maxClientBufferBytes: 8 * MiB, maxSocketBufferBytes: 2 ** 40 } },
  { name: 'this version', config: {} },
];

const work = makeTempDir('vw-connmem-');
const children = [];
const cancel = watchdog(170_000, () => {
  for (const c of children) c.kill('SIGKILL');
  removeTree(work);
});

const rows = [['phase', ...MODES.flatMap((m) => [`${m.name}: heap+buffers MB`, 'peak RSS MB'])]];
const results = [];
for (const [i, mode] of MODES.entries()) results.push(await measure(mode, i));
for (const [phase] of results[0]) {
  rows.push([phase, ...results.flatMap((r) => r.find(([p]) => p === phase).slice(1))]);
}
console.log(`connmem: ${describeMachine()}`);
printTable(rows);
cancel();
removeTree(work);

/** One daemon through every phase; returns [phase, heap MB, peak RSS MB] rows. */
async function measure(mode, index) {
  const dir = path.join(work, `m${index}`);
  const roots = Array.from({ length: VOLUMES }, (_, v) => path.join(dir, `vol${v}`));
  for (const root of roots) createVolume(root, 4);
  const config = path.join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ roots, ...mode.config }));
  const socket = path.join(dir, 'run', 'private', 'control.sock');
  const statusSocket = path.join(dir, 'run', 'status.sock');
  const probe = path.join(dir, 'heap.json');
  const daemon = spawn(process.execPath, ['--expose-gc', '--import', path.join(here, 'heap-probe.mjs'), CLI, 'daemon', '--config', config,
    '--socket', socket, '--status-socket', statusSocket, '--state-dir', path.join(dir, 'state'), '--log-level', 'error'], {
    env: { ...process.env, VW_HEAP_PROBE: probe }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(daemon);
  let banner = '';
  daemon.stderr.setEncoding('utf8').on('data', (t) => (banner += t));
  await waitUntil(() => banner.includes('control socket'), 'the daemon to start', 30_000);

  const out = [];
  const record = async (phase, peak) => {
    const heap = await heapOf(daemon, probe);
    // Unfinished lines are Buffers, outside the JS heap: count both.
    out.push([phase, ((heap.heapUsed + heap.arrayBuffers) / MiB).toFixed(1), ((peak ?? rssOf(daemon.pid)) / MiB).toFixed(1)]);
  };
  await record('idle');

  const idle = [...(await openMany(socket, IDLE_CONNECTIONS)), ...(await openMany(statusSocket, IDLE_CONNECTIONS))];
  await record(`${IDLE_CONNECTIONS} idle connections per socket`);
  for (const s of idle) s.destroy();
  await quiet(daemon.pid);

  // Clients that never read: each asks for far more replies than any budget.
  const sampler = rssSampler(daemon.pid);
  const readers = await openMany(statusSocket, HOARDERS);
  const request = `${JSON.stringify({ id: 1006, seq: 1 })}\n`.repeat(1500);
  for (const s of readers) {
    s.pause();
    s.write(request);
  }
  await quiet(daemon.pid);
  await record(`${HOARDERS} clients that never read`, sampler.stop());

  // Unfinished lines, just under the 1 MiB line limit.
  const sampler2 = rssSampler(daemon.pid);
  const liners = await openMany(statusSocket, HOARDERS);
  const line = `{"id":1006,"seq":1,"pad":"${'x'.repeat(900 * 1024)}`;
  for (const s of liners) s.write(line);
  await quiet(daemon.pid);
  await record(`${HOARDERS} clients with 900 KB unfinished lines`, sampler2.stop());

  for (const s of [...readers, ...liners]) s.destroy();
  await quiet(daemon.pid);
  await record('all closed again');
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.once('exit', r));
  return out;
}

/** Opens `n` connections and says hello on each (refused ones included: they close themselves). */
async function openMany(socketPath, n) {
  const sockets = [];
  for (let i = 0; i < n; i++) {
    const s = net.createConnection(socketPath);
    s.on('error', () => {});
    s.on('data', () => {});
    await new Promise((r) => s.once('connect', r).once('error', r));
    s.write(`${JSON.stringify({ id: 1000, seq: 0, name: 'connmem' })}\n`);
    sockets.push(s);
  }
  return sockets;
}

// The daemon's heap after GC, asked for with SIGUSR2 (bench/heap-probe.mjs answers in a file).
async function heapOf(child, file) {
  const before = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).seq : 0;
  child.kill('SIGUSR2');
  let now;
  await waitUntil(() => existsSync(file) && (now = JSON.parse(readFileSync(file, 'utf8'))).seq > before, 'the heap probe', 20_000);
  return now;
}

// Waits until the daemon has used no CPU for 500 ms: it has answered (or dropped) everything asked.
async function quiet(pid) {
  const cpu = () => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ').slice(11, 13).join(' ');
  let last = cpu();
  for (;;) {
    await sleep(500);
    const now = cpu();
    if (now === last) return;
    last = now;
  }
}

function rssOf(pid) {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return kb ? Number(kb[1]) * 1024 : Number.NaN;
}

// The highest RSS seen while a phase runs.
function rssSampler(pid) {
  let peak = rssOf(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 50);
  return { stop: () => (clearInterval(timer), Math.max(peak, rssOf(pid))) };
}
