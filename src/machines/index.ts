/**
 * The pure statecharts of volwarden (`volwarden/machines`): no I/O, no timers of their own.
 * Use them for visualisation and model-based tests; `src/actors/` wires them to the world.
 */
export { wardenMachine } from './warden.js';
export type { WardenInput, WardenMachineEvent } from './warden.js';
export { volumeMachine } from './volume.js';
export type { VolumeContext, VolumeEvent, VolumeEmitted, VolumeInput, VolumeManifestView, LoadOutcome, ExamineOutcome, RebuildOutcome } from './volume.js';
export { lockMachine } from './lock.js';
export type { LockContext, LockEvent, LockEmitted, LockInput, QueuedRequest } from './lock.js';
export { waiterMachine } from './waiter.js';
export type { WaiterInput, WaiterEvent, WaiterOutput } from './waiter.js';
export { clientMachine } from './client.js';
export type { ClientInput, ClientEvent } from './client.js';
export { rebootLockMachine } from './reboot-lock.js';
export type { RebootContext, RebootEvent, RebootEmitted } from './reboot-lock.js';
export { subscriberMachine, SUBSCRIBER_DEFAULTS } from './subscriber.js';
export type { SubscriberContext, SubscriberEvent, SubscriberInput, SubscriberMachine, FrameReady } from './subscriber.js';
