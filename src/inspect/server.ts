import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { WardenError } from '../errors.js';
import type { InspectRecord } from './records.js';
import type { InspectionSource } from './source.js';
import { sendText, serveStatic } from './static-files.js';

/** Where and how the visualizer is served. */
export interface InspectServerOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Only loopback makes sense; the server refuses to answer anywhere else. Default `127.0.0.1`. */
  host?: '127.0.0.1';
  /** Built page files; default `<package>/visualizer/dist`. */
  staticDir?: string;
  /** A page whose socket has more than this waiting to be sent is dropped. Default 4 MiB. */
  maxBufferedBytes?: number;
  /** The flag a person changes when the port is taken, named in the error. Default `--inspect-port`. */
  portFlag?: string;
}

/** A running visualizer server. */
export interface InspectServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

const DEFAULT_MAX_BUFFERED = 4 * 1024 * 1024;
const MAX_BATCH = 500;
// The compiled module lives at <package>/dist/inspect/server.js (src/inspect/server.ts in dev): two levels up.
const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../../visualizer/dist', import.meta.url));

/**
 * Serves the visualizer page, `GET /api/machines`, `GET /api/actors` and a `/ws` WebSocket that
 * streams the hub's records (as JSON arrays, batched per tick) on 127.0.0.1 only. A page that
 * reads too slowly is disconnected (close code 1013) so it never grows the daemon's memory.
 * A port in use rejects with a one-line `WardenError` (`EINVAL`, which the CLI exits 64 on).
 *
 * @example
 * const server = await startInspectServer(hub, { port: 0 });
 * console.log(`visualizer at ${server.url}`);
 * await server.close();
 */
export async function startInspectServer(hub: InspectionSource, options: InspectServerOptions): Promise<InspectServer> {
  const host = '127.0.0.1';
  const staticDir = options.staticDir ?? DEFAULT_STATIC_DIR;
  const maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
  const clients = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  let boundPort = options.port;

  const server = createServer((req, res) => {
    if (!isAllowedHost(req, boundPort)) {
      sendText(res, 403, 'forbidden: the visualizer answers only on 127.0.0.1');
      return;
    }
    handleRequest(hub, staticDir, req, res).catch(() => {
      if (!res.headersSent) sendText(res, 500, 'internal error');
      else res.destroy();
    });
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (path !== '/ws' || !isAllowedHost(req, boundPort) || !isAllowedOrigin(req, boundPort)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws);
      ws.on('close', () => clients.delete(ws));
      ws.on('error', () => clients.delete(ws));
      const t = hub.now();
      const hello: InspectRecord[] = [
        { kind: 'machines', t, machines: hub.machines() },
        { kind: 'actors', t, actors: hub.actors(), log: hub.log() },
      ];
      sendBounded(ws, JSON.stringify(hello), clients, maxBuffered);
    });
  });

  let pending: InspectRecord[] = [];
  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    if (pending.length === 0) return;
    const message = JSON.stringify(pending);
    pending = [];
    for (const ws of clients) sendBounded(ws, message, clients, maxBuffered);
  };
  const unsubscribe = hub.subscribe((record) => {
    if (clients.size === 0) return;
    pending.push(record);
    if (pending.length >= MAX_BATCH) flush();
    else if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  });

  try {
    boundPort = await listen(server, options.port, host, options.portFlag ?? '--inspect-port');
  } catch (err) {
    unsubscribe();
    wss.close();
    throw err;
  }

  return {
    port: boundPort,
    url: `http://${host}:${boundPort}/`,
    close: () => {
      unsubscribe();
      pending = [];
      for (const ws of clients) ws.terminate();
      clients.clear();
      wss.close();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

async function handleRequest(hub: InspectionSource, staticDir: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendText(res, 405, 'method not allowed');
    return;
  }
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
  if (path === '/api/machines') {
    sendJson(res, { machines: hub.machines() });
    return;
  }
  if (path === '/api/actors') {
    sendJson(res, { t: hub.now(), actors: hub.actors(), log: hub.log() });
    return;
  }
  await serveStatic(staticDir, path, res);
}

function sendJson(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

// Drops a page that can't keep up rather than queueing for it without bound.
function sendBounded(ws: WebSocket, message: string, clients: Set<WebSocket>, maxBuffered: number): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  if (ws.bufferedAmount > maxBuffered) {
    clients.delete(ws);
    ws.close(1013, 'too slow: reload the page');
    setTimeout(() => ws.terminate(), 1000).unref();
    return;
  }
  ws.send(message);
}

// DNS rebinding guard: a browser tab on another site may reach 127.0.0.1, but its Host names that site.
function isAllowedHost(req: IncomingMessage, port: number): boolean {
  const host = req.headers.host;
  if (host === undefined) return true;
  return host === `127.0.0.1:${port}` || host === `localhost:${port}` || host === `[::1]:${port}`;
}

function isAllowedOrigin(req: IncomingMessage, port: number): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  return origin === `http://127.0.0.1:${port}` || origin === `http://localhost:${port}`;
}

function listen(server: Server, port: number, host: string, portFlag: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(listenError(err, port, portFlag));
    };
    const onListening = () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

function listenError(err: NodeJS.ErrnoException, port: number, portFlag: string): WardenError {
  if (err.code === 'EADDRINUSE') {
    return new WardenError('EINVAL', `inspect port ${port} is already in use: choose another with ${portFlag}`, { cause: err });
  }
  if (err.code === 'EACCES') {
    return new WardenError('EINVAL', `inspect port ${port} needs privileges: choose one above 1023 with ${portFlag}`, { cause: err });
  }
  return new WardenError('EINVAL', `cannot serve the visualizer on port ${port}: ${err.code ?? err.message}`, { cause: err });
}
