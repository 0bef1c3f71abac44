/**
 * The etcd operations of the lock recipe, one round trip each: try at once, join the queue,
 * find the key to wait for, watch it go, delete. They throw the etcd client's errors; the engine
 * turns them into `EAGAIN` (`etcd unreachable: …`).
 */
import type { Etcd3, IKeyValue } from 'etcd3';
import { decodeOwner, type KeyRange, type LockKey } from './lock-keys.js';

/** Where a queued request stands: its create revision (the token) and the earlier keys it waits for. */
export interface QueuePosition {
  revision: number;
  /** Earlier keys that block this one, newest first; empty (and not `more`): granted. */
  earlier: string[];
  /** More earlier keys exist than were read: read again once these are gone. */
  more: boolean;
  /** Watch from here on, so a deletion after the read is never missed. */
  watchFrom: number;
}

/** How many earlier keys one read returns; a longer queue is read again in slices. */
const READ_LIMIT = 64;

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
 * Creates the key and, in the same transaction, reads the newest keys of `blocking` created
 * before it: the keys to wait for (etcd's lock recipe, one round trip instead of two).
 */
export async function enqueue(client: Etcd3, blocking: KeyRange, key: string, value: string, leaseId: string): Promise<QueuePosition> {
  const res = await client.kv.txn({
    compare: [],
    success: [
      { request_put: { key: bytes(key), value: bytes(value), lease: leaseId } },
      {
        request_range: {
          key: bytes(blocking.key), range_end: bytes(blocking.rangeEnd),
          sort_order: 'Descend', sort_target: 'Create', limit: READ_LIMIT + 1, keys_only: true,
        },
      },
    ],
    failure: [],
  });
  const revision = Number(res.header.revision);
  const range = res.responses[1]?.response_range;
  const earlier = (range?.kvs ?? []).map((kv) => kv.key.toString('utf8')).filter((k) => k !== key).slice(0, READ_LIMIT);
  // The count includes our own key when it lies in the blocking range (exclusive requests).
  const earlierTotal = Number(range?.count ?? 0) - (key >= blocking.key && key < blocking.rangeEnd ? 1 : 0);
  return { revision, earlier, more: earlierTotal > earlier.length, watchFrom: revision + 1 };
}

/** The newest keys of `blocking` created before `revision`: what a request still waits for. */
export async function readEarlier(client: Etcd3, blocking: KeyRange, revision: number): Promise<QueuePosition> {
  const res = await client.kv.range({
    key: bytes(blocking.key), range_end: bytes(blocking.rangeEnd),
    max_create_revision: revision - 1, sort_order: 'Descend', sort_target: 'Create', limit: READ_LIMIT, keys_only: true,
  });
  const earlier = res.kvs.map((kv) => kv.key.toString('utf8'));
  return { revision, earlier, more: Number(res.count) > earlier.length, watchFrom: Number(res.header.revision) + 1 };
}

/**
 * Calls `gone(true)` once `key` is deleted at or after `fromRevision` (at once if it already
 * was: etcd replays its history from there), or `gone(false)` when the watch cannot tell (a
 * compacted revision, a cancelled watch: the caller reads again). Returns the function that stops watching.
 */
export function watchDeletion(client: Etcd3, key: string, fromRevision: number, gone: (deleted: boolean) => void): () => void {
  let done = false;
  const watcher = client.watch().key(key).startRevision(String(fromRevision)).only('delete').watcher();
  const finish = (deleted: boolean) => {
    if (done) return;
    done = true;
    void watcher.cancel().catch(() => {});
    gone(deleted);
  };
  watcher.on('delete', () => finish(true));
  watcher.on('error', () => finish(false));
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
