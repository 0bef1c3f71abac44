// Raw line-oriented Unix socket client for socket-server and client tests.
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RawClient {
  socket: net.Socket;
  frames: Record<string, unknown>[];
  /** Resolves once `n` frames in total have arrived. */
  waitFrames(n: number): Promise<Record<string, unknown>[]>;
  /** Resolves when the server hung up. */
  ended: Promise<void>;
  write(data: string | Buffer): void;
}

export function connectRaw(path: string): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(path);
    const frames: Record<string, unknown>[] = [];
    let buffered = '';
    const waiters: (() => void)[] = [];
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      buffered += text;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        frames.push(JSON.parse(buffered.slice(0, nl)));
        buffered = buffered.slice(nl + 1);
      }
      for (const w of waiters.splice(0)) w();
    });
    const ended = new Promise<void>((res) => socket.once('close', () => res()));
    socket.on('error', () => {});
    socket.once('connect', () =>
      resolve({
        socket,
        frames,
        ended,
        write: (data) => void socket.write(data),
        waitFrames: (n) =>
          new Promise((res, rej) => {
            const check = () => {
              if (frames.length >= n) res(frames.slice(0, n));
              else if (socket.destroyed) rej(new Error(`closed after ${frames.length} frames`));
              else waiters.push(check);
            };
            socket.once('close', () => check());
            check();
          }),
      }),
    );
    socket.once('error', reject);
  });
}

/** A short temp directory (Unix socket paths are limited to ~107 bytes). */
export function shortTempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'vw-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
