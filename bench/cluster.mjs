/**
 * Bench: cluster locks on a real 3-member etcd cluster on loopback (issue 15), the engine
 * (`dist/cluster/etcd-lock.js`) beside raw etcd3 in the same run.
 *  (a) lock+unlock pairs/s, one requester, uncontended: the engine (request exclusive, wait,
 *      release) beside etcd3's own `client.lock(name).acquire()` / `release()` loop.
 *      Target (issue 15): ≥ 1× raw etcd3.
 *  (b) handoff after the holder dies on a live host (its key deleted) → the waiter on the other
 *      host is granted, beside the floor of any watch-based handoff: a raw etcd delete → watch
 *      event. Target: p99 ≤ 50 ms.
 *  (c) handoff after the holder's whole daemon is cut off (its lease lapses, TTL 2 s), beside
 *      etcd3's Lock (which cannot wait: the waiter retries every 50 ms). Target: ≤ TTL + 1 s.
 *
 * Run: npm run bench:cluster  (builds first). Needs /usr/bin/etcd (apt-get install -y etcd-server).
 * Env: BENCH_THROUGHPUT_MS (default 3000) per series; BENCH_TRIALS (default 100) for (b);
 *      BENCH_CUTOFF_TRIALS (default 3) for (c).
 * Prints a table, then one JSON line of rows `{name, unit, volwarden, baseline, ratio}`.
 */
import { Etcd3 } from 'etcd3';
import { createEtcdLockEngine } from '../dist/cluster/etcd-lock.js';
import { etcdMissingReason, startEtcdCluster } from '../test/helpers/etcd-cluster.mjs';
import { startPartitionProxy } from '../test/helpers/tcp-proxy.mjs';
import { describeMachine, ms, nowMs, printTable, sleep, summarize, verdict, watchdog } from './lib.mjs';

const THROUGHPUT_MS = Number(process.env.BENCH_THROUGHPUT_MS ?? 3000);
const TRIALS = Number(process.env.BENCH_TRIALS ?? 100);
const CUTOFF_TRIALS = Number(process.env.BENCH_CUTOFF_TRIALS ?? 3);
const ROUNDS = 3; // throughput alternates engine/raw in slices, so background load hits both
const TTL_SEC = 2;
const TARGET_HANDOFF_P99_MS = 50;

const missing = etcdMissingReason();
if (missing) {
  console.log(`bench:cluster skipped: ${missing}`);
  process.exit(0);
}

const cluster = await startEtcdCluster({ members: 3 });
const cancelWatchdog = watchdog(60_000 + CUTOFF_TRIALS * 8_000, () => {
  for (const pid of cluster.pids()) if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
});
const etcd = (host, endpoints = cluster.endpoints) => {
  const engine = createEtcdLockEngine({ etcd: { endpoints, leaseTtlSec: TTL_SEC, prefix: '/bench/' }, host });
  engine.start();
  return engine;
};
const raw = new Etcd3({ hosts: cluster.endpoints });

/** Pairs per second of `pair()` run back to back for `budgetMs`. */
async function rate(pair, budgetMs) {
  let n = 0;
  const t0 = nowMs();
  while (nowMs() - t0 < budgetMs) {
    await pair(n);
    n++;
  }
  return { n, elapsed: nowMs() - t0 };
}

async function throughput() {
  const engine = etcd('bench-a');
  await engine.whenLive();
  const totals = { engine: { n: 0, elapsed: 0 }, raw: { n: 0, elapsed: 0 } };
  const series = {
    engine: async () => {
      const ticket = engine.request('pairs', 'exclusive', 'bench', { wait: true });
      await ticket.outcome;
      await ticket.release();
    },
    raw: async () => {
      const lock = raw.lock('/bench-raw/pairs').ttl(TTL_SEC);
      await lock.acquire();
      await lock.release();
    },
  };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['engine', 'raw'] : ['raw', 'engine'];
    for (const which of order) {
      const r = await rate(series[which], THROUGHPUT_MS / ROUNDS);
      totals[which].n += r.n;
      totals[which].elapsed += r.elapsed;
    }
  }
  await engine.stop();
  return { engine: (totals.engine.n * 1000) / totals.engine.elapsed, raw: (totals.raw.n * 1000) / totals.raw.elapsed };
}

async function holderDeath() {
  const [a, b] = [etcd('bench-a'), etcd('bench-b')];
  await Promise.all([a.whenLive(), b.whenLive()]);
  const engineMs = [];
  const floorMs = [];
  for (let i = 0; i < TRIALS; i++) {
    const holder = a.request('handoff', 'exclusive', 'holder', { wait: true });
    await holder.outcome;
    const waiter = b.request('handoff', 'exclusive', 'waiter', { wait: true });
    while ((await b.holders('handoff')).waiters < 1) await sleep(1);
    const t0 = nowMs();
    holder.abandon();
    await waiter.outcome;
    engineMs.push(nowMs() - t0);
    await waiter.release();

    // The floor: a watcher on a key already connected, then the key deleted.
    const key = `/bench-raw/floor-${i}`;
    await raw.put(key).value('x');
    const watcher = await raw.watch().key(key).create();
    const seen = new Promise((resolve) => watcher.once('delete', resolve));
    const t1 = nowMs();
    await raw.delete().key(key);
    await seen;
    floorMs.push(nowMs() - t1);
    await watcher.cancel();
  }
  await Promise.all([a.stop(), b.stop()]);
  return { engine: summarize(engineMs), floor: summarize(floorMs) };
}

