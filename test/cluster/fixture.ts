/**
 * A 3-member etcd cluster per test file, and lock engines on it that are all stopped after each
 * test. Each engine is one "host". Files using it are skipped, with the reason printed, when
 * Debian's etcd is not installed (never in CI: there a missing etcd fails the run).
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createEtcdLockEngine, type ClusterTicket, type EtcdLockEngine } from '../../src/cluster/etcd-lock.js';
import type { ClusterLockMode } from '../../src/cluster/lock-keys.js';
import { etcdMissingReason, startEtcdCluster, type EtcdCluster } from '../helpers/etcd-cluster.mjs';
import { eventually } from '../integration/helpers.js';

const missing = etcdMissingReason();
/** True when these tests must be skipped (etcd absent outside CI). */
export const skipEtcd = missing !== null && process.env.CI !== 'true';
if (skipEtcd) console.warn(`skipping the etcd cluster-lock tests: ${missing}`);

/** The shortest TTL SPEC §15.4 allows keeps the lease-expiry tests short. */
export const TTL_SEC = 2;

let names = 0;
/** A lock name no other test uses. */
export function lockName(): string {
  return `lock-${process.pid}-${++names}`;
}

/**
 * Starts the cluster before the file's tests and stops it (by PID) after; stops every engine
 * made with `host()` after each test.
 */
export function useEtcdCluster(): { cluster(): EtcdCluster; host(name: string, endpoints?: string[]): Promise<EtcdLockEngine> } {
  let cluster: EtcdCluster | null = null;
  const engines: EtcdLockEngine[] = [];
  beforeAll(async () => {
    if (!skipEtcd) cluster = await startEtcdCluster({ members: 3 });
  }, 60_000);
  afterAll(async () => {
    await cluster?.destroy();
  });
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.stop()));
  });
  return {
    cluster: () => cluster!,
    host: async (name, endpoints) => {
      const engine = createEtcdLockEngine({ etcd: { endpoints: endpoints ?? cluster!.endpoints, leaseTtlSec: TTL_SEC }, host: name });
      engines.push(engine);
      engine.start();
      await engine.whenLive();
      return engine;
    },
  };
}

/** Asks for a lock and returns once its key is queued behind `waitersBefore` others (read from etcd). */
export async function queue(engine: EtcdLockEngine, name: string, mode: ClusterLockMode, owner: string, options: { timeoutMs?: number } = {}): Promise<ClusterTicket> {
  const before = (await engine.holders(name)).waiters;
  const ticket = engine.request(name, mode, owner, { wait: true, ...options });
  await eventually(() => engine.holders(name), (v) => v.waiters > before);
  return ticket;
}

/** Records the order in which tickets are granted. */
export function grantLog(): { log: string[]; track(label: string, ticket: ClusterTicket): void } {
  const log: string[] = [];
  return {
    log,
    track: (label, ticket) => void ticket.outcome.then(() => log.push(label), () => log.push(`${label}!`)),
  };
}

/** Settles with the ticket's outcome as data: `{ token }` or `{ code }`. */
export async function outcomeOf(ticket: ClusterTicket): Promise<{ token: number } | { code: string; message: string }> {
  try {
    const grant = await ticket.outcome;
    return { token: grant.token };
  } catch (err) {
    return { code: (err as { code: string }).code, message: (err as Error).message };
  }
}
