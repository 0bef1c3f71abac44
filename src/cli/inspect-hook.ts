/**
 * The daemon's visualizer (SPEC §14): the daemon always keeps an inspection hub, so that
 * `volwarden visualize` can attach late and see the present over the status socket;
 * `daemon --inspect-port N` also serves the page on 127.0.0.1, and `--record FILE.jsonl`
 * writes the inspection stream as a trace the page can replay.
 */
import type { InspectionEvent } from 'xstate';
import { createInspection } from '../inspect/attach.js';
import type { InspectionSource } from '../inspect/source.js';

/** What the daemon asked for; either may be absent. */
export interface InspectorOptions {
  port?: number | undefined;
  record?: string | undefined;
}

/** A running inspector: the daemon feeds it inspection events and closes it on shutdown. */
export interface InspectorHandle {
  /** Receives every inspection event of the warden, from its creation on. */
  inspect(event: InspectionEvent): void;
  /** The hub itself, for the socket relay: pass as `warden.listen({ ..., inspection })`. */
  hub: InspectionSource;
  /** Where the page is served, for the startup banner. */
  url?: string;
  close(): Promise<void>;
}

/**
 * Starts the inspection hub, and its server and recorder when asked for. Without either the hub
 * still runs (a bounded log and one small summary per actor) so a late `visualize` sees the present.
 * A port in use rejects with a one-line `WardenError('EINVAL')` (exit 64).
 *
 * @example
 * const inspector = await attachInspector({ port: 8080, record: 'trace.jsonl' });
 * const warden = createWarden({ roots, inspect: inspector.inspect });
 * await warden.listen({ socket, statusSocket, inspection: inspector.hub });
 */
export async function attachInspector(options: InspectorOptions): Promise<InspectorHandle> {
  const inspection = await createInspection({
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.record !== undefined ? { record: options.record } : {}),
  });
  return {
    inspect: inspection.observer,
    hub: inspection.hub,
    ...(inspection.url ? { url: inspection.url } : {}),
    close: () => inspection.close(),
  };
}
