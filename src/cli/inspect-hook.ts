/**
 * The daemon's visualizer (SPEC §14): `daemon --inspect-port N` serves the page on 127.0.0.1,
 * `--record FILE.jsonl` writes the inspection stream as a trace the page can replay.
 */
import type { InspectionEvent } from 'xstate';
import { createInspection } from '../inspect/attach.js';

/** What the daemon asked for; either may be absent. */
export interface InspectorOptions {
  port?: number | undefined;
  record?: string | undefined;
}

/** A running inspector: the daemon feeds it inspection events and closes it on shutdown. */
export interface InspectorHandle {
  /** Receives every inspection event of the warden, from its creation on. */
  inspect(event: InspectionEvent): void;
  /** Where the page is served, for the startup banner. */
  url?: string;
  close(): Promise<void>;
}

/**
 * Starts the inspection hub, its server and recorder; undefined when neither was asked for.
 * A port in use rejects with a one-line `WardenError('EINVAL')` (exit 64).
 *
 * @example
 * const inspector = await attachInspector({ port: 8080, record: 'trace.jsonl' });
 * const warden = createWarden({ roots, inspect: inspector?.inspect });
 */
export async function attachInspector(options: InspectorOptions): Promise<InspectorHandle | undefined> {
  if (options.port === undefined && options.record === undefined) return undefined;
  const inspection = await createInspection({
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.record !== undefined ? { record: options.record } : {}),
  });
  return {
    inspect: inspection.observer,
    ...(inspection.url ? { url: inspection.url } : {}),
    close: () => inspection.close(),
  };
}
