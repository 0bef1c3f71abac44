#!/usr/bin/env node
/**
 * The long protocol fuzz run (SPEC §9, §10): a warden from ../dist runs in a child process while
 * this process throws ≥ 100,000 hostile frames at it over real Unix sockets, floods it past
 * `maxClients`, and keeps a canary client asking `status` every 20 ms. A daemon death is a crash
 * (it is restarted and counted). Ends with one line:
 *
 *   fuzz: <frames> frames, <connections> connections, <crashes> crashes, canary p50 <x> ms p99 <y> ms, heap <before>→<after> MB
 *
 * Usage: npx tsc -p tsconfig.json && node bench/fuzz.mjs [--frames 100000] [--seconds 60] [--seed N] [--workers 10] [--batch 60]
 * Exit status 1 when anything went wrong (crash, malformed reply, unanswered canary, leftovers).
 * The frame generators are the test suite's (test/fuzz/lib.ts), bundled on the fly with esbuild.
 */
import { fork } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const MAX_CLIENTS = 16;

if (process.argv[2] === '--daemon') await runDaemon(process.argv[3], process.argv[4]);
else await runFuzz();

// ---------------------------------------------------------------- child: the daemon

/** The warden under test, driven over IPC: `inspect` reports leftovers and heap after GC, `stop` ends it. */
async function runDaemon(root, sockDir) {
  const { createWarden } = await import(pathToFileURL(path.join(repo, 'dist', 'index.js')).href);
  const warden = createWarden({ roots: [root], settleMs: 50, limits: { maxClients: MAX_CLIENTS, ackTimeoutMs: 300 } });
  await warden.start();
  const socket = path.join(sockDir, 'private', 'control.sock');
  const statusSocket = path.join(sockDir, 'status.sock');
  await warden.listen({ socket, statusSocket });
  process.on('message', async (msg) => {
    if (msg.type === 'inspect') {
      for (let i = 0; i < 4; i++) globalThis.gc?.();
      const status = warden.status();
      process.send({
        type: 'inspected',
        state: warden.core.state(),
        clients: warden.core.clients.size,
        subs: warden.core.hub.snapshot().length,
        volume: status.volumes[0],
        reboot: status.reboot,
        heapMB: process.memoryUsage().heapUsed / 2 ** 20,
      });
    } else if (msg.type === 'stop') {
      await warden.stop();
      process.exit(0);
    }
  });
  process.send({ type: 'ready', socket, statusSocket, volumes: status0(warden) });
}

function status0(warden) {
  const v = warden.status().volumes[0];
  return v ? [v.id, v.root] : [];
}

// ---------------------------------------------------------------- parent: the fuzzer

