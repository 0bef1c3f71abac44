/**
 * The visualizer's server side: an inspection hub per warden and the HTTP/WebSocket server
 * that serves the page. Kept behind one entry so the daemon mounts it with two calls.
 *
 * @example
 * import { InspectionHub, startInspectServer } from './inspect/index.js';
 */
export { InspectionHub } from './hub.js';
export type { HubClock, InspectionHubOptions, RecordListener, TraceRecorder } from './hub.js';
export { startInspectServer } from './server.js';
export type { InspectServer, InspectServerOptions } from './server.js';
export { describeMachine } from './machine-definition.js';
export type * from './records.js';
export type { InspectionSource } from './source.js';
export { InspectionMirror } from './mirror.js';
export type { InspectionSnapshot } from './mirror.js';
export { streamInspection } from './wire-stream.js';
export type { FrameSink, InspectionStream } from './wire-stream.js';
export { openInspectionFeed } from './daemon-feed.js';
export type { InspectionFeed } from './daemon-feed.js';
