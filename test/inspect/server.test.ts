import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createActor } from 'xstate';
import { WardenError } from '../../src/errors.js';
import { InspectionHub } from '../../src/inspect/hub.js';
import type { InspectRecord } from '../../src/inspect/records.js';
import { startInspectServer, type InspectServer } from '../../src/inspect/server.js';
import { demoVolumeMachine } from './demo-machine.js';

interface Reply { status: number; body: string; type: string | undefined }

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

function openSocket(url: string, options: WebSocket.ClientOptions = {}): Promise<{ ws: WebSocket; batches: InspectRecord[][] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const batches: InspectRecord[][] = [];
    ws.on('message', (data) => batches.push(JSON.parse(String(data)) as InspectRecord[]));
    ws.once('open', () => resolve({ ws, batches }));
    ws.once('error', reject);
  });
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('startInspectServer', () => {
  let root: string;
  let dir: string;
  let hub: InspectionHub;
  let server: InspectServer;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'volwarden-inspect-'));
    dir = join(root, 'page');
    await mkdir(dir);
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>page</title>');
    await writeFile(join(dir, 'app.js'), 'console.log(1)');
    await writeFile(join(root, 'secret.txt'), 'secret');
    hub = new InspectionHub();
    server = await startInspectServer(hub, { port: 0, staticDir: dir });
  });

  afterEach(async () => {
    await server.close();
    await hub.close();
    await rm(root, { recursive: true, force: true });
  });

  const startDemo = () => createActor(demoVolumeMachine, {
    id: 'volume:path:/demo', inspect: hub.observer, input: { id: 'path:/demo', root: '/demo' },
  }).start();

  it('listens on 127.0.0.1 on the port it picked', () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
  });

  it('serves the page files with their content types', async () => {
    const index = await get(server.port, '/');
    expect(index).toMatchObject({ status: 200, body: '<!doctype html><title>page</title>', type: 'text/html; charset=utf-8' });
    expect(await get(server.port, '/app.js')).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8' });
    expect((await get(server.port, '/nope.js')).status).toBe(404);
  });

  it('refuses paths that escape the page directory', async () => {
    expect((await get(server.port, '/..%2fsecret.txt')).status).toBe(404);
    expect((await get(server.port, '/../secret.txt')).status).toBe(404);
    expect((await get(server.port, '/%2e%2e/%2e%2e/etc/passwd')).status).toBe(404);
  });

  it('says how to build the page when it is missing', async () => {
    const empty = join(dir, 'empty');
    await mkdir(empty);
    const bare = await startInspectServer(hub, { port: 0, staticDir: empty });
    try {
      const reply = await get(bare.port, '/');
      expect(reply.status).toBe(503);
      expect(reply.body).toContain('node visualizer/build.mjs');
    } finally {
      await bare.close();
    }
  });

  it('answers /api/machines and /api/actors from the hub', async () => {
    startDemo().send({ type: 'PING' });
    const machines = JSON.parse((await get(server.port, '/api/machines')).body) as { machines: Array<{ id: string }> };
    expect(machines.machines.map((m) => m.id)).toEqual(['volume']);
    const actors = JSON.parse((await get(server.port, '/api/actors')).body) as { actors: unknown[]; log: unknown[] };
    expect(actors.actors).toEqual([expect.objectContaining({ id: 'volume:path:/demo', state: 'idle' })]);
    expect(actors.log).toContainEqual(expect.objectContaining({ type: 'PING' }));
  });

  it('refuses requests that name another host (DNS rebinding)', async () => {
    const reply = await get(server.port, '/api/actors', { host: `evil.example:${server.port}` });
    expect(reply.status).toBe(403);
  });

  it('greets a WebSocket with definitions and actors, then streams records as they happen', async () => {
    const actor = startDemo();
    const { ws, batches } = await openSocket(`ws://127.0.0.1:${server.port}/ws`);
    try {
      await until(() => batches.length >= 1, 'the greeting');
      const [machines, actors] = batches[0]!;
      expect(machines).toMatchObject({ kind: 'machines', machines: [expect.objectContaining({ id: 'volume' })] });
      expect(actors).toMatchObject({ kind: 'actors', actors: [expect.objectContaining({ id: 'volume:path:/demo', state: 'idle' })] });
      actor.send({ type: 'CHANGE' });
      await until(() => batches.length >= 2, 'the streamed batch');
      expect(batches[1]).toEqual([
        expect.objectContaining({ kind: 'event', type: 'CHANGE', target: 'volume:path:/demo' }),
        expect.objectContaining({ kind: 'actor', actor: expect.objectContaining({ state: { busy: 'settling' } }) }),
      ]);
    } finally {
      ws.close();
    }
  });

  it('refuses WebSockets from another origin', async () => {
    await expect(openSocket(`ws://127.0.0.1:${server.port}/ws`, { origin: 'http://evil.example' })).rejects.toThrow(/403/);
  });

  it('drops a page that reads too slowly with close code 1013', async () => {
    const slowServer = await startInspectServer(hub, { port: 0, staticDir: dir, maxBufferedBytes: 64 * 1024 });
    const actor = startDemo();
    const { ws } = await openSocket(`ws://127.0.0.1:${slowServer.port}/ws`);
    try {
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
      const bigType = 'X'.repeat(16 * 1024);
      for (let round = 0; round < 40; round += 1) {
        for (let i = 0; i < 50; i += 1) actor.send({ type: bigType } as never);
        await new Promise((resolve) => setImmediate(resolve));
      }
      (ws as unknown as { _socket: { resume(): void } })._socket.resume();
      expect(await closed).toBe(1013);
    } finally {
      ws.terminate();
      await slowServer.close();
    }
  });

  it('rejects a port in use with a one-line error naming --inspect-port', async () => {
    const error = await startInspectServer(hub, { port: server.port, staticDir: dir }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(WardenError);
    expect((error as WardenError).message).toBe(`inspect port ${server.port} is already in use: choose another with --inspect-port`);
    expect((error as WardenError).code).toBe('EINVAL');
  });
});