async function runFuzz() {
  const { values } = parseArgs({
    options: {
      frames: { type: 'string', default: '100000' },
      seconds: { type: 'string', default: '60' },
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
      workers: { type: 'string', default: '10' },
      batch: { type: 'string', default: '60' },
    },
  });
  const frames = Number(values.frames);
  const seed = Number(values.seed);
  const lib = await loadLib();
  const root = makeVolume();
  const sockDir = mkdtempSync(path.join('/tmp', 'vw-fz-'));
  let crashes = 0;
  let daemon = await startDaemon(root, sockDir);
  const onExit = (code, signal) => {
    if (daemon.stopping) return;
    crashes++;
    console.error(`daemon died (code ${code}, signal ${signal}); restarting. Last stderr:\n${daemon.stderr.slice(-2000)}`);
    void startDaemon(root, sockDir).then((d) => {
      daemon = d;
      d.child.on('exit', onExit);
    });
  };
  daemon.child.on('exit', onExit);

  try {
    await waitFor(async () => (await inspect(daemon)).volume?.state === 'idle', 20_000);
    const heapBefore = (await inspect(daemon)).heapMB;
    const canary = await lib.startCanary(daemon.statusSocket, 20);
    const stats = lib.newStats();
    const burst = await lib.flood(daemon.socket, 40);
    const next = lib.frameSource({ volumes: [...daemon.volumes, 'path:/nope', '*'] }, seed);
    const budget = { frames, deadline: Date.now() + Number(values.seconds) * 1000 };
    const workers = Array.from({ length: Number(values.workers) }, (_, i) =>
      lib.runWorker({
        sockets: [daemon.socket, daemon.socket, daemon.socket, daemon.statusSocket],
        next,
        stats,
        budget,
        rng: lib.seededRandom(seed + i),
        name: `w${i}`,
        maxBatch: Number(values.batch),
      }),
    );
    const floodOdd = [...burst.odd];
    const floods = (async () => {
      while (budget.frames > 0 && Date.now() < budget.deadline) {
        floodOdd.push(...(await lib.flood(daemon.socket, 24, 20)).odd);
        await lib.sleep(1000);
      }
    })();
    const progress = setInterval(() => console.error(`… ${stats.frames} frames, ${stats.connections} connections, ${stats.problemCount} problems`), 10_000);
    await Promise.all([...workers, floods]);
    clearInterval(progress);

    let left;
    const clean = await waitFor(async () => {
      left = await inspect(daemon);
      const v = left.volume;
      return left.clients === 1 && left.subs === 0 && v?.lock.state === 'unlocked' && v.lock.waiters === 0 && left.reboot.state === 'free';
    }, 15_000).then(() => true, () => false);
    const report = await canary.stop();
    const heapAfter = (await inspect(daemon)).heapMB;

    const failures = [
      ...stats.problems,
      ...floodOdd.slice(0, 10),
      ...(burst.accepted === MAX_CLIENTS - 1 ? [] : [`first flood: ${burst.accepted} accepted, expected ${MAX_CLIENTS - 1}`]),
      ...(report.answered === report.sent && !report.dropped && report.wrong === 0 ? [] : [`canary: ${report.answered}/${report.sent} answered, ${report.wrong} wrong, dropped ${report.dropped}`]),
      ...(clean ? [] : [`leftovers after the fuzzers left: ${JSON.stringify(left)}`]),
    ];
    console.error(`seed ${seed}; ${stats.replies} replies, ${stats.notifications} notifications, ${stats.framingCloses} framing closes, ${stats.refused} refused, ${stats.lostFinalFrames} final frames unread after EPIPE; kinds ${JSON.stringify(stats.kinds)}`);
    if (stats.problemCount > stats.problems.length) console.error(`(${stats.problemCount} problems in all)`);
    for (const f of failures) console.error(`FAIL ${f}`);
    const p50 = lib.percentile(report.latenciesMs, 50).toFixed(2);
    const p99 = lib.percentile(report.latenciesMs, 99).toFixed(2);
    console.log(
      `fuzz: ${stats.frames} frames, ${stats.connections} connections, ${crashes} crashes, canary p50 ${p50} ms p99 ${p99} ms, heap ${heapBefore.toFixed(1)}→${heapAfter.toFixed(1)} MB`,
    );
    process.exitCode = crashes > 0 || failures.length > 0 || stats.frames < frames ? 1 : 0;
  } finally {
    daemon.stopping = true;
    daemon.child.send({ type: 'stop' });
    await new Promise((resolve) => {
      const timer = setTimeout(() => {
        daemon.child.kill('SIGKILL');
        resolve();
      }, 15_000);
      daemon.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    rmSync(root, { recursive: true, force: true });
    rmSync(sockDir, { recursive: true, force: true });
  }
}

/** Bundles the test suite's generators and clients (fast-check included) into one temp module. */
async function loadLib() {
  const { build } = await import('esbuild');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vw-fuzz-lib-'));
  const outfile = path.join(dir, 'lib.mjs');
  await build({ entryPoints: [path.join(repo, 'test', 'fuzz', 'lib.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile, logLevel: 'warning' });
  try {
    return await import(pathToFileURL(outfile).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function startDaemon(root, sockDir) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--daemon', root, sockDir], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    const handle = { child, stderr: '', stopping: false, pending: [] };
    child.stderr.on('data', (chunk) => {
      handle.stderr = (handle.stderr + chunk).slice(-20_000);
    });
    child.on('message', (msg) => {
      if (msg.type === 'ready') resolve(Object.assign(handle, msg));
      else if (msg.type === 'inspected') handle.pending.shift()?.(msg);
    });
    child.once('exit', (code) => reject(new Error(`daemon exited (${code}) before it was ready: ${handle.stderr}`)));
  });
}

function inspect(daemon) {
  return new Promise((resolve) => {
    daemon.pending.push(resolve);
    daemon.child.send({ type: 'inspect' });
  });
}

async function waitFor(probe, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A volume whose helper concatenates its sources (as test/integration/helpers.ts makes). */
function makeVolume() {
  const root = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'vw-fz-vol-')));
  mkdirSync(path.join(root, 'src'));
  mkdirSync(path.join(root, 'cache'));
  writeFileSync(path.join(root, 'src', 'a.txt'), 'alpha\n');
  writeFileSync(path.join(root, 'build.sh'), '#!/bin/sh\ncat src/*.txt > cache/out.txt\n');
  chmodSync(path.join(root, 'build.sh'), 0o755);
  const manifest = { version: 1, caches: [{ name: 'out', output: 'cache/out.txt', sources: ['src'] }], command: ['./build.sh'] };
  writeFileSync(path.join(root, '.volwarden.json'), JSON.stringify(manifest, null, 2));
  chmodSync(path.join(root, '.volwarden.json'), 0o644);
  return root;
}
