import net from 'node:net';
import { WardenError, describeCode, isErrorCode } from '../errors.js';
import { assertTrustedSocket } from '../adapters/socket-trust.js';
import { LineDecoder } from '../protocol/line-decoder.js';
import { INSPECT_FRAME_ID, REPLY_OFFSET, ROUTINES } from '../protocol/types.js';
import type { InspectionSnapshot } from './mirror.js';
import type { InspectRecord } from './records.js';

/** A daemon's inspection stream as `volwarden visualize` follows it. */
export interface InspectionFeed {
  /** The present when the stream began. */
  readonly snapshot: InspectionSnapshot;
  /** Receives every batch of records after the snapshot; batches that came before this call are replayed first. */
  onRecords(listener: (records: InspectRecord[]) => void): void;
  /** Settles with a one-line reason once the daemon hangs up (or `close()` is called). */
  readonly closed: Promise<string>;
  close(): void;
}

// The snapshot can list thousands of actors: bound replies loosely, as volwarden/client does.
const MAX_REPLY_BYTES = 256 * 1024 * 1024;
const HELLO_SEQ = 1;
const INSPECT_SEQ = 2;

/**
 * Connects to a daemon's control socket and asks for its inspection stream (routine `inspect`;
 * the status socket answers `EPERM`, SPEC §9): resolves once the daemon replied with the present.
 * Rejects with a one-line `WardenError`: `ECONNREFUSED` when no daemon answers, `EPERM` when the
 * socket is not ours to open, is not trusted (issue 17) or has status rights only, `BAD_ID` when
 * the daemon does not offer the stream.
 *
 * @example
 * const feed = await openInspectionFeed('/run/volwarden/private/control.sock', 'volwarden visualize');
 * const mirror = new InspectionMirror(feed.snapshot);
 * feed.onRecords((records) => records.forEach((r) => mirror.apply(r)));
 * console.log(await feed.closed);
 */
export async function openInspectionFeed(socketPath: string, name: string): Promise<InspectionFeed> {
  await assertTrustedSocket(socketPath);
  const socket = await openSocket(socketPath);
  const decoder = new LineDecoder(MAX_REPLY_BYTES);
  let listener: ((records: InspectRecord[]) => void) | undefined;
  let early: InspectRecord[][] = [];
  let settleClosed!: (reason: string) => void;
  const closed = new Promise<string>((resolve) => (settleClosed = resolve));
  let settleSnapshot!: { resolve: (s: InspectionSnapshot) => void; reject: (e: WardenError) => void };
  const snapshot = new Promise<InspectionSnapshot>((resolve, reject) => (settleSnapshot = { resolve, reject }));
  let hangUpReason = `the daemon at ${socketPath} closed the connection`;

  const deliver = (records: InspectRecord[]) => {
    if (listener === undefined) early.push(records);
    else listener(records);
  };
  const onFrame = (frame: Record<string, unknown>) => {
    if (frame.id === INSPECT_FRAME_ID && Array.isArray(frame.records)) return deliver(frame.records as InspectRecord[]);
    if (frame.id === 0) {
      hangUpReason = `the daemon at ${socketPath} dropped this connection (${String(frame.ret)})`;
      return;
    }
    if (frame.id !== ROUTINES.inspect + REPLY_OFFSET || frame.seq !== INSPECT_SEQ) return;
    if (frame.ret === 'OK') settleSnapshot.resolve(snapshotOf(frame));
    else settleSnapshot.reject(inspectRefused(socketPath, frame));
  };

  socket.on('data', (chunk: Buffer) => {
    for (const line of decoder.push(chunk)) {
      if (!line.ok) {
        hangUpReason = `the daemon at ${socketPath} sent a malformed frame (${line.code})`;
        socket.destroy();
        return;
      }
      onFrame(line.message);
    }
  });
  socket.on('error', () => {}); // the 'close' that follows says it all
  socket.once('close', () => {
    settleSnapshot.reject(new WardenError('ECONNRESET', `${hangUpReason} before the inspection stream began`));
    settleClosed(hangUpReason);
  });
  socket.write(`${JSON.stringify({ id: ROUTINES.hello, seq: HELLO_SEQ, name, pid: process.pid })}\n`);
  socket.write(`${JSON.stringify({ id: ROUTINES.inspect, seq: INSPECT_SEQ })}\n`);

  let present: InspectionSnapshot;
  try {
    present = await snapshot;
  } catch (err) {
    socket.destroy();
    throw err;
  }
  return {
    snapshot: present,
    onRecords(fn) {
      listener = fn;
      const queued = early;
      early = [];
      for (const records of queued) fn(records);
    },
    closed,
    close() {
      hangUpReason = 'closed';
      socket.destroy();
    },
  };
}

function openSocket(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    const onError = (error: NodeJS.ErrnoException) => {
      if (error.code === 'EACCES' || error.code === 'EPERM') {
        reject(new WardenError('EPERM', `permission denied on ${socketPath}: use the status socket (--status-socket) or run as the daemon's user`, { cause: error }));
      } else {
        reject(new WardenError('ECONNREFUSED', `daemon not reachable at ${socketPath}: is volwarden daemon running? (pass its --status-socket)`, { cause: error }));
      }
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function snapshotOf(frame: Record<string, unknown>): InspectionSnapshot {
  return {
    machines: Array.isArray(frame.machines) ? (frame.machines as InspectionSnapshot['machines']) : [],
    actors: Array.isArray(frame.actors) ? (frame.actors as InspectionSnapshot['actors']) : [],
    ...(Array.isArray(frame.log) ? { log: frame.log as NonNullable<InspectionSnapshot['log']> } : {}),
  };
}

function inspectRefused(socketPath: string, frame: Record<string, unknown>): WardenError {
  const code = isErrorCode(frame.ret) ? frame.ret : 'EINVAL';
  if (code === 'BAD_ID') {
    return new WardenError('BAD_ID', `the daemon at ${socketPath} does not offer the inspection stream: restart it with this volwarden version, or run it with --inspect-port N`, { cause: frame });
  }
  const detail = typeof frame.error === 'string' ? frame.error : describeCode(code);
  return new WardenError(code, `the daemon at ${socketPath} refused the inspection stream: ${detail}`, { cause: frame });
}
