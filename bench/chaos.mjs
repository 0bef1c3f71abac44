/**
 * Chaos on real processes (issue 7): a real `volwarden daemon` child watching 3 temp volumes,
 * CHAOS_CLIENTS client processes locking and unlocking them, source writes that trigger
 * rebuilds, and random SIGKILLs of clients and of rebuild helpers. Afterwards it checks:
 *  - no overlap: a grant whose exclusive marker already exists (and whose owner was not
 *    SIGKILLed by this script) is a violation, for clients and daemon-run helpers alike;
 *  - fencing tokens per volume strictly increase in log order (daemon-held grants are not
 *    logged, so tokens may skip, but never repeat or go backwards);
 *  - every request was answered (a killed client's last request excepted);
 *  - the daemon still answers `status`, every lock is free with no waiters and its token is at
 *    least the last one logged, and SIGTERM makes it exit 0 with its socket files removed.
 *
 * Run (after `npm run build`): node bench/chaos.mjs
 * Env: CHAOS_SECONDS (default 30) of chaos; CHAOS_CLIENTS (default 16) client processes kept
 * alive (a killed one is replaced); CHAOS_KEEP=1 keeps the temp dir (it is always kept when
 * there are violations). The last line is `chaos: <grants> grants, <kills> kills, <violations>
 * violations`; the exit code is 1 when there were violations.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectClient } from '../dist/client/connection.js';
import { childPids } from '../test/integration/fixtures/proc.mjs';
import { describeMachine, makeTempDir, printTable, removeTree, sleep, watchdog } from './lib.mjs';

const SECONDS = Number(process.env.CHAOS_SECONDS ?? 30);
const CLIENTS = Number(process.env.CHAOS_CLIENTS ?? 16);
const KEEP = process.env.CHAOS_KEEP === '1';
const VOLUMES = 3;
const SETTLE_MS = 50;
/** The helper sleeps 0..HELPER_MAX_MS before writing its output. */
const HELPER_MAX_MS = 200;
const FIXTURES = fileURLToPath(new URL('../test/integration/fixtures/', import.meta.url));
const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

const random = (n) => Math.floor(Math.random() * n);
const pick = (items) => items[random(items.length)];

const base = makeTempDir('volwarden-chaos-');
const work = join(base, 'work'); // logs, markers, the kill record
const runDir = join(base, 'run'); // sockets: a 0700 directory (SPEC §9)
const stateDir = join(base, 'state');
const controlSocket = join(runDir, 'control.sock');
const statusSocket = join(runDir, 'status.sock');
const killsFile = join(work, 'kills');
mkdirSync(work);
mkdirSync(runDir, { mode: 0o700 });
writeFileSync(killsFile, '');

/** Everything that went wrong, one line each. */
const violations = [];
/** Every child we started (daemon and clients), killed on the way out. */
const children = new Set();
const killAll = () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
};
// A setup step that throws (the daemon never answers, ...) must not leave the children running.
process.on('uncaughtException', (err) => {
  console.error(`chaos: ${err.stack ?? err}`);
  killAll();
  console.error(`kept ${base} for inspection`);
  process.exit(2);
});
const cancelWatchdog = watchdog((SECONDS + 180) * 1000, () => {
  killAll();
  if (!KEEP) removeTree(base);
});

// ---------------------------------------------------------------- volumes and daemon

/**
 * A volume whose helper is chaos-helper.sh (random 0–200 ms, then writes `cache/out.txt`), with
 * failure budgets high enough that killed helpers never make it give up.
 */
function createChaosVolume(name) {
  const root = join(base, name);
  mkdirSync(join(root, 'src'), { recursive: true });
  for (let i = 0; i < 4; i++) writeFileSync(join(root, 'src', `f${i}.txt`), 'initial\n');
  const manifest = join(root, '.volwarden.json');
  const body = {
    version: 1,
    caches: [{ name: 'chaos', output: 'cache/out.txt', sources: ['src'] }],
    command: ['/bin/sh', join(FIXTURES, 'chaos-helper.sh'), work, name, String(HELPER_MAX_MS)],
    maxFailures: 1_000_000,
    maxAttempts: 1_000_000,
  };
  writeFileSync(manifest, `${JSON.stringify(body, null, 2)}\n`);
  chmodSync(manifest, 0o644); // owner-only, so the inline command is trusted (SPEC §9)
  writeFileSync(join(work, `log-${name}`), '');
  return { name, root };
}

const volumes = Array.from({ length: VOLUMES }, (_, i) => createChaosVolume(`v${i}`));

