import { assign, emit, enqueueActions, fromPromise, setup } from 'xstate';
import type { StaleCache } from '../protocol/types.js';

/** What the volume machine needs of a validated manifest (the rest stays with the wiring). */
export interface VolumeManifestView {
  lockMode: 'daemon' | 'helper';
  settleMs?: number;
  maxFailures?: number;
  maxAttempts?: number;
}

export interface VolumeDefaults {
  settleMs: number;
  maxFailures: number;
  maxAttempts: number;
}

export interface VolumeInput {
  id: string;
  root: string;
  defaults: VolumeDefaults;
  /** Counters restored from the state directory (SPEC §4: they survive restarts). */
  failures?: number;
  attempts?: number;
  wardenRunning: boolean;
  rebootHeld?: boolean;
}

export interface LastRebuild {
  status: number;
  at: number;
  durationMs: number;
}

export interface VolumeContext {
  id: string;
  root: string;
  defaults: VolumeDefaults;
  manifest: VolumeManifestView | null;
  /** Why the manifest is invalid (SPEC §3: names the JSON path). */
  error: string | null;
  /** Entries ignored at use time (confinement), shown in `status.error`. */
  problems: string[];
  /** Why watching degraded to rescanning, if it did. */
  degraded: string | null;
  failures: number;
  attempts: number;
  /** A change arrived after the current check or rebuild began: look again afterwards. */
  dirty: boolean;
  /** A lock holder died during this rebuild (counted then): a helper-mode timeout is not counted twice. */
  holderDiedThisRun: boolean;
  /** The manifest changed while a rebuild was under way: reload once it ends. */
  reloadPending: boolean;
  stale: StaleCache[] | null;
  wardenRunning: boolean;
  rebootHeld: boolean;
  everReady: boolean;
  lastRebuild: LastRebuild | null;
}

export type LoadOutcome =
  | { kind: 'missing' }
  | { kind: 'invalid'; error: string }
  | { kind: 'ok'; manifest: VolumeManifestView };

export interface ExamineOutcome {
  /** The installer named by `installerPidFile` is alive: changes are ignored (SPEC §3). */
  installerActive: boolean;
  stale: StaleCache[];
  problems: string[];
}

export interface RebuildOutcome {
  status: number;
  startedAt: number;
  finishedAt: number;
  /**
   * The helper could not be started or ran past `timeoutSec` (SPEC §3, §4). In lockMode helper
   * only these count as failures: an ordinary exit status is the helper's own unlock's business.
   */
  failed?: boolean;
}

export type VolumeEvent =
  | { type: 'FS_CHANGED'; paths: string[] }
  | { type: 'MANIFEST_CHANGED' }
  | { type: 'INSTALLER_CHANGED' }
  | { type: 'ROOT_REMOVED' }
  | { type: 'VOLUME_REMOVED' }
  | { type: 'WARDEN_RUNNING' }
  | { type: 'CHECK_REQUESTED' }
  | { type: 'RETRY_REQUESTED' }
  | { type: 'LOCK_GRANTED'; token: number }
  | { type: 'LOCK_RELEASED'; status: number }
  | { type: 'HOLDER_DIED' }
  | { type: 'REBOOT_LOCK_CHANGED'; held: boolean }
  | { type: 'WATCH_DEGRADED'; reason: string | null }
  | { type: 'DEFAULTS_CHANGED'; defaults: VolumeDefaults };

/** Notifications the volume emits (SPEC §8); the wiring stamps `volume`, `ts` and `n`. */
export type VolumeEmitted =
  | { type: 'volume.changed'; paths: string[] }
  | { type: 'volume.ready' }
  | { type: 'rebuild.started'; stale: string[]; attempt: number }
  | { type: 'rebuild.finished'; status: number; failures: number }
  | { type: 'volume.gaveUp'; reason: string };

const limits = (context: VolumeContext) => ({
  settleMs: context.manifest?.settleMs ?? context.defaults.settleMs,
  maxFailures: context.manifest?.maxFailures ?? context.defaults.maxFailures,
  maxAttempts: context.manifest?.maxAttempts ?? context.defaults.maxAttempts,
});

const exhausted = (context: VolumeContext) => {
  const { maxFailures, maxAttempts } = limits(context);
  return context.failures >= maxFailures || context.attempts >= maxAttempts;
};

/** SPEC §4 counters: a success resets both, anything else is one more consecutive failure. */
const accountStatus = (context: VolumeContext, status: number) =>
  status === 0 ? { failures: 0, attempts: 0 } : { failures: context.failures + 1 };

