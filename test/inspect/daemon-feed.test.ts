import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WardenError } from '../../src/errors.js';
import { createWarden } from '../../src/index.js';
import { openInspectionFeed } from '../../src/inspect/daemon-feed.js';
import { InspectionHub } from '../../src/inspect/hub.js';
import type { InspectRecord } from '../../src/inspect/records.js';
import type { InspectionSource } from '../../src/inspect/source.js';
import { shortTempDir } from '../adapters/socket-server.helpers.js';
import { eventually, makeVolume } from '../integration/helpers.js';

/** The `inspect` relay (routine 1800) between a real warden's sockets and `volwarden visualize`'s feed. */
describe('inspection relay over the control socket', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function daemon(options: { withHub: boolean }) {
    const vol = makeVolume();
    const tmp = shortTempDir();
    cleanups.push(vol.cleanup, tmp.cleanup);
    const hub = new InspectionHub();
    let subscribers = 0;
    // Counts live subscriptions, so the test sees the relay let go of a closed connection.
    const counted: InspectionSource = {
      machines: () => hub.machines(),
      actors: () => hub.actors(),
      log: () => hub.log(),
      now: () => hub.now(),
      subscribe(listener) {
        subscribers += 1;
        const unsubscribe = hub.subscribe(listener);
        return () => {
          subscribers -= 1;
          unsubscribe();
        };
      },
    };
    const warden = createWarden({ roots: [vol.root], settleMs: 50, inspect: hub.observer });
    cleanups.push(() => warden.stop(), () => hub.close());
    const socket = path.join(tmp.dir, 'private', 'control.sock');
    const statusSocket = path.join(tmp.dir, 'status.sock');
    await warden.start();
    await warden.listen({ socket, statusSocket, ...(options.withHub ? { inspection: counted } : {}) });
    await eventually(() => warden.status().volumes[0]!, (v) => v.state === 'idle' && v.lastRebuild !== null);
    return { vol, socket, statusSocket, subscribers: () => subscribers };
  }

  it('answers with the present, streams what follows, and lets go when the viewer hangs up', async () => {
    const { vol, socket, subscribers } = await daemon({ withHub: true });
    const feed = await openInspectionFeed(socket, 'test viewer');
    cleanups.push(() => feed.close());
    const volumeActor = `volume:path:${vol.root}`;
    expect(feed.snapshot.machines.map((m) => m.id)).toEqual(expect.arrayContaining(['warden', 'volume', 'lock']));
    expect(feed.snapshot.actors.find((a) => a.id === volumeActor)).toMatchObject({ kind: 'volume', state: 'idle' });
    expect(feed.snapshot.actors.some((a) => a.kind === 'client' && a.state === 'connected')).toBe(true);
    expect(subscribers()).toBe(1);

    const received: InspectRecord[] = [];
    feed.onRecords((records) => received.push(...records));
    writeFileSync(path.join(vol.root, 'src', 'b.txt'), 'beta\n');
    await eventually(() => received, (list) => list.some((r) => r.kind === 'actor' && r.actor.id === volumeActor && r.actor.state === 'settling'));

    feed.close();
    expect(await feed.closed).toBe('closed');
    await eventually(() => subscribers(), (n) => n === 0);
  });

  it('answers EPERM on the status socket, whose six routines do not include it (SPEC §9)', async () => {
    const { statusSocket, subscribers } = await daemon({ withHub: true });
    const error = await openInspectionFeed(statusSocket, 'test viewer').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WardenError);
    expect(error).toMatchObject({ code: 'EPERM', message: expect.stringContaining('inspect needs the control socket') });
    expect(subscribers()).toBe(0);
  });

  it('answers BAD_ID when the warden was given no inspection hub', async () => {
    const { socket } = await daemon({ withHub: false });
    const error = await openInspectionFeed(socket, 'test viewer').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WardenError);
    expect((error as WardenError).code).toBe('BAD_ID');
    expect((error as WardenError).message).toMatch(/does not offer the inspection stream/);
  });

  it('rejects with ECONNREFUSED in one line when no daemon answers', async () => {
    const tmp = shortTempDir();
    cleanups.push(tmp.cleanup);
    const error = await openInspectionFeed(path.join(tmp.dir, 'nobody.sock'), 'test viewer').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WardenError);
    expect((error as WardenError).code).toBe('ECONNREFUSED');
    expect((error as WardenError).message).toMatch(/^daemon not reachable at .*nobody\.sock/);
  });
});
