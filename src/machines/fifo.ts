/**
 * An immutable FIFO for machine context, stored as chunks so that pushing, shifting and
 * removing copy one chunk (≤ CHUNK items) plus the short list of chunks, never the whole queue.
 * A plain array copied on every change made 10,000 waiters quadratic. Stays JSON-friendly.
 */
export interface Fifo<T> {
  readonly chunks: ReadonlyArray<ReadonlyArray<T>>;
  readonly size: number;
}

const CHUNK = 256;

/** The empty queue. */
export function emptyFifo<T>(): Fifo<T> {
  return { chunks: [], size: 0 };
}

/** Appends at the tail. */
export function fifoPush<T>(queue: Fifo<T>, item: T): Fifo<T> {
  const last = queue.chunks[queue.chunks.length - 1];
  if (last !== undefined && last.length < CHUNK) {
    return { chunks: [...queue.chunks.slice(0, -1), [...last, item]], size: queue.size + 1 };
  }
  return { chunks: [...queue.chunks, [item]], size: queue.size + 1 };
}

/** The head, without removing it. */
export function fifoFirst<T>(queue: Fifo<T>): T | undefined {
  return queue.chunks[0]?.[0];
}

/** Drops the head. */
export function fifoShift<T>(queue: Fifo<T>): Fifo<T> {
  const [first, ...rest] = queue.chunks;
  if (first === undefined) return queue;
  return { chunks: first.length > 1 ? [first.slice(1), ...rest] : rest, size: queue.size - 1 };
}

/** Removes every item matching `drop`; chunks without a match are shared, not copied. */
export function fifoRemove<T>(queue: Fifo<T>, drop: (item: T) => boolean): Fifo<T> {
  let removed = 0;
  const chunks: Array<ReadonlyArray<T>> = [];
  for (const chunk of queue.chunks) {
    if (!chunk.some(drop)) {
      chunks.push(chunk);
      continue;
    }
    const kept = chunk.filter((item) => !drop(item));
    removed += chunk.length - kept.length;
    if (kept.length > 0) chunks.push(kept);
  }
  return removed === 0 ? queue : { chunks, size: queue.size - removed };
}

/** Whether any item matches. */
export function fifoSome<T>(queue: Fifo<T>, test: (item: T) => boolean): boolean {
  return queue.chunks.some((chunk) => chunk.some(test));
}

/** Every item, head first. */
export function fifoToArray<T>(queue: Fifo<T>): T[] {
  return queue.chunks.flat() as T[];
}
