/**
 * volwarden: keeps derived caches on watched volumes consistent with their sources.
 *
 * @example
 * import { createWarden } from 'volwarden';
 * const warden = createWarden({ roots: ['/srv/data'] });
 * await warden.start();
 * warden.events$.subscribe((e) => console.log(e.type, e.volume));
 */
export { createWarden, defaultAdapters } from './actors/library.js';
export type { WardenHandle, Lease, RebootLease } from './actors/library.js';
export type { WardenOptions } from './actors/warden.js';
export type { RebuildFunction } from './actors/volume-runtime.js';
export { WardenError, ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';
export type { StatusResult, VolumeStatus, LockView, HolderView, StaleCache } from './protocol/types.js';
export type { WardenEvent, EventType } from './protocol/events.js';
export type { Adapters, FsAdapter, ProcessAdapter, Clock, StateStore, MountAdapter } from './adapters/types.js';
export { MemoryFs } from './adapters/fs.memory.js';
export { FakeProcesses } from './adapters/processes.memory.js';
export { simulatedClock, systemClock } from './adapters/clock.js';
export { MemoryStateStore } from './adapters/state-store.memory.js';
export { MemoryMountTable } from './adapters/mount-table.memory.js';
export { createFileStateStore } from './adapters/state-store.js';
export { VERSION } from './version.js';
