import type { Clock } from '../adapters/types.js';
import { clientMachine } from '../machines/client.js';
import { lockMachine } from '../machines/lock.js';
import { rebootLockMachine } from '../machines/reboot-lock.js';
import { subscriberMachine } from '../machines/subscriber.js';
import { volumeMachine } from '../machines/volume.js';
import { waiterMachine } from '../machines/waiter.js';
import { wardenMachine } from '../machines/warden.js';
import { InspectionHub } from './hub.js';
import { startInspectServer } from './server.js';

/** The daemon's inspection: a hub fed by every actor, optionally served and recorded. */
export interface Inspection {
  hub: InspectionHub;
  /** Pass as `createWarden({ inspect })`. */
  observer: InspectionHub['observer'];
  /** The visualizer's URL when served. */
  url?: string;
  close(): Promise<void>;
}

/**
 * Creates the inspection hub for a warden, registers every machine (so a trace's first line and
 * a late page know them all), and starts the visualizer server and/or the trace recorder.
 *
 * @example
 * const inspection = await createInspection({ clock, port: 0, record: 'trace.jsonl' });
 * const warden = createWarden({ roots, inspect: inspection.observer });
 * console.log(inspection.url);
 */
export async function createInspection(options: { clock?: Clock; port?: number; record?: string }): Promise<Inspection> {
  const hub = new InspectionHub(options.clock ? { clock: options.clock } : {});
  for (const machine of [wardenMachine, volumeMachine, lockMachine, waiterMachine, clientMachine, rebootLockMachine, subscriberMachine]) {
    hub.registerMachine(machine);
  }
  const recorder = options.record !== undefined ? await hub.record(options.record) : undefined;
  let server: Awaited<ReturnType<typeof startInspectServer>> | undefined;
  try {
    server = options.port !== undefined ? await startInspectServer(hub, { port: options.port }) : undefined;
  } catch (err) {
    await recorder?.close();
    await hub.close();
    throw err;
  }
  return {
    hub,
    observer: hub.observer,
    ...(server ? { url: server.url } : {}),
    async close() {
      await server?.close();
      await recorder?.close();
      await hub.close();
    },
  };
}
