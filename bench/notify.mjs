/**
 * Bench: notifications over the control socket (SPEC §8), with the daemon in a child process so
 * its heap is measured on its own.
 *  (a) events/s delivered to 8 subscribers on "*" that ack every frame, while 4 clients run
 *      lock/unlock loops on 4 volumes as fast as they can (each loop makes `lock.granted` +
 *      `lock.released`).
 *  (b) the daemon's heap while one subscriber never reads its socket, under a steady paced
 *      lock/unlock load: it must flatten once that subscriber is a zombie (SPEC §8: a slow
 *      reader never makes the daemon's memory grow without bound).
 *
 * Run (after `npx tsc -p tsconfig.json`): node bench/notify.mjs
 * Env: NOTIFY_SECONDS (default 60) length of (b); NOTIFY_RATE_MS (default 5000) measuring window
 * of (a); NOTIFY_LOAD_RATE (default 1000) events/s offered during (b).
 *
 * The same file is the daemon: `node --expose-gc bench/notify.mjs --daemon` (started by the
 * bench). It answers one-line JSON commands on stdin (`heap`, `subs`, `stop`) on stdout, and
 * runs `global.gc()` before every heap reading so the figure is live memory, not garbage.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createWarden } from '../dist/index.js';
import { connectClient } from '../dist/client/connection.js';
import { createVolume, describeMachine, makeTempDir, nowMs, printTable, removeTree, sleep, verdict, waitIdle, watchdog } from './lib.mjs';

const SECONDS = Number(process.env.NOTIFY_SECONDS ?? 60);
const RATE_MS = Number(process.env.NOTIFY_RATE_MS ?? 5000);
const LOAD_RATE = Number(process.env.NOTIFY_LOAD_RATE ?? 1000);
const SUBSCRIBERS = 8;
const VOLUMES = 4;
const WARMUP_MS = 1000;
const SAMPLE_EVERY_MS = 5000;
/** After the zombie transition the heap may move by GC noise only: this much, at most. */
const FLAT_TOLERANCE_MB = 1;
const MB = 1024 * 1024;

// ---------------------------------------------------------------- the daemon (child process)

/** A warden on the volumes named in NOTIFY_ROOTS, listening on NOTIFY_SOCKET, driven over stdin. */
async function runDaemon() {
  const roots = JSON.parse(process.env.NOTIFY_ROOTS ?? '[]');
  // A long settle: source writes never rebuild; the load is lock/unlock only.
  const warden = createWarden({ roots, settleMs: 600_000 });
  await warden.start();
  await warden.listen({ socket: process.env.NOTIFY_SOCKET ?? '' });
  for (const root of roots) await waitIdle(warden, root, 30_000); // the first check builds each cache
  const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
  const stop = async () => {
    await warden.stop();
    process.exit(0);
  };
  say({ ready: true, volumes: roots.map((root) => warden.status(root).volumes[0].id) });
  const lines = createInterface({ input: process.stdin });
  lines.on('line', async (line) => {
    const { re, cmd } = JSON.parse(line);
    if (cmd === 'heap') {
      global.gc?.();
      global.gc?.();
      const { heapUsed, rss, external } = process.memoryUsage();
      say({ re, heapUsed, rss, external });
    } else if (cmd === 'subs') {
      say({ re, subs: warden.core.hub.snapshot() });
    } else if (cmd === 'stop') {
      say({ re });
      await stop();
    }
  });
  // The bench went away: do not outlive it.
  lines.on('close', () => void stop());
}

// ---------------------------------------------------------------- the bench (parent process)

const isDaemon = process.argv[2] === '--daemon';
const base = isDaemon ? '' : makeTempDir('volwarden-bench-notify-');
const socketPath = join(base, 'run', 'control.sock'); // listen() creates `run` with mode 0700 (SPEC §9)
const roots = Array.from({ length: VOLUMES }, (_, i) => join(base, `vol${i}`));
/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set();
const killAll = () => {
  for (const child of children) child.kill('SIGKILL');
};

/**
 * Starts the daemon child; resolves once every volume is built and idle.
 * @returns {Promise<{ volumes: string[], call: (cmd: string) => Promise<any>, stop: () => Promise<void> }>}
 */
function startDaemon() {
  const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--daemon'], {
    env: { ...process.env, NOTIFY_ROOTS: JSON.stringify(roots), NOTIFY_SOCKET: socketPath },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.add(child);
  const exited = new Promise((resolve) => child.once('exit', resolve)).then(() => void children.delete(child));
  const pending = new Map();
  let nextRe = 0;
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`daemon exited with ${code} before it was ready`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const msg = JSON.parse(line);
      if (msg.ready) {
        resolve({
          volumes: msg.volumes,
          call(cmd) {
            const re = ++nextRe;
            child.stdin.write(`${JSON.stringify({ re, cmd })}\n`);
            return new Promise((res) => pending.set(re, res));
          },
          async stop() {
            child.stdin.write(`${JSON.stringify({ re: 0, cmd: 'stop' })}\n`);
            await exited;
          },
        });
        return;
      }
      pending.get(msg.re)?.(msg);
      pending.delete(msg.re);
    });
  });
}

