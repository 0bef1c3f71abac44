/**
 * Bench: the volume lock over the control socket, each figure beside its physical floor.
 *  (a) lock+unlock round trips per second for one client, beside a raw NDJSON echo server on
 *      the same kind of socket (parse + stringify per line). Target: ≥ 50 % of the echo rate.
 *  (b) holder SIGKILL → next waiter granted, beside flock(1) on a file with an already-blocked
 *      waiter. Target: handoff p99 ≤ 5 ms.
 *
 * Run (after `npx tsc -p tsconfig.json`): node bench/lock.mjs
 * Env: BENCH_TRIALS (default 200) handoff trials per series; BENCH_THROUGHPUT_MS (default 3000) per series.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { createWarden } from '../dist/index.js';
import { connectClient } from '../dist/client/connection.js';
import {
  createVolume, describeMachine, makeTempDir, ms, nowMs, printTable, removeTree, summarize, verdict, waitIdle, waitUntil, watchdog,
} from './lib.mjs';

const TRIALS = Number(process.env.BENCH_TRIALS ?? 200);
const THROUGHPUT_MS = Number(process.env.BENCH_THROUGHPUT_MS ?? 3000);
/** Throughput runs alternate warden/echo in this many slices, so background load hits both. */
const THROUGHPUT_ROUNDS = 3;
const TARGET_RATE_RATIO = 0.5;
const TARGET_HANDOFF_P99_MS = 5;
const STEP_TIMEOUT_MS = 10_000;
/** Stop the handoff trials early (reported) rather than overrun the ~60 s budget. */
const HANDOFF_BUDGET_MS = 40_000;

const base = makeTempDir('volwarden-bench-lock-');
const runDir = join(base, 'run'); // mkdtemp made `base` 0700; the socket dir must be 0700 too (SPEC §9)
mkdirSync(runDir, { mode: 0o700 });
const controlSocket = join(runDir, 'control.sock');
const echoSocket = join(runDir, 'echo.sock');
const volumeRoot = join(base, 'vol');
const lockFile = join(base, 'flock.lock');
writeFileSync(lockFile, '');
createVolume(volumeRoot, 1);

/** Every child we start → whether it leads its own process group; killed on the way out. */
const children = new Map();
const killAll = () => {
  for (const [child, group] of children) {
    try {
      process.kill(group ? -child.pid : child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
};
const cancelWatchdog = watchdog(60_000, () => {
  killAll();
  removeTree(base);
});

// ---------------------------------------------------------------- (a) throughput

/** The client side of both throughput runs: the same library client, lock then unlock, in a loop. */
const THROUGHPUT_CLIENT = `
import { connectClient } from ${JSON.stringify(new URL('../dist/client/connection.js', import.meta.url).href)};
const { BENCH_SOCKET: socket, BENCH_VOLUME: volume } = process.env;
const duration = Number(process.env.BENCH_MS);
const conn = await connectClient(socket, { name: 'bench-throughput' });
const roundTrip = async () => {
  await conn.request('lock_volume', { volume });
  await conn.request('unlock_volume', { volume, status: 0 });
};
for (let i = 0; i < 300; i++) await roundTrip(); // warm-up (JIT, buffers)
const latencies = [];
const t0 = performance.now();
let now = t0;
while (now - t0 < duration) {
  const start = now;
  await roundTrip();
  now = performance.now();
  latencies.push(now - start);
}
await conn.close();
process.stdout.write(JSON.stringify({ elapsed: now - t0, latencies }));
`;

/**
 * Runs the throughput client against one socket for `durationMs` in a child process.
 * @returns {Promise<{ elapsed: number, latencies: number[] }>}
 */
function runThroughputClient(socket, volume, durationMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', THROUGHPUT_CLIENT], {
      env: { ...process.env, BENCH_SOCKET: socket, BENCH_VOLUME: volume, BENCH_MS: String(durationMs) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.set(child, false);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (out += chunk));
    child.on('exit', (code) => {
      children.delete(child);
      if (code !== 0) return reject(new Error(`throughput client exited with ${code}`));
      resolve(JSON.parse(out));
    });
  });
}

/** The floor for any NDJSON daemon: parse each line, answer `id + 100` with `ret: "OK"`. */
function startEchoServer(path) {
  const server = net.createServer((socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const request = JSON.parse(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        socket.write(`${JSON.stringify({ ...request, id: request.id + 100, ret: 'OK' })}\n`);
      }
    });
  });
  return new Promise((resolve) => server.listen(path, () => resolve(server)));
}