async function daemonCutOff() {
  const engineMs = [];
  const rawMs = [];
  for (let i = 0; i < CUTOFF_TRIALS; i++) {
    const line = await startPartitionProxy(cluster.endpoints);
    const [a, b] = [etcd('bench-a', line.endpoints), etcd('bench-b')];
    await Promise.all([a.whenLive(), b.whenLive()]);
    await a.request('cutoff', 'exclusive', 'holder', { wait: true }).outcome;
    const waiter = b.request('cutoff', 'exclusive', 'waiter', { wait: true });
    while ((await b.holders('cutoff')).waiters < 1) await sleep(1);
    const t0 = nowMs();
    line.block();
    await waiter.outcome;
    engineMs.push(nowMs() - t0);
    await Promise.all([a.stop().catch(() => {}), b.stop()]);
    await line.close();

    const rawLine = await startPartitionProxy(cluster.endpoints);
    const cut = new Etcd3({ hosts: rawLine.endpoints });
    const held = cut.lock('/bench-raw/cutoff').ttl(TTL_SEC);
    await held.acquire();
    const t1 = nowMs();
    rawLine.block();
    for (;;) {
      const lock = raw.lock('/bench-raw/cutoff').ttl(TTL_SEC);
      try {
        await lock.acquire();
        rawMs.push(nowMs() - t1);
        await lock.release();
        break;
      } catch {
        await sleep(50); // etcd3's Lock fails when held; retrying is all a caller can do
      }
    }
    cut.close();
    await rawLine.close();
  }
  return { engine: summarize(engineMs), raw: summarize(rawMs) };
}

try {
  console.log(`bench:cluster — 3-member etcd ${cluster.endpoints.length === 3 ? 'cluster' : ''} on loopback, ${describeMachine()}`);
  const t = await throughput();
  const h = await holderDeath();
  const c = await daemonCutOff();

  printTable([
    ['(a) lock+unlock, one requester', 'pairs/s'],
    ['volwarden cluster lock engine', t.engine.toFixed(0)],
    ['raw etcd3 Lock acquire/release', t.raw.toFixed(0)],
  ]);
  console.log(`target: >= 1x raw etcd3: ${(t.engine / t.raw).toFixed(2)}x ${verdict(t.engine >= t.raw)}\n`);
  printTable([
    ['(b) holder dies on a live host → next waiter granted', 'n', 'p50 ms', 'p99 ms', 'max ms'],
    ['volwarden (key deleted, waiter on the other host)', h.engine.n, ms(h.engine.p50), ms(h.engine.p99), ms(h.engine.max)],
    ['raw etcd delete → watch event (floor)', h.floor.n, ms(h.floor.p50), ms(h.floor.p99), ms(h.floor.max)],
  ]);
  console.log(`target: p99 <= ${TARGET_HANDOFF_P99_MS} ms: ${verdict(h.engine.p99 <= TARGET_HANDOFF_P99_MS)}\n`);
  printTable([
    [`(c) holder's daemon cut off (TTL ${TTL_SEC} s) → next granted`, 'n', 'p50 ms', 'max ms'],
    ['volwarden (lease lapses, waiter watching)', c.engine.n, ms(c.engine.p50), ms(c.engine.max)],
    ['raw etcd3 Lock (lease lapses, retry every 50 ms)', c.raw.n, ms(c.raw.p50), ms(c.raw.max)],
  ]);
  console.log(`target: <= TTL + 1 s: ${verdict(c.engine.max <= TTL_SEC * 1000 + 1000)}\n`);

  const row = (name, unit, volwarden, baseline) => ({ name, unit, volwarden: +volwarden.toFixed(3), baseline: +baseline.toFixed(3), ratio: +(volwarden / baseline).toFixed(3) });
  console.log(JSON.stringify([
    row('cluster lock+unlock pairs', 'pairs/s', t.engine, t.raw),
    row('cluster handoff after holder death p50', 'ms', h.engine.p50, h.floor.p50),
    row('cluster handoff after holder death p99', 'ms', h.engine.p99, h.floor.p99),
    row(`cluster handoff after daemon cut off (TTL ${TTL_SEC} s) p50`, 'ms', c.engine.p50, c.raw.p50),
  ]));
} finally {
  raw.close();
  await cluster.destroy();
  cancelWatchdog();
}
