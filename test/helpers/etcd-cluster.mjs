/**
 * A real etcd cluster for tests and benches: N members of Debian's `/usr/bin/etcd` on free
 * loopback ports, data in a temp dir (on /dev/shm when there is one: etcd fsyncs every write),
 * started, checked healthy, and stopped by PID. Plain ESM with JSDoc types (declarations in
 * `etcd-cluster.d.mts`) so the benches run it from Node 20 without a loader.
 *
 * No orphans: every member is killed by PID on `destroy()`, on this process's exit, and — if this
 * process is SIGKILLed — by a small watchdog shell that outlives it by at most a second.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD_BIN = process.env.VOLWARDEN_ETCD_BIN ?? '/usr/bin/etcd';
const HEALTH_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 3_000;

/**
 * Why the etcd tests cannot run here, or null when they can.
 *
 * @example
 * const reason = etcdMissingReason();
 * if (reason) console.warn(`skipping the etcd tests: ${reason}`);
 */
export function etcdMissingReason() {
  return existsSync(ETCD_BIN) ? null : `${ETCD_BIN} is not installed (apt-get install -y etcd-server)`;
}

/** A free loopback TCP port (the kernel picks it; another process could still take it, so start retries). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/** Resolves after `ms`. */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether the process with `pid` still exists (a zombie counts until it is reaped). */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts an etcd cluster of `members` members and waits until every member answers `/health`.
 *
 * @param {{ members?: number, baseDir?: string }} [options]
 * @returns {Promise<import('./etcd-cluster.d.mts').EtcdCluster>}
 * @example
 * const cluster = await startEtcdCluster({ members: 3 });
 * try { useEndpoints(cluster.endpoints); await cluster.restart(1); } finally { await cluster.destroy(); }
 */
export async function startEtcdCluster(options = {}) {
  const count = options.members ?? 3;
  const root = options.baseDir ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
  const dir = mkdtempSync(join(root, 'volwarden-etcd-'));
  const token = `volwarden-${process.pid}-${Date.now()}`;
  const ports = [];
  for (let i = 0; i < count; i++) ports.push({ client: await freePort(), peer: await freePort() });
  const members = ports.map((p, i) => ({
    name: `m${i}`,
    clientUrl: `http://127.0.0.1:${p.client}`,
    peerUrl: `http://127.0.0.1:${p.peer}`,
    dataDir: join(dir, `m${i}`),
    /** @type {import('node:child_process').ChildProcess | null} */
    child: null,
    exited: /** @type {Promise<void>} */ (Promise.resolve()),
    log: '',
  }));
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const pidFile = join(dir, 'pids');
  const writePids = () => writeFileSync(pidFile, members.map((m) => m.child?.pid ?? '').join(' '));
  // Kills the members if this process dies without running its exit handlers (SIGKILL, OOM).
  const watchdog = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 $(cat '${pidFile}') 2>/dev/null; rm -rf '${dir}'`], {
    stdio: 'ignore',
    detached: true,
  });
  watchdog.unref();

  const launch = (m, state) => {
    const args = [
      '--name', m.name, '--data-dir', m.dataDir,
      '--listen-client-urls', m.clientUrl, '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl,
      '--initial-cluster', initialCluster, '--initial-cluster-token', token, '--initial-cluster-state', state,
      '--logger', 'zap', '--log-level', 'error',
    ];
    const child = spawn(ETCD_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    m.log = '';
    child.stderr.on('data', (chunk) => { m.log = (m.log + chunk).slice(-4000); });
    m.child = child;
    m.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    writePids();
  };

  const stopMember = async (m, signal = 'SIGTERM') => {
    const child = m.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    try { process.kill(child.pid, 'SIGCONT'); } catch { /* already gone */ }
    child.kill(signal);
    const timer = setTimeout(() => { if (alive(child.pid)) child.kill('SIGKILL'); }, STOP_GRACE_MS);
    await m.exited;
    clearTimeout(timer);
  };

  const healthy = async (m) => {
    try {
      const res = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(2_000) });
      const body = await res.json();
      return body.health === 'true' || body.health === true;
    } catch {
      return false;
    }
  };

  const waitHealthy = async (list = members) => {
    const deadline = Date.now() + HEALTH_TIMEOUT_MS;
    for (const m of list) {
      while (!(await healthy(m))) {
        if (m.child && m.child.exitCode !== null) throw new Error(`etcd member ${m.name} exited (${m.child.exitCode}): ${m.log.trim().split('\n').pop()}`);
        if (Date.now() > deadline) throw new Error(`etcd member ${m.name} not healthy after ${HEALTH_TIMEOUT_MS} ms: ${m.log.trim().split('\n').pop() ?? ''}`);
        await sleep(100);
      }
    }
  };

  const killAll = () => {
    for (const m of members) {
      if (m.child?.pid && m.child.exitCode === null) try { process.kill(m.child.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  };
  process.once('exit', killAll);

  const destroy = async () => {
    process.removeListener('exit', killAll);
    await Promise.all(members.map((m) => stopMember(m)));
    rmSync(dir, { recursive: true, force: true });
    try { process.kill(watchdog.pid, 'SIGKILL'); } catch { /* gone */ }
  };

  try {
    for (const m of members) launch(m, 'new');
    await waitHealthy();
  } catch (err) {
    await destroy();
    throw err;
  }

  const member = (i) => {
    const m = members[i];
    if (!m) throw new RangeError(`no etcd member ${i} (the cluster has ${members.length})`);
    return m;
  };

  return {
    dir,
    endpoints: members.map((m) => m.clientUrl),
    pids: () => members.map((m) => m.child?.pid ?? null),
    waitHealthy: () => waitHealthy(members.filter((m) => m.child && m.child.exitCode === null)),
    stop: (i) => stopMember(member(i)),
    kill: (i) => stopMember(member(i), 'SIGKILL'),
    pause: (i) => { const m = member(i); if (m.child?.pid) process.kill(m.child.pid, 'SIGSTOP'); },
    resume: (i) => { const m = member(i); if (m.child?.pid) process.kill(m.child.pid, 'SIGCONT'); },
    start: async (i) => {
      const m = member(i);
      if (m.child && m.child.exitCode === null && m.child.signalCode === null) return;
      launch(m, 'existing');
      await waitHealthy([m]);
    },
    restart: async (i) => {
      const m = member(i);
      await stopMember(m);
      launch(m, 'existing');
      await waitHealthy([m]);
    },
    destroy,
  };
}
