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
