/**
 * Where a cluster lock lives in etcd, and what its keys say. Pure: no I/O.
 *
 * Layout: `<prefix>lock/<NAME>/x/<lease>-<seq>` for an exclusive request and `.../s/...` for a
 * shared one. The mode is in the path so one range over `.../x/` finds every exclusive key, and
 * one range over `<NAME>/` finds every key in create-revision order. The value records who asked
 * (`{host, owner, mode}`), so `holders()` can name holders on every host.
 */

/** Exclusive (one holder) or shared (any number of readers), SPEC §15.2. */
export type ClusterLockMode = 'exclusive' | 'shared';

/** What a key's value records about its request. */
export interface KeyOwner {
  host: string;
  owner: string;
  mode: ClusterLockMode;
}

/** A key as a range returns it: path and create revision (the fencing token). */
export interface LockKey {
  key: string;
  createRevision: number;
  value?: KeyOwner;
}

/** The holders and queue of one lock, as every host sees it. */
export interface ClusterLockView {
  holders: Array<KeyOwner & { token: number }>;
  waiters: number;
}

/** The `[key, rangeEnd)` pair that etcd reads as "every key starting with `prefix`". */
export interface KeyRange {
  key: string;
  rangeEnd: string;
}

/** The key range holding every request for lock `name`. */
export function lockRange(prefix: string, name: string): KeyRange {
  return prefixRange(`${prefix}lock/${name}/`);
}

/** The key range holding only the exclusive requests for lock `name`. */
export function exclusiveRange(prefix: string, name: string): KeyRange {
  return prefixRange(`${prefix}lock/${name}/x/`);
}

/**
 * The range a request of `mode` must find empty of earlier keys to be granted: an exclusive
 * request waits for every earlier key, a shared one only for earlier exclusive keys.
 */
export function blockingRange(prefix: string, name: string, mode: ClusterLockMode): KeyRange {
  return mode === 'exclusive' ? lockRange(prefix, name) : exclusiveRange(prefix, name);
}

/**
 * The key of one request. `lease` (hex) makes it unique per daemon; `seq` per request.
 *
 * @example
 * requestKey('/volwarden/', 'shared-disk', 'shared', '694d8b3c', 7);  // '/volwarden/lock/shared-disk/s/694d8b3c-7'
 */
export function requestKey(prefix: string, name: string, mode: ClusterLockMode, lease: string, seq: number): string {
  return `${prefix}lock/${name}/${mode === 'exclusive' ? 'x' : 's'}/${lease}-${seq}`;
}

/** The mode a key's path says it was created with. */
export function modeOfKey(key: string): ClusterLockMode {
  return /\/x\/[^/]+$/.test(key) ? 'exclusive' : 'shared';
}

/** The value stored in a request's key. */
export function encodeOwner(owner: KeyOwner): string {
  return JSON.stringify({ host: owner.host, owner: owner.owner, mode: owner.mode });
}

/** Reads a key's value back; a value another writer mangled still yields a usable entry. */
export function decodeOwner(key: string, value: string): KeyOwner {
  const mode = modeOfKey(key);
  try {
    const parsed = JSON.parse(value) as Partial<KeyOwner>;
    return { host: String(parsed.host ?? '?'), owner: String(parsed.owner ?? '?'), mode };
  } catch {
    return { host: '?', owner: '?', mode };
  }
}

/**
 * Who holds the lock, given every key in create-revision order: the first key if it is
 * exclusive, else every shared key up to the first exclusive one (they were granted together).
 *
 * @example
 * viewOf([{ key: '…/s/a-1', createRevision: 5, value }, { key: '…/x/b-1', createRevision: 6, value }]);
 * // → { holders: [{ …, token: 5 }], waiters: 1 }
 */
export function viewOf(keys: LockKey[]): ClusterLockView {
  const ordered = [...keys].sort((a, b) => a.createRevision - b.createRevision);
  let granted = 0;
  if (ordered.length > 0 && modeOfKey(ordered[0]!.key) === 'exclusive') granted = 1;
  else while (granted < ordered.length && modeOfKey(ordered[granted]!.key) === 'shared') granted++;
  const holders = ordered.slice(0, granted).map((k) => ({
    ...(k.value ?? { host: '?', owner: '?', mode: modeOfKey(k.key) }),
    token: k.createRevision,
  }));
  return { holders, waiters: ordered.length - granted };
}

/** The first key after every key starting with `prefix` (etcd's "prefix + 1"). */
function prefixRange(prefix: string): KeyRange {
  const last = prefix.charCodeAt(prefix.length - 1);
  return { key: prefix, rangeEnd: prefix.slice(0, -1) + String.fromCharCode(last + 1) };
}
