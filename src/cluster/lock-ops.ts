/**
 * The etcd operations of the lock recipe, one round trip each: try at once, join the queue,
 * find the key to wait for, watch it go, delete. They throw the etcd client's errors; the engine
 * turns them into `EAGAIN` (`etcd unreachable: …`).
 */
import type { Etcd3, IKeyValue } from 'etcd3';
import { decodeOwner, type KeyRange, type LockKey } from './lock-keys.js';

/** Where a queued request stands: its create revision (the token) and the key it waits for, if any. */
export interface QueuePosition {
  revision: number;
  /** The latest earlier key that blocks this one, or null: granted. */
  blocker: string | null;
  /** Watch the blocker from here on, so a deletion between the read and the watch is not missed. */
  watchFrom: number;
}

const bytes = (s: string) => Buffer.from(s, 'utf8');

/**
 * Creates the key only if `blocking` holds no key at all, in one transaction (a no-wait request
 * leaves nothing behind when the lock is busy). Resolves the key's create revision, or null.
 */
export async function createIfFree(client: Etcd3, blocking: KeyRange, key: string, value: string, leaseId: string): Promise<number | null> {
  const res = await client.kv.txn({
    compare: [{ key: bytes(blocking.key), range_end: bytes(blocking.rangeEnd), target: 'Version', result: 'Equal', version: 0 }],
    success: [{ request_put: { key: bytes(key), value: bytes(value), lease: leaseId } }],
    failure: [],
  });
  return res.succeeded ? Number(res.header.revision) : null;
}

/**
 * Creates the key and, in the same transaction, reads the newest keys of `blocking`: the newest
 * one that is not ours is the one to wait for (etcd's lock recipe, one round trip instead of two).
 */
export async function enqueue(client: Etcd3, blocking: KeyRange, key: string, value: string, leaseId: string): Promise<QueuePosition> {
  const res = await client.kv.txn({
    compare: [],
    success: [
      { request_put: { key: bytes(key), value: bytes(value), lease: leaseId } },
      {
        request_range: {
          key: bytes(blocking.key), range_end: bytes(blocking.rangeEnd),
          sort_order: 'Descend', sort_target: 'Create', limit: 2, keys_only: true,
        },
      },
    ],
    failure: [],
  });
  const revision = Number(res.header.revision);
  const kvs = res.responses[1]?.response_range.kvs ?? [];
  const blocker = kvs.map((kv) => kv.key.toString('utf8')).find((k) => k !== key) ?? null;
  return { revision, blocker, watchFrom: revision + 1 };
}

/** The newest key of `blocking` created before `revision`, or null when nothing is left ahead. */
export async function findBlocker(client: Etcd3, blocking: KeyRange, revision: number): Promise<QueuePosition> {
  const res = await client.kv.range({
    key: bytes(blocking.key), range_end: bytes(blocking.rangeEnd),
    max_create_revision: revision - 1, sort_order: 'Descend', sort_target: 'Create', limit: 1, keys_only: true,
  });
  const blocker = res.kvs[0]?.key.toString('utf8') ?? null;
  return { revision, blocker, watchFrom: Number(res.header.revision) + 1 };
}

/**
 * Calls `gone` once when `key` is deleted at or after `fromRevision`, or when the watch cannot
 * tell (an error: the caller reads again). Returns the function that stops watching.
 */
export function watchDeletion(client: Etcd3, key: string, fromRevision: number, gone: () => void): () => void {
  let done = false;
  const watcher = client.watch().key(key).startRevision(String(fromRevision)).only('delete').watcher();
  const finish = () => {
    if (done) return;
    done = true;
    void watcher.cancel().catch(() => {});
    gone();
  };
  watcher.on('delete', finish);
  watcher.on('error', finish); // a compacted start revision or a cancelled watch: read again
  return () => {
    if (done) return;
    done = true;
    void watcher.cancel().catch(() => {});
  };
}

/** Every key of `range` with its value, oldest first. */
export async function readAll(client: Etcd3, range: KeyRange): Promise<LockKey[]> {
  const res = await client.kv.range({ key: bytes(range.key), range_end: bytes(range.rangeEnd), sort_order: 'Ascend', sort_target: 'Create' });
  return res.kvs.map((kv: IKeyValue) => {
    const key = kv.key.toString('utf8');
    return { key, createRevision: Number(kv.create_revision), value: decodeOwner(key, kv.value.toString('utf8')) };
  });
}

/** Deletes one key; resolves whether it was still there. */
export async function deleteKey(client: Etcd3, key: string): Promise<boolean> {
  const res = await client.kv.deleteRange({ key: bytes(key) });
  return Number(res.deleted) > 0;
}
