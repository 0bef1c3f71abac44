/**
 * Incremental decoder for the wire format (SPEC §10): newline-delimited JSON objects, each line
 * at most `MAX_LINE_BYTES`. Bytes are split on `\n` before any text decoding, so a multi-byte
 * UTF-8 character split across chunks is reassembled for free (0x0a never occurs inside one).
 */
import { TextDecoder } from 'node:util';
import { MAX_LINE_BYTES } from './types.js';

/** One decoded line, or the framing error that ends the connection. */
export type DecodedLine =
  | { ok: true; message: Record<string, unknown> }
  | { ok: false; code: 'EBADMSG' | 'EMSGSIZE' };

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Turns a stream of Buffer chunks into parsed JSON objects. After the first framing error the
 * decoder is spent: it yields nothing more (the connection is being closed anyway).
 *
 * @example
 * const decoder = new LineDecoder();
 * socket.on('data', (chunk) => {
 *   for (const line of decoder.push(chunk)) {
 *     if (!line.ok) return closeWith(line.code);
 *     handle(line.message);
 *   }
 * });
 */
export class LineDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private failed = false;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(private readonly maxLineBytes: number = MAX_LINE_BYTES) {}

  /** Whether a framing error was already reported (everything after it is ignored). */
  get spent(): boolean {
    return this.failed;
  }

  /** Bytes received after the last newline and not decoded yet. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** Feeds one chunk; returns every line it completed, in order, ending at the first error. */
  push(chunk: Buffer | Uint8Array | string): DecodedLine[] {
    if (this.failed) return [];
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const out: DecodedLine[] = [];
    let start = 0;
    for (let nl = bytes.indexOf(NEWLINE, start); nl !== -1; nl = bytes.indexOf(NEWLINE, start)) {
      const line = this.takeLine(bytes.subarray(start, nl));
      start = nl + 1;
      if (line === null) continue;
      out.push(line);
      if (!line.ok) return this.fail(out);
    }
    if (start < bytes.length) {
      this.pending.push(bytes.subarray(start));
      this.pendingBytes += bytes.length - start;
      // SPEC §10: answer as soon as more than the limit arrived, without waiting for the newline.
      if (this.pendingBytes > this.maxLineBytes) {
        out.push({ ok: false, code: 'EMSGSIZE' });
        return this.fail(out);
      }
    }
    return out;
  }

  // Joins the buffered prefix with `tail` and decodes it; null for an empty line.
  private takeLine(tail: Buffer): DecodedLine | null {
    const whole = this.pendingBytes === 0 ? tail : Buffer.concat([...this.pending, tail]);
    this.pending = [];
    this.pendingBytes = 0;
    const end = whole.length > 0 && whole[whole.length - 1] === CARRIAGE_RETURN ? whole.length - 1 : whole.length;
    if (end > this.maxLineBytes) return { ok: false, code: 'EMSGSIZE' };
    return decodeLine(this.utf8, whole.subarray(0, end));
  }

  private fail(out: DecodedLine[]): DecodedLine[] {
    this.failed = true;
    this.pending = [];
    this.pendingBytes = 0;
    return out;
  }
}

// A line must be valid UTF-8 holding exactly one JSON object; blank lines are skipped.
function decodeLine(utf8: TextDecoder, bytes: Buffer): DecodedLine | null {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, code: 'EBADMSG' };
  }
  if (text.trim() === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: 'EBADMSG' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, code: 'EBADMSG' };
  return { ok: true, message: value as Record<string, unknown> };
}
