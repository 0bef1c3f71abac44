/**
 * The simulated world's fixed parts: daemon settings small enough that every limit is reached
 * within a short schedule, the two volumes' manifests and files, and the guarded file tree.
 */
import { MemoryFs } from '../../src/adapters/fs.memory.js';
import type { ManifestVariant, SourceFile } from './schedule.js';

/** Daemon settings small enough that every limit is reached within a short schedule. */
export const SIM_LIMITS = { ackTimeoutMs: 500, maxQueuedEvents: 6, maxWaiters: 3, maxSubscribers: 2 };
/** Daemon defaults (settle, give-up thresholds) a manifest variant may override. */
export const SIM_DEFAULTS = { settleMs: 300, maxFailures: 3, maxAttempts: 6 };
/** The daemon's uid, which owns every manifest (inline commands need an owner-only manifest). */
export const UID = 1000;
/** The pid an installer step writes into `run/installer.pid`. */
export const INSTALLER_PID = 4242;
/** The helper timeout every valid manifest sets (then SIGKILL 10 s after SIGTERM). */
const HELPER_TIMEOUT_SEC = 2;

/** Volume roots and ids, by index (no mount table: ids are `path:`). */
export const rootOf = (vol: number) => `/v${vol}`;
export const volumeIdOf = (vol: number) => `path:${rootOf(vol)}`;

/** What each volume's caches are built from (volume 1 has a second cache and a glob). */
export const CACHES = [
  [{ name: 'out', output: 'cache/out.txt', sources: ['src'] }],
  [
    { name: 'out', output: 'cache/out.txt', sources: ['src/*.txt'] },
    { name: 'docs', output: 'cache/docs.idx', sources: ['docs'] },
  ],
];
const WATCH = [['etc/extra.conf'], []];

/** Whether changing `file` of volume `vol` must lead to a check (SPEC §3: sources and `watch`). */
export function isWatched(vol: number, file: SourceFile): boolean {
  if (file.startsWith('src/')) return true;
  return vol === 0 ? file === 'etc/extra.conf' : file === 'docs/c.md';
}

/** The manifest text of one variant (valid ones are owner-only with an inline command). */
export function manifestText(vol: number, variant: ManifestVariant): string {
  if (variant === 'broken') return '{"version": 1, "caches": [';
  const base = {
    version: 1,
    caches: CACHES[vol],
    ...(WATCH[vol]!.length > 0 ? { watch: WATCH[vol] } : {}),
    command: variant === 'unstartable' || variant === 'helperUnstartable' ? ['./missing-helper'] : ['./build.sh'],
    timeoutSec: HELPER_TIMEOUT_SEC,
    installerPidFile: 'run/installer.pid',
  };
  if (variant === 'helper' || variant === 'helperUnstartable') return JSON.stringify({ ...base, lockMode: 'helper' });
  if (variant === 'settle') return JSON.stringify({ ...base, settleMs: 50, maxFailures: 2 });
  if (variant === 'invalid') return JSON.stringify({ ...base, caches: [] });
  return JSON.stringify(base);
}

/**
 * The in-memory file tree with a livelock guard: a warden that spins through promise chains
 * without time passing never yields to the event loop, so the simulation could not even time
 * out. Past `budget` calls at one simulated instant, every call fails (and the run is failed).
 */
export class GuardedFs extends MemoryFs {
  constructor(private readonly guard: () => boolean) {
    super({ uid: UID });
  }

  override lstat(p: string) {
    return this.guard() ? Promise.reject(new Error('sim livelock guard')) : super.lstat(p);
  }

  override stat(p: string) {
    return this.guard() ? Promise.reject(new Error('sim livelock guard')) : super.stat(p);
  }

  override readFile(p: string, maxBytes: number) {
    return this.guard() ? Promise.reject(new Error('sim livelock guard')) : super.readFile(p, maxBytes);
  }
}

/** Work the warden may do at one simulated instant before the world calls it a livelock. */
export const LIVELOCK_BUDGET = 20_000;

/** Lets every pending microtask (and promise chain) of the warden run to the end. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
