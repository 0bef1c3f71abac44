import { createWriteStream, type WriteStream } from 'node:fs';
import { WardenError } from '../errors.js';
import type { InspectRecord } from './records.js';

/** Limits that keep a trace file from growing the daemon's memory or filling the disk. */
export interface TraceWriterOptions {
  /** Records are dropped (and counted in a `dropped` line) while this much is waiting for the disk. Default 8 MiB. */
  maxBufferBytes?: number;
  /** Recording stops, with a final `dropped` line, once the file reaches this size. Default 512 MiB. */
  maxFileBytes?: number;
}

const DEFAULT_MAX_BUFFER = 8 * 1024 * 1024;
const DEFAULT_MAX_FILE = 512 * 1024 * 1024;

/**
 * Appends records to a JSONL trace through a buffered stream, one record per line. It never
 * blocks the hub and never buffers without bound: when the disk falls behind, records are
 * dropped and the gap is written down as a `dropped` record so a replay can say so.
 *
 * @example
 * const writer = await TraceWriter.open('/tmp/trace.jsonl');
 * writer.write({ kind: 'event', t: Date.now(), type: 'PING', source: null, target: 'warden' });
 * await writer.close();
 */
export class TraceWriter {
  private written = 0;
  private droppedTotal = 0;
  private droppedSinceNote = 0;
  private full = false;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly stream: WriteStream,
    private readonly maxBufferBytes: number,
    private readonly maxFileBytes: number,
  ) {
    // A failing disk must not crash the daemon: stop recording and keep counting what is lost.
    stream.on('error', () => {
      this.full = true;
    });
  }

  /** Opens (truncates) the file; rejects with a one-line `WardenError` when it cannot be written. */
  static open(path: string, options: TraceWriterOptions = {}): Promise<TraceWriter> {
    return new Promise((resolve, reject) => {
      const stream = createWriteStream(path, { flags: 'w' });
      const onError = (err: NodeJS.ErrnoException) => {
        reject(new WardenError('EINVAL', `cannot write the trace file ${path}: ${err.code ?? err.message}`, { cause: err }));
      };
      stream.once('error', onError);
      stream.once('open', () => {
        stream.off('error', onError);
        resolve(new TraceWriter(path, stream, options.maxBufferBytes ?? DEFAULT_MAX_BUFFER, options.maxFileBytes ?? DEFAULT_MAX_FILE));
      });
    });
  }

  /** Records lost so far because the disk fell behind or the size limit was reached. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** Queues one record as one line; drops it (counted) instead of buffering without bound. */
  write(record: InspectRecord): void {
    if (this.closed) return;
    if (this.full || this.stream.writableLength > this.maxBufferBytes) {
      this.droppedTotal += 1;
      this.droppedSinceNote += 1;
      return;
    }
    if (this.droppedSinceNote > 0) {
      this.append({ kind: 'dropped', t: record.t, count: this.droppedSinceNote, reason: 'the trace writer fell behind' });
      this.droppedSinceNote = 0;
    }
    const line = `${JSON.stringify(record)}\n`;
    if (this.written + Buffer.byteLength(line) > this.maxFileBytes) {
      this.full = true;
      this.droppedTotal += 1;
      this.append({ kind: 'dropped', t: record.t, count: 1, reason: 'the trace reached its size limit: recording stopped' });
      return;
    }
    this.append(line);
  }

  /** Flushes what is queued and closes the file. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      if (this.stream.destroyed) {
        resolve();
        return;
      }
      this.stream.end(() => resolve());
      this.stream.once('error', () => resolve());
    });
  }

  private append(lineOrRecord: string | InspectRecord): void {
    const line = typeof lineOrRecord === 'string' ? lineOrRecord : `${JSON.stringify(lineOrRecord)}\n`;
    this.written += Buffer.byteLength(line);
    this.stream.write(line);
  }
}