function startDaemon() {
  const log = openSync(join(base, 'daemon.log'), 'a');
  const args = [MAIN, 'daemon', ...volumes.flatMap((v) => ['--watch', v.root]), '--socket', controlSocket,
    '--status-socket', statusSocket, '--state-dir', stateDir, '--settle-ms', String(SETTLE_MS), '--log-level', 'warn'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', log, log] });
  children.add(child);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited };
}

async function connectWhenUp(deadlineMs) {
  for (;;) {
    try {
      return await connectClient(controlSocket, { name: 'chaos-driver' });
    } catch (err) {
      if (Date.now() > deadlineMs) throw new Error(`the daemon did not answer on ${controlSocket}: ${err.message}`);
      await sleep(50);
    }
  }
}

async function volumeStatuses(conn) {
  return (await conn.request('status')).volumes;
}

async function waitVolumes(conn, ready, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = [];
  while (Date.now() < deadline) {
    last = await volumeStatuses(conn);
    if (last.length === VOLUMES && last.every(ready)) return last;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last status: ${JSON.stringify(last)}`);
}

/** Records the kill first: a marker left by this pid is then known to be stale (chaos-client.mjs). */
function sigkill(pid) {
  appendFileSync(killsFile, `kill ${pid}\n`);
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false; // Exited just before.
  }
}

// ---------------------------------------------------------------- clients

/** pid → { child, killed, exited, stderr } */
const clients = new Map();

function startClient(durationMs) {
  const child = spawn(process.execPath, [join(FIXTURES, 'chaos-client.mjs'), controlSocket, work, String(durationMs), ...volumes.map((v) => v.root)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  const record = { child, killed: false, stderr: '', exited: null };
  child.stderr.on('data', (d) => (record.stderr = (record.stderr + d.toString()).slice(-2000)));
  record.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  clients.set(child.pid, record);
  return record;
}

/** Resolves `value` after `ms` without keeping the process alive (a race's losing side). */
const after = (ms, value) => new Promise((resolve) => setTimeout(resolve, ms, value).unref());

const liveClients = () => [...clients.values()].filter((c) => !c.killed && c.child.exitCode === null && c.child.signalCode === null);

// ---------------------------------------------------------------- run

console.log(describeMachine());
console.log(`chaos for ${SECONDS} s: ${CLIENTS} clients on ${VOLUMES} volumes, settleMs ${SETTLE_MS}, helpers sleep 0–${HELPER_MAX_MS} ms; temp dir ${base}`);

const daemon = startDaemon();
const conn = await connectWhenUp(Date.now() + 30_000);
// Each volume's first check builds its missing cache; start from clean, unlocked volumes.
await waitVolumes(conn, (v) => v.state === 'idle' && v.lastRebuild !== null && v.lock.state === 'unlocked', 'the first builds', 30_000);

const deadline = Date.now() + SECONDS * 1000;
for (let i = 0; i < CLIENTS; i++) startClient(SECONDS * 1000);
let clientKills = 0;
let helperKills = 0;
let writes = 0;

async function writeSources() {
  while (Date.now() < deadline) {
    await sleep(100 + random(300));
    const vol = pick(volumes);
    writeFileSync(join(vol.root, 'src', `f${random(4)}.txt`), `${Date.now()} ${random(1e9)}\n`);
    writes += 1;
  }
}

/** A running helper, waiting up to `ms` for one to appear. */
async function findHelper(ms) {
  const until = Date.now() + ms;
  for (;;) {
    const pids = childPids(daemon.child.pid, 'sh'); // `sh chaos-helper.sh ...`
    if (pids.length > 0) return pick(pids);
    if (Date.now() > until) return undefined;
    await sleep(10);
  }
}

async function killThings() {
  while (Date.now() < deadline) {
    await sleep(150 + random(450));
    if (Date.now() >= deadline) break;
    if (Math.random() < 0.5) {
      const helper = await findHelper(500);
      if (helper !== undefined && sigkill(helper)) {
        helperKills += 1;
        continue;
      }
    }
    const victim = pick(liveClients());
    if (!victim) continue;
    victim.killed = true;
    if (sigkill(victim.child.pid)) clientKills += 1;
    const remaining = deadline - Date.now();
    if (remaining > 500) startClient(remaining);
  }
}

await Promise.all([writeSources(), killThings()]);

// Clients finish their current lock cycle and exit on their own.
const settled = await Promise.race([
  Promise.all([...clients.values()].map((c) => c.exited)).then(() => true),
  after(60_000, false),
]);
if (!settled) violations.push('clients still running 60 s after the end of the chaos (a lock request never answered?)');
for (const c of clients.values()) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
for (const [pid, c] of clients) {
  const { code, signal } = await c.exited;
  if (!c.killed && code !== 0) violations.push(`client ${pid} exited with ${code ?? signal}: ${c.stderr.trim().split('\n').slice(-3).join(' | ')}`);
}

// ---------------------------------------------------------------- the daemon at the end

let finalStatus = [];
if (daemon.child.exitCode !== null || daemon.child.signalCode !== null) {
  violations.push(`the daemon died during the chaos: ${daemon.child.exitCode ?? daemon.child.signalCode}`);
} else {
  try {
    finalStatus = await waitVolumes(conn, (v) => v.state === 'idle' && v.lock.state === 'unlocked' && v.lock.waiters === 0, 'quiet volumes', 30_000);
  } catch (err) {
    violations.push(`status after the chaos: ${err.message}`);
  }
  await conn.close();
  daemon.child.kill('SIGTERM');
  const exit = await Promise.race([daemon.exited, after(30_000, { code: 'none within 30 s' })]);
  if (exit.code !== 0) violations.push(`daemon exit on SIGTERM: ${exit.code ?? exit.signal} (want 0)`);
  for (const socket of [controlSocket, statusSocket]) if (existsSync(socket)) violations.push(`socket file left behind: ${socket}`);
}

// ---------------------------------------------------------------- logs

const rows = [['volume', 'grants', 'helper runs', 'stale markers', 'last token', 'status token']];
let grants = 0;
for (const vol of volumes) {
  const lines = readFileSync(join(work, `log-${vol.name}`), 'utf8').split('\n').filter(Boolean);
  let lastToken = 0;
  let count = 0;
  for (const line of lines) {
    const [kind, , token] = line.split(' ');
    if (kind === 'violation' || kind === 'error') violations.push(line);
    if (kind !== 'start') continue;
    count += 1;
    if (Number(token) <= lastToken) violations.push(`${vol.name}: token ${token} logged after token ${lastToken} (reused or reordered)`);
    lastToken = Math.max(lastToken, Number(token));
  }
  grants += count;
  const status = finalStatus.find((v) => v.root === vol.root);
  if (status && status.lock.token < lastToken) violations.push(`${vol.name}: status token ${status.lock.token} is below the last logged token ${lastToken}`);
  rows.push([vol.name, count, lines.filter((l) => l.startsWith('hstart ')).length, lines.filter((l) => l.startsWith('stale ')).length,
    lastToken, status ? status.lock.token : '—']);
}

let requests = 0;
let timeouts = 0;
const clientLogs = existsSync(join(work, 'clients')) ? readdirSync(join(work, 'clients')) : [];
for (const file of clientLogs) {
  const pid = Number(file.replace('.log', ''));
  const pending = new Map();
  let lastReq = 0;
  for (const line of readFileSync(join(work, 'clients', file), 'utf8').split('\n').filter(Boolean)) {
    const [kind, n, what] = line.split(' ');
    if (kind === 'req') {
      requests += 1;
      pending.set(n, line);
      lastReq = Number(n);
    } else if (kind === 'ans') {
      if (!pending.delete(n)) violations.push(`client ${pid}: answer without a request: ${line}`);
      if (what === 'ETIMEDOUT') timeouts += 1;
    }
  }
  const killed = clients.get(pid)?.killed ?? false;
  // A SIGKILL can land between a request and the logging of its answer: only that one is excused.
  if (killed && pending.size === 1 && pending.has(String(lastReq))) continue;
  for (const line of pending.values()) violations.push(`client ${pid}${killed ? ' (killed)' : ''}: no answer to ${line}`);
}

console.log('');
printTable(rows);
console.log('');
console.log(`clients started ${clients.size}, requests ${requests}, timed out (timeoutMs) ${timeouts}, source writes ${writes}`);
console.log(`SIGKILLs: ${clientKills} clients, ${helperKills} helpers`);
for (const v of violations.slice(0, 20)) console.log(`violation: ${v}`);
if (violations.length > 20) console.log(`... and ${violations.length - 20} more`);

killAll();
cancelWatchdog();
if (violations.length > 0 || KEEP) console.log(`kept ${base} for inspection`);
else removeTree(base);
console.log(`chaos: ${grants} grants, ${clientKills + helperKills} kills, ${violations.length} violations`);
process.exitCode = violations.length > 0 ? 1 : 0;