async function measureThroughput(volume) {
  const echo = await startEchoServer(echoSocket);
  const slice = Math.max(200, Math.round(THROUGHPUT_MS / THROUGHPUT_ROUNDS));
  const totals = { warden: { elapsed: 0, latencies: [] }, echo: { elapsed: 0, latencies: [] } };
  const add = (series, run) => {
    series.elapsed += run.elapsed;
    series.latencies.push(...run.latencies);
  };
  for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
    if (round % 2 === 0) {
      add(totals.warden, await runThroughputClient(controlSocket, volume, slice));
      add(totals.echo, await runThroughputClient(echoSocket, volume, slice));
    } else {
      add(totals.echo, await runThroughputClient(echoSocket, volume, slice));
      add(totals.warden, await runThroughputClient(controlSocket, volume, slice));
    }
  }
  await new Promise((resolve) => echo.close(resolve));
  const rate = (series) => series.latencies.length / (series.elapsed / 1000);
  return {
    warden: { rate: rate(totals.warden), ...summarize(totals.warden.latencies) },
    echo: { rate: rate(totals.echo), ...summarize(totals.echo.latencies) },
  };
}

// ---------------------------------------------------------------- (b) handoff

/**
 * Lets a caller await the next line on a stream that matches a test; resolves with the line and
 * the monotonic time its chunk arrived.
 */
function lineReader(stream) {
  let buffer = '';
  /** @type {Array<{ test: (line: string) => boolean, resolve: (hit: { line: string, at: number }) => void }>} */
  const waiting = [];
  stream.setEncoding('utf8').on('data', (chunk) => {
    const at = nowMs();
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      const index = waiting.findIndex((w) => w.test(line));
      if (index >= 0) waiting.splice(index, 1)[0].resolve({ line, at });
    }
  });
  /** @returns {Promise<{ line: string, at: number }>} */
  return (test, what) => within(new Promise((resolve) => waiting.push({ test, resolve })), what);
}

/**
 * @template T
 * @param {Promise<T>} promise
 * @param {string} what
 * @returns {Promise<T>}
 */