/**
 * A subscriber on "*" that acks every frame at once and counts the events it got.
 * @returns {Promise<{ received: () => number, gaps: () => number, close: () => Promise<void> }>}
 */
async function ackingSubscriber(name) {
  const conn = await connectClient(socketPath, { name });
  const { sub } = await conn.request('subscribe', { volume: '*' });
  let received = 0;
  let lastN = 0;
  let gaps = 0;
  conn.onNotification((frame) => {
    conn.send('ack', { sub: frame.sub, seq: frame.seq });
    for (const event of frame.events) {
      // `n` is daemon-wide and strictly increasing: anything else is a bug worth printing.
      if (event.n <= lastN) gaps++;
      lastN = event.n;
    }
    received += frame.events.length;
  });
  return { received: () => received, gaps: () => gaps, close: () => conn.close() };
}

/**
 * A client that locks and unlocks one volume in a loop: two events per cycle. With `rate`
 * (events/s) it is paced to that rate; without, it runs flat out.
 */
async function locker(volume, rate) {
  const conn = await connectClient(socketPath, { name: `load-${volume}` });
  let cycles = 0;
  let running = true;
  const done = (async () => {
    const start = nowMs();
    while (running) {
      if (rate !== undefined && cycles >= ((nowMs() - start) / 1000) * (rate / 2)) {
        await sleep(5);
        continue;
      }
      await conn.request('lock_volume', { volume });
      await conn.request('unlock_volume', { volume, status: 0 });
      cycles++;
    }
  })();
  return {
    events: () => cycles * 2,
    async stop() {
      running = false;
      await done;
      await conn.close();
    },
  };
}

/** (a) Flat-out load, 8 acking subscribers: events/s delivered (sum over the 8). */
async function measureDelivery() {
  const daemon = await startDaemon();
  const subscribers = [];
  for (let i = 0; i < SUBSCRIBERS; i++) subscribers.push(await ackingSubscriber(`sub-${i}`));
  const lockers = await Promise.all(daemon.volumes.map((volume) => locker(volume)));
  const totals = () => ({
    delivered: subscribers.reduce((sum, s) => sum + s.received(), 0),
    published: lockers.reduce((sum, l) => sum + l.events(), 0),
  });
  await sleep(WARMUP_MS);
  const t0 = nowMs();
  const before = totals();
  await sleep(RATE_MS);
  const after = totals();
  const seconds = (nowMs() - t0) / 1000;
  for (const l of lockers) await l.stop();
  // Let the last frames drain, then check that every subscriber kept up (none is a zombie).
  const published = totals().published;
  const drainStart = nowMs();
  while (subscribers.some((s) => s.received() < published) && nowMs() - drainStart < 5000) await sleep(10);
  const { subs } = await daemon.call('subs');
  const result = {
    seconds,
    delivered: (after.delivered - before.delivered) / seconds,
    published: (after.published - before.published) / seconds,
    complete: subscribers.every((s) => s.received() === published),
    zombies: subs.filter((s) => s.state === 'zombie').length,
    gaps: subscribers.reduce((sum, s) => sum + s.gaps(), 0),
  };
  for (const s of subscribers) await s.close();
  await daemon.stop();
  return result;
}

/**
 * A subscriber on "*" that reads its subscribe reply and then never reads again: its socket is
 * paused, so the daemon's frames pile up in the kernel buffers and nothing is ever acked.
 */
function nonReadingSubscriber() {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    socket.on('error', () => {});
    socket.once('connect', () => socket.write(`${JSON.stringify({ id: 1008, seq: 1, volume: '*' })}\n`));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', function onData(chunk) {
      text += chunk;
      const reply = text.split('\n').map((l) => (l ? JSON.parse(l) : null)).find((m) => m?.id === 1108);
      if (!reply) return;
      socket.off('data', onData);
      socket.pause();
      if (reply.ret !== 'OK') return reject(new Error(`subscribe answered ${reply.ret}`));
      resolve({ sub: reply.sub, close: () => socket.destroy() });
    });
  });
}