/**
 * One watched volume (SPEC §2, §4): loads its manifest, lets changes settle, checks staleness,
 * runs the rebuild helper (through the volume lock in `lockMode: daemon`), counts failures and
 * gives up. Pure: every effect is a placeholder actor or action that `src/actors/` provides.
 *
 * @example
 * const actor = createActor(volumeMachine.provide({ actors: { loadManifest, examine, runHelper, probeInstaller } }),
 *   { input: { id: 'path:/srv', root: '/srv', defaults, wardenRunning: true } }).start();
 */
export const volumeMachine = setup({
  types: {
    context: {} as VolumeContext,
    input: {} as VolumeInput,
    events: {} as VolumeEvent,
    emitted: {} as VolumeEmitted,
  },
  actors: {
    loadManifest: fromPromise<LoadOutcome, { root: string }>(async () => ({ kind: 'missing' })),
    examine: fromPromise<ExamineOutcome, { root: string }>(async () => ({ installerActive: false, stale: [], problems: [] })),
    runHelper: fromPromise<RebuildOutcome, { stale: StaleCache[]; attempt: number }>(async () => ({ status: 0, startedAt: 0, finishedAt: 0 })),
    probeInstaller: fromPromise<{ active: boolean }, { root: string }>(async () => ({ active: false })),
  },
  actions: {
    /** Queue for the volume lock as holder `volwarden` (lockMode: daemon). */
    requestLock: () => {},
    /** Release the daemon's own hold with the helper's exit status (a no-op unless the daemon holds it). */
    releaseLock: (_, _params: { status: number }) => {},
    /** A change seen while busy: look again once done (the dirty mark, SPEC §4). */
    markDirty: assign({ dirty: true }),
    /** Tell subscribers what changed (SPEC §8 `volume.changed`). */
    reportChange: emit(({ event }) => ({ type: 'volume.changed' as const, paths: event.type === 'FS_CHANGED' ? event.paths : [] })),
  },
  delays: {
    settle: ({ context }) => limits(context).settleMs,
    installerPoll: 1000,
    rescan: 5000,
  },
  guards: {
    exhausted: ({ context }) => exhausted(context),
    daemonLocked: ({ context }) => context.manifest?.lockMode !== 'helper',
    dirty: ({ context }) => context.dirty,
    reloadPending: ({ context }) => context.reloadPending,
    degraded: ({ context }) => context.degraded !== null,
    staleKnown: ({ context }) => (context.stale?.length ?? 0) > 0,
  },
}).createMachine({
  id: 'volume',
  description: 'A watched volume: its manifest, staleness, rebuilds and failure counters.',
  context: ({ input }) => ({
    id: input.id,
    root: input.root,
    defaults: input.defaults,
    manifest: null,
    error: null,
    problems: [],
    degraded: null,
    failures: input.failures ?? 0,
    attempts: input.attempts ?? 0,
    dirty: false,
    holderDiedThisRun: false,
    reloadPending: false,
    stale: null,
    wardenRunning: input.wardenRunning,
    rebootHeld: input.rebootHeld ?? false,
    everReady: false,
    lastRebuild: null,
  }),
  initial: 'loading',
  on: {
    FS_CHANGED: {
      description: 'A source or watched path changed.',
      actions: 'reportChange',
    },
    MANIFEST_CHANGED: { target: '.loading', description: 'The manifest was edited: reload in place, keeping lock holder and waiters.' },
    ROOT_REMOVED: { target: '.gone', description: 'The root was removed or unmounted.' },
    VOLUME_REMOVED: { target: '.gone', description: 'The volume left the configuration.' },
    WARDEN_RUNNING: { actions: assign({ wardenRunning: true }), description: 'The startup delay passed.' },
    DEFAULTS_CHANGED: {
      description: 'The daemon config was reloaded: new default settle time and failure limits.',
      actions: assign(({ event }) => ({ defaults: event.defaults })),
    },
    LOCK_RELEASED: {
      description: 'A client holder unlocked with a status (SPEC §4 counters).',
      actions: assign(({ context, event }) => accountStatus(context, event.status)),
    },
    HOLDER_DIED: {
      description: 'The lock holder disconnected without unlocking: one more failure.',
      actions: assign(({ context }) => ({ failures: context.failures + 1 })),
    },
    REBOOT_LOCK_CHANGED: {
      description: 'The reboot lock was taken or released.',
      actions: assign(({ event }) => ({ rebootHeld: event.held })),
    },
    WATCH_DEGRADED: {
      description: 'Watching lost events (watch budget, queue overflow): rescan instead.',
      actions: assign(({ event }) => ({ degraded: event.reason })),
    },
  },
  states: {
    loading: {
      description: 'Reading and validating the manifest.',
      invoke: {
        id: 'loadManifest',
        src: 'loadManifest',
        input: ({ context }) => ({ root: context.root }),
        onDone: [
          { guard: ({ event }) => event.output.kind === 'missing', target: 'gone', description: 'No manifest: not a volume.' },
          {
            guard: ({ event }) => event.output.kind === 'invalid',
            target: 'invalid',
            actions: assign(({ event }) => ({
              error: event.output.kind === 'invalid' ? event.output.error : null,
              manifest: null,
              stale: null,
              reloadPending: false,
            })),
          },
          {
            guard: ({ context }) => !context.wardenRunning,
            target: 'deferred',
            actions: assign(({ event }) => ({
              manifest: event.output.kind === 'ok' ? event.output.manifest : null,
              error: null,
              reloadPending: false,
            })),
          },
          {
            target: 'checking',
            actions: assign(({ event }) => ({
              manifest: event.output.kind === 'ok' ? event.output.manifest : null,
              error: null,
              reloadPending: false,
            })),
          },
        ],
        onError: {
          target: 'invalid',
          actions: assign(({ event }) => ({ error: `manifest could not be read: ${String(event.error)}`, manifest: null })),
        },
      },
      on: {
        FS_CHANGED: { description: 'Ignored: the check after loading sees it.' },
        MANIFEST_CHANGED: { target: 'loading', reenter: true, description: 'Edited again while loading: start over.' },
      },
    },
    invalid: {
      description: 'The manifest exists but is not valid; status.error names the JSON path.',
      on: {
        FS_CHANGED: { description: 'Ignored until the manifest is fixed.' },
        CHECK_REQUESTED: { target: 'loading', description: 'A check re-reads the manifest.' },
      },
    },
    deferred: {
      description: 'The warden is still in its startup delay; changes are remembered.',
      on: {
        WARDEN_RUNNING: { target: 'checking', actions: assign({ wardenRunning: true }), description: 'Startup delay over: check now.' },
        FS_CHANGED: { description: 'Remembered for the check after the startup delay.', actions: ['markDirty', 'reportChange'] },
        CHECK_REQUESTED: { target: 'checking', description: 'An explicit check request overrides the startup delay.' },
      },
    },
    idle: {
      description: 'Nothing to do: clean, or stale while the reboot lock is held.',
      entry: enqueueActions(({ context, enqueue }) => {
        if (!context.everReady && context.stale !== null && context.stale.length === 0) {
          enqueue.assign({ everReady: true });
          enqueue.emit({ type: 'volume.ready' });
        }
      }),
      always: { guard: 'exhausted', target: 'gaveUp', description: 'Too many failures or attempts.' },
      after: { rescan: { guard: 'degraded', target: 'checking', description: 'Watching is degraded: rescan periodically.' } },
      on: {
        FS_CHANGED: {
          target: 'settling',
          description: 'A change: wait for it to settle.',
          actions: 'reportChange',
        },
        INSTALLER_CHANGED: { target: 'settling', description: 'The installer pid file changed.' },
        CHECK_REQUESTED: { target: 'checking', description: 'A check request.' },
        WATCH_DEGRADED: [
          {
            guard: ({ event }) => event.reason !== null,
            target: 'checking',
            actions: assign(({ event }) => ({ degraded: event.reason })),
            description: 'Events may have been lost: rescan now, then every 5 s.',
          },
          { actions: assign({ degraded: null }), description: 'Watching works again.' },
        ],
        REBOOT_LOCK_CHANGED: [
          {
            guard: ({ event, context }) => !event.held && (context.stale?.length ?? 0) > 0,
            target: 'checking',
            actions: assign({ rebootHeld: false }),
            description: 'The reboot lock was released while stale: rebuild now.',
          },
          { actions: assign(({ event }) => ({ rebootHeld: event.held })) },
        ],
      },
    },
    settling: {
      description: 'Waiting for changes to settle; each change restarts the timer.',
      always: { guard: 'exhausted', target: 'gaveUp' },
      after: { settle: { target: 'checking', description: 'No change for settleMs.' } },
      on: {
        FS_CHANGED: {
          target: 'settling',
          reenter: true,
          description: 'Another change restarts the settle timer.',
          actions: 'reportChange',
        },
        INSTALLER_CHANGED: { target: 'settling', reenter: true },
        CHECK_REQUESTED: { target: 'checking', description: 'A check request skips the settle timer.' },
      },
    },
    checking: {
      description: 'Checking staleness; in lockMode daemon, then queueing for the volume lock.',
      entry: assign({ dirty: false }),
      on: {
        FS_CHANGED: {
          description: 'Changed during the check or while queued: the helper may miss it, so look again afterwards.',
          actions: ['markDirty', 'reportChange'],
        },
      },
      initial: 'examining',
      states: {
        examining: {
          description: 'Comparing source and output modification times.',
          invoke: {
            id: 'examine',
        src: 'examine',
            input: ({ context }) => ({ root: context.root }),
            onDone: [
              { guard: ({ event }) => event.output.installerActive, target: '#volume.suspended', description: 'The installer is running.' },
              {
                guard: ({ event, context }) => event.output.stale.length === 0 && context.dirty,
                target: '#volume.settling',
                actions: assign(({ event }) => ({ stale: [], problems: event.output.problems })),
                description: 'Clean, but something changed during the check.',
              },
              {
                guard: ({ event }) => event.output.stale.length === 0,
                target: '#volume.idle',
                actions: assign(({ event }) => ({ stale: [], problems: event.output.problems })),
                description: 'Every cache is up to date.',
              },
              {
                guard: ({ context }) => exhausted(context),
                target: '#volume.gaveUp',
                actions: assign(({ event }) => ({ stale: event.output.stale, problems: event.output.problems })),
              },
              {
                guard: ({ context }) => context.rebootHeld,
                target: '#volume.idle',
                actions: assign(({ event }) => ({ stale: event.output.stale, problems: event.output.problems })),
                description: 'Stale, but the reboot lock is held: no automatic rebuild.',
              },
              {
                guard: 'daemonLocked',
                target: 'awaitingLock',
                actions: [
                  assign(({ event }) => ({ stale: event.output.stale, problems: event.output.problems })),
                  emit(({ context }) => ({
                    type: 'rebuild.started' as const,
                    stale: (context.stale ?? []).map((s) => s.name),
                    attempt: context.attempts + 1,
                  })),
                ],
                description: 'Stale: queue for the volume lock as holder volwarden.',
              },
              {
                target: '#volume.rebuilding',
                actions: [
                  assign(({ event }) => ({ stale: event.output.stale, problems: event.output.problems })),
                  emit(({ context }) => ({
                    type: 'rebuild.started' as const,
                    stale: (context.stale ?? []).map((s) => s.name),
                    attempt: context.attempts + 1,
                  })),
                ],
                description: 'Stale (lockMode helper): start the helper, which locks for itself.',
              },
            ],
            onError: {
              target: '#volume.idle',
              actions: assign(({ event }) => ({ problems: [`staleness check failed: ${String(event.error)}`] })),
            },
          },
        },
        awaitingLock: {
          description: 'Queued for the volume lock (counted in waiters, FIFO).',
          entry: 'requestLock',
          on: {
            LOCK_GRANTED: [
              {
                guard: 'exhausted',
                target: '#volume.gaveUp',
                actions: { type: 'releaseLock', params: { status: 0 } },
                description: 'Failures reached the limit while queued: hand the lock back and give up.',
              },
              { target: '#volume.rebuilding', description: 'The daemon holds the volume lock.' },
            ],
            MANIFEST_CHANGED: { actions: assign({ reloadPending: true }), description: 'Reload after this rebuild.' },
          },
        },
      },
    },
    rebuilding: {
      description: 'The helper runs; changes meanwhile set the dirty mark.',
      // The dirty mark survives from checking: a change seen after the check began may be missed.
      entry: assign(({ context }) => ({ attempts: context.attempts + 1, holderDiedThisRun: false })),
      initial: 'running',
      states: {
        running: {
          description: 'The helper process (or in-process rebuild) is running.',
          invoke: {
            id: 'runHelper',
        src: 'runHelper',
            input: ({ context }) => ({ stale: context.stale ?? [], attempt: context.attempts }),
            onDone: {
              target: 'finished',
              description: 'The helper exited; its status is the unlock status.',
              actions: [
                assign(({ context, event }) => ({
                  ...(context.manifest?.lockMode !== 'helper'
                    ? accountStatus(context, event.output.status)
                    // A helper killed while it held the lock was counted already, as a dead holder.
                    : event.output.failed && !context.holderDiedThisRun ? { failures: context.failures + 1 } : {}),
                  lastRebuild: {
                    status: event.output.status,
                    at: event.output.finishedAt,
                    durationMs: Math.max(0, event.output.finishedAt - event.output.startedAt),
                  },
                  // A success is taken to have cleaned every cache; a failure leaves them stale.
                  stale: event.output.status === 0 ? [] : context.stale,
                })),
                { type: 'releaseLock', params: ({ event }) => ({ status: event.output.status }) },
                emit(({ context, event }) => ({ type: 'rebuild.finished' as const, status: event.output.status, failures: context.failures })),
              ],
            },
            // The wiring's runHelper never rejects; should it, count it as a helper that could not start.
            onError: {
              target: 'finished',
              actions: [
                assign(({ context }) => accountStatus(context, 127)),
                { type: 'releaseLock', params: { status: 127 } },
                emit(({ context }) => ({ type: 'rebuild.finished' as const, status: 127, failures: context.failures })),
              ],
            },
          },
        },
        finished: {
          description: 'Decide what follows the rebuild.',
          always: [
            { guard: 'reloadPending', target: '#volume.loading', description: 'The manifest changed meanwhile.' },
            { guard: 'dirty', target: '#volume.settling', description: 'Sources changed meanwhile.' },
            { target: '#volume.idle' },
          ],
        },
      },
      on: {
        FS_CHANGED: { description: 'Changed during the rebuild: settle and check again afterwards.', actions: ['markDirty', 'reportChange'] },
        HOLDER_DIED: {
          description: 'A holder died without unlocking: one more failure (in lockMode helper, maybe the helper itself).',
          actions: assign(({ context }) => ({ failures: context.failures + 1, holderDiedThisRun: true })),
        },
        MANIFEST_CHANGED: { actions: assign({ reloadPending: true }), description: 'Reload once the helper exits.' },
        CHECK_REQUESTED: { actions: assign({ dirty: true }), description: 'Check again after this rebuild.' },
      },
    },
    suspended: {
      description: 'An installer is active (installerPidFile names a live process): changes are ignored.',
      initial: 'probing',
      states: {
        probing: {
          description: 'Is the installer still alive?',
          invoke: {
            id: 'probeInstaller',
        src: 'probeInstaller',
            input: ({ context }) => ({ root: context.root }),
            onDone: [
              { guard: ({ event }) => !event.output.active, target: '#volume.settling', description: 'The installer is gone.' },
              { target: 'waitingForInstaller' },
            ],
            onError: { target: 'waitingForInstaller' },
          },
        },
        waitingForInstaller: {
          description: 'Look again in a second.',
          after: { installerPoll: { target: 'probing' } },
        },
      },
      on: {
        FS_CHANGED: { description: 'Ignored while the installer runs.' },
        INSTALLER_CHANGED: { target: 'settling', description: 'The pid file changed.' },
        CHECK_REQUESTED: { target: 'checking' },
      },
    },
    gaveUp: {
      description: 'Too many consecutive failures or attempts: no automatic rebuilds.',
      entry: emit(({ context }) => {
        const { maxFailures, maxAttempts } = limits(context);
        const reason = context.failures >= maxFailures
          ? `${context.failures} consecutive failures (maxFailures ${maxFailures})`
          : `${context.attempts} attempts without success (maxAttempts ${maxAttempts})`;
        return { type: 'volume.gaveUp' as const, reason };
      }),
      on: {
        FS_CHANGED: { description: 'Noted, but no automatic rebuild.', actions: 'reportChange' },
        RETRY_REQUESTED: { target: 'checking', actions: assign({ failures: 0, attempts: 0 }), description: 'retry: clear the counters.' },
        MANIFEST_CHANGED: { target: 'loading', actions: assign({ failures: 0, attempts: 0 }), description: 'A manifest change clears the counters.' },
        LOCK_RELEASED: [
          {
            guard: ({ event }) => event.status === 0,
            target: 'checking',
            actions: assign({ failures: 0, attempts: 0 }),
            description: 'A helper unlocked with status 0.',
          },
          { actions: assign(({ context, event }) => accountStatus(context, event.status)) },
        ],
      },
    },
    gone: {
      type: 'final',
      description: 'Removed, unmounted or no longer configured: waiters got ENOENT.',
    },
  },
});