function within(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${STEP_TIMEOUT_MS} ms: ${what}`)), STEP_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', resolve));
}

/**
 * A holder process owning a locked control connection. The bench says hello and locks over raw
 * NDJSON, then hands the socket to `sleep 60` as its stdout and closes its own copy: from then on
 * the connection lives only in that process, so SIGKILL closes it exactly as a crashed helper's
 * would, without paying node's ~150 ms start-up per trial.
 */
async function spawnLockedHolder(volume) {
  const socket = net.createConnection(controlSocket);
  socket.on('error', () => {});
  const nextLine = lineReader(socket);
  await within(new Promise((resolve) => socket.once('connect', resolve)), 'connecting the holder');
  const call = async (frame) => {
    const reply = nextLine((line) => JSON.parse(line).seq === frame.seq, `reply to ${frame.id}`);
    socket.write(`${JSON.stringify(frame)}\n`);
    return JSON.parse((await reply).line);
  };
  await call({ id: 1000, seq: 1, name: 'bench-holder' });
  const locked = await call({ id: 1001, seq: 2, volume });
  if (locked.ret !== 'OK') throw new Error(`the holder could not lock: ${locked.ret}`);
  const child = spawn('sleep', ['60'], { stdio: ['ignore', socket, 'ignore'] });
  children.set(child, false);
  child.once('exit', () => children.delete(child));
  await within(new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject)), 'spawning the holder');
  socket.destroy(); // closes our descriptor only: `sleep` keeps the connection open
  return child;
}

/**
 * One volwarden trial: a holder holds the lock, our waiter queues (wait: true) on its own
 * connection, then SIGKILL the holder and time until the waiter's OK arrives. Returns ms.
 */
async function wardenTrial(warden, waiter, volume) {
  const holder = await spawnLockedHolder(volume);
  const granted = waiter.request('lock_volume', { volume, wait: true });
  await waitUntil(() => warden.status(volume).volumes[0].lock.waiters === 1, 'the waiter to be queued', STEP_TIMEOUT_MS);
  const t0 = nowMs();
  holder.kill('SIGKILL');
  await within(granted, 'the waiter to be granted');
  const elapsed = nowMs() - t0;
  await waiter.request('unlock_volume', { volume, status: 0 });
  await exited(holder);
  await waitIdle(warden, volume);
  return elapsed;
}

/**
 * flock(1) holding `lockFile` with line-buffered stdout: `--verbose` prints "getting lock took"
 * right after flock(2) returns, before anything is forked.
 */
function spawnFlock() {
  // -o: the lock fd is closed in `sleep`, so killing flock itself releases the lock.
  const child = spawn('stdbuf', ['-oL', 'flock', '-o', '--verbose', lockFile, 'sleep', '60'], {
    detached: true, // own process group: the orphaned `sleep` is killed with it afterwards
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.set(child, true);
  child.once('exit', () => children.delete(child));
  const nextLine = lineReader(child.stdout);
  return { child, granted: () => nextLine((line) => line.includes('getting lock took'), 'flock to get the lock') };
}

/** Whether `pid` is blocked on a flock (a `->` line in /proc/locks). */
function blockedOnFlock(pid) {
  return readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .some((line) => line.includes('->') && line.split(/\s+/).includes(String(pid)));
}

/** Kills a flock(1) process group (flock and its `sleep`) and waits for flock to be reaped. */
async function killFlock(flock) {
  try {
    process.kill(-flock.child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  await exited(flock.child);
}

/**
 * The flock(1) series as a chain: each trial's waiter, once granted, is the next trial's holder,
 * so a trial costs one spawn. Per trial: a new waiter blocks in flock(2), SIGKILL the holder,
 * time until the waiter's line arrives.
 */
async function flockChain() {
  let holder = spawnFlock();
  await holder.granted();
  return {
    async trial() {
      const waiter = spawnFlock();
      const granted = waiter.granted();
      await waitUntil(() => blockedOnFlock(waiter.child.pid), 'the flock waiter to block', STEP_TIMEOUT_MS);
      const t0 = nowMs();
      process.kill(holder.child.pid, 'SIGKILL');
      const { at } = await granted;
      await killFlock(holder); // its orphaned `sleep`
      holder = waiter;
      return at - t0;
    },
    close: () => killFlock(holder),
  };
}

async function measureHandoff(warden, volume) {
  const waiter = await connectClient(controlSocket, { name: 'bench-waiter' });
  const flock = await flockChain();
  const wardenMs = [];
  const flockMs = [];
  const start = nowMs();
  while (wardenMs.length < TRIALS && nowMs() - start < HANDOFF_BUDGET_MS) {
    // Interleaved, alternating which goes first, so background load hits both series alike.
    if (wardenMs.length % 2 === 0) {
      wardenMs.push(await wardenTrial(warden, waiter, volume));
      flockMs.push(await flock.trial());
    } else {
      flockMs.push(await flock.trial());
      wardenMs.push(await wardenTrial(warden, waiter, volume));
    }
  }
  const seconds = (nowMs() - start) / 1000;
  await flock.close();
  await waiter.close();
  return { warden: summarize(wardenMs), flock: summarize(flockMs), seconds };
}

// ---------------------------------------------------------------- main

async function main() {
  const warden = createWarden({ roots: [volumeRoot] });
  await warden.start();
  await warden.listen({ socket: controlSocket });
  await waitIdle(warden, volumeRoot, 20_000); // the first check builds the cache; clean from then on
  const volume = warden.status(volumeRoot).volumes[0].id;
  try {
    const t = await measureThroughput(volume);
    const h = await measureHandoff(warden, volume);
    report(t, h);
  } finally {
    await warden.stop();
  }
}

function report(t, h) {
  const ratio = t.warden.rate / t.echo.rate;
  console.log(describeMachine());
  console.log('');
  console.log(`(a) lock+unlock round trips, one client in a child process, ${THROUGHPUT_ROUNDS} alternating slices, ${THROUGHPUT_MS} ms per series`);
  console.log('');
  printTable([
    ['series', 'round trips/s', 'n', 'p50 ms', 'p99 ms', 'max ms'],
    ['raw NDJSON echo (floor)', t.echo.rate.toFixed(0), t.echo.n, ms(t.echo.p50), ms(t.echo.p99), ms(t.echo.max)],
    ['volwarden lock_volume+unlock_volume', t.warden.rate.toFixed(0), t.warden.n, ms(t.warden.p50), ms(t.warden.p99), ms(t.warden.max)],
  ]);
  console.log('');
  console.log(`volwarden / echo: ${(ratio * 100).toFixed(1)} %`);
  console.log(`target: >= ${TARGET_RATE_RATIO * 100} % of the raw echo rate: ${verdict(ratio >= TARGET_RATE_RATIO)}`);
  console.log('');
  console.log(`(b) holder SIGKILL -> next waiter granted, ${h.warden.n} interleaved trials per series, ${h.seconds.toFixed(1)} s`);
  console.log('');
  printTable([
    ['series (ms from kill)', 'n', 'p50', 'p90', 'p99', 'max'],
    ['flock(1) on a file (floor)', h.flock.n, ms(h.flock.p50), ms(h.flock.p90), ms(h.flock.p99), ms(h.flock.max)],
    ['volwarden over the control socket', h.warden.n, ms(h.warden.p50), ms(h.warden.p90), ms(h.warden.p99), ms(h.warden.max)],
  ]);
  console.log('');
  console.log(`ratio volwarden/flock: p50 ${(h.warden.p50 / h.flock.p50).toFixed(2)}x, p99 ${(h.warden.p99 / h.flock.p99).toFixed(2)}x`);
  console.log(`target: volwarden handoff p99 <= ${TARGET_HANDOFF_P99_MS} ms: ${verdict(h.warden.p99 <= TARGET_HANDOFF_P99_MS)}`);
  if (h.flock.p99 > TARGET_HANDOFF_P99_MS) {
    console.log(`note: the flock(1) floor itself has p99 ${ms(h.flock.p99)} ms here: this machine cannot meet the target right now`);
  }
}

try {
  await main();
} finally {
  cancelWatchdog();
  killAll();
  removeTree(base);
}