/** (b) Steady paced load for SECONDS with one non-reading subscriber: the daemon's heap every 5 s. */
async function measureHeap() {
  const daemon = await startDaemon();
  const silent = await nonReadingSubscriber();
  const control = await ackingSubscriber('control');
  const heap = async () => (await daemon.call('heap')).heapUsed / MB;
  const start = await heap();
  const samples = [{ t: 0, heap: start, state: 'attached', published: 0 }];
  console.log(`(b) daemon heap with one non-reading subscriber, ${LOAD_RATE} events/s offered for ${SECONDS} s (sampled every 5 s after gc)`);
  console.log('');
  console.log(`  t=  0 s  heap ${start.toFixed(2)} MB  (before load)`);
  let zombieAt = null;
  let stateNow = 'attached';
  const t0 = nowMs();
  const load = await locker(daemon.volumes[0], LOAD_RATE);
  const poll = setInterval(async () => {
    const { subs } = await daemon.call('subs');
    stateNow = subs.find((s) => s.sub === silent.sub)?.state ?? 'gone';
    if (stateNow === 'zombie' && zombieAt === null) zombieAt = (nowMs() - t0) / 1000;
  }, 100);
  for (let next = SAMPLE_EVERY_MS; next <= SECONDS * 1000; next += SAMPLE_EVERY_MS) {
    await sleep(Math.max(0, t0 + next - nowMs()));
    const t = (nowMs() - t0) / 1000;
    const value = await heap();
    samples.push({ t, heap: value, state: stateNow, published: load.events() });
    console.log(`  t=${t.toFixed(0).padStart(3)} s  heap ${value.toFixed(2)} MB  subscriber ${stateNow}, ${load.events()} events published`);
  }
  const seconds = (nowMs() - t0) / 1000;
  await load.stop();
  clearInterval(poll);
  const published = load.events();
  const drainStart = nowMs();
  while (control.received() < published && nowMs() - drainStart < 5000) await sleep(10);
  const controlComplete = control.received() === published;
  silent.close();
  await control.close();
  await daemon.stop();
  // Flat: after the first sample taken once the subscriber was a zombie, the heap stays within tolerance.
  const after = zombieAt === null ? [] : samples.filter((s) => s.t >= zombieAt);
  const settled = after[0];
  const end = samples[samples.length - 1];
  const flat = settled !== undefined && after.every((s) => s.heap <= settled.heap + FLAT_TOLERANCE_MB);
  return {
    start,
    peak: Math.max(...samples.map((s) => s.heap)),
    end: end.heap,
    seconds,
    zombieAt,
    flat,
    settled,
    growthAfterZombie: settled ? end.heap - settled.heap : Number.NaN,
    published,
    controlComplete,
  };
}

async function runBench() {
  const cancelWatchdog = watchdog((SECONDS + 90) * 1000, () => {
    killAll();
    removeTree(base);
  });
  try {
    for (const root of roots) createVolume(root, 1);
    console.log(describeMachine());
    console.log('');
    const a = await measureDelivery();
    console.log(`(a) ${SUBSCRIBERS} acking subscribers on "*", ${VOLUMES} clients locking/unlocking flat out, ${a.seconds.toFixed(1)} s measured after ${WARMUP_MS} ms warm-up`);
    console.log('');
    printTable([
      ['series', 'events/s'],
      ['published (lock.granted + lock.released)', a.published.toFixed(0)],
      [`delivered, sum over ${SUBSCRIBERS} subscribers`, a.delivered.toFixed(0)],
      ['delivered per subscriber', (a.delivered / SUBSCRIBERS).toFixed(0)],
    ]);
    console.log('');
    console.log(`every subscriber got every event: ${a.complete ? 'yes' : 'NO'}; zombies: ${a.zombies}; out-of-order n: ${a.gaps}`);
    console.log('');
    const b = await measureHeap();
    console.log('');
    console.log(
      b.zombieAt === null
        ? 'the non-reading subscriber never became a zombie'
        : `the non-reading subscriber became a zombie after ${b.zombieAt.toFixed(1)} s; heap from then on: ${b.settled.heap.toFixed(2)} → ${b.end.toFixed(2)} MB (${b.growthAfterZombie >= 0 ? '+' : ''}${b.growthAfterZombie.toFixed(2)} MB)`,
    );
    console.log(`acking control subscriber got all ${b.published} events: ${b.controlComplete ? 'yes' : 'NO'}`);
    console.log(`target: heap flattens once the subscriber is a zombie (within ${FLAT_TOLERANCE_MB} MB): ${verdict(b.flat)}`);
    console.log('');
    const zombie = b.zombieAt === null ? 'never a zombie' : `zombie after ${b.zombieAt.toFixed(1)} s`;
    console.log(
      `notify: ${a.delivered.toFixed(0)} events/s to ${SUBSCRIBERS} subscribers; heap ${b.start.toFixed(1)}→${b.peak.toFixed(1)}→${b.end.toFixed(1)} MB over ${b.seconds.toFixed(0)} s with a non-reading subscriber (${zombie})`,
    );
  } finally {
    cancelWatchdog();
    killAll();
    removeTree(base);
  }
}

if (isDaemon) await runDaemon();
else await runBench();
