/**
 * Reads a volume's manifest and decides whether it may be used (SPEC §3, §9): missing means
 * "not a volume"; anything wrong means `invalid` with a one-line reason; an inline `command` is
 * trusted only from an owner-only file, and a `rebuilder` must exist in the daemon config.
 */
import path from 'node:path';
import type { FileStat, FsAdapter } from '../adapters/types.js';
import { HELPER_PATH } from '../adapters/processes.js';
import { confine } from './confine.js';
import { vetHelper } from './helper-trust.js';
import { MANIFEST_FILE, MAX_MANIFEST_BYTES, parseManifest, type Manifest } from './schema.js';

export type ManifestLoad =
  | { kind: 'missing' }
  | { kind: 'invalid'; error: string }
  | { kind: 'ok'; manifest: Manifest; mtimeNs: bigint; path: string };

export interface LoadOptions {
  /** The daemon's uid: owner (besides root) a manifest with `command` must have. */
  daemonUid: number;
  /** Names of the rebuilders in the daemon config (SPEC §13). */
  rebuilders: ReadonlySet<string>;
  /** An in-process `rebuild` replaces `command`/`rebuilder` (SPEC §12), so neither is checked. */
  inProcessRebuild: boolean;
  /**
   * The argv of each rebuilder, so its executable is vetted like an inline command's (issue 17).
   * Without it only inline commands are vetted.
   */
  rebuilderCommands?: ReadonlyMap<string, readonly string[]>;
}

/** The exact `status.error` for a `command` in a manifest others could have written (SPEC §9). */
export const UNTRUSTED_COMMAND = 'untrusted manifest: command requires an owner-only manifest';

const GROUP_OR_WORLD_WRITABLE = 0o022;

/**
 * Loads and vets `<root>/.volwarden.json`. Never throws.
 *
 * @example
 * const load = await loadManifest(fs, '/vol', { daemonUid: process.getuid!(), rebuilders: new Set(), inProcessRebuild: false });
 * if (load.kind === 'invalid') status.error = load.error;
 */
export async function loadManifest(fs: FsAdapter, root: string, opts: LoadOptions): Promise<ManifestLoad> {
  const manifestPath = path.join(root, MANIFEST_FILE);
  const link = await fs.lstat(manifestPath);
  if (link === null) return { kind: 'missing' };
  if (link.kind === 'symlink') {
    const confined = await confine(fs, root, MANIFEST_FILE, MANIFEST_FILE);
    if (!confined.ok) return { kind: 'invalid', error: `${MANIFEST_FILE}: ${confined.why}` };
  }
  const read = await fs.readFile(manifestPath, MAX_MANIFEST_BYTES);
  if (!read.ok) {
    if (read.reason === 'missing') return { kind: 'missing' };
    if (read.reason === 'tooLarge') return { kind: 'invalid', error: 'manifest is larger than 1 MiB' };
    return { kind: 'invalid', error: `cannot read ${MANIFEST_FILE}: ${read.message}` };
  }
  const stat = read.stat ?? (await fs.stat(manifestPath));
  if (stat === null) return { kind: 'missing' };
  const parsed = parseManifest(read.data);
  if (!parsed.ok) return { kind: 'invalid', error: parsed.error };
  const { manifest } = parsed;
  if (!opts.inProcessRebuild) {
    if (manifest.command !== undefined && !isOwnerOnly(link, stat, opts.daemonUid)) {
      return { kind: 'invalid', error: UNTRUSTED_COMMAND };
    }
    if (manifest.rebuilder !== undefined && !opts.rebuilders.has(manifest.rebuilder)) {
      return { kind: 'invalid', error: `rebuilder: ${JSON.stringify(manifest.rebuilder)} is not defined in the daemon config` };
    }
    const untrusted = await vetManifestHelper(fs, root, manifest, opts);
    if (untrusted !== null) return { kind: 'invalid', error: untrusted };
  }
  return { kind: 'ok', manifest, mtimeNs: stat.mtimeNs, path: manifestPath };
}

/**
 * Why the helper this manifest runs must not be run (SPEC §9 extended, see `helper-trust.ts`), as
 * the `status.error` line naming where it comes from; `null` when it may run.
 *
 * @example
 * await vetManifestHelper(fs, '/vol', manifest, opts);
 * // 'command[0]: untrusted helper: tools is owned by uid 65534, not by root or the daemon's user: chown it, …'
 */
export async function vetManifestHelper(fs: FsAdapter, root: string, manifest: Manifest, opts: LoadOptions): Promise<string | null> {
  const argv0 = manifest.command?.[0] ?? (manifest.rebuilder === undefined ? undefined : opts.rebuilderCommands?.get(manifest.rebuilder)?.[0]);
  if (argv0 === undefined) return null;
  const why = await vetHelper(fs, argv0, { root, daemonUid: opts.daemonUid, searchPath: HELPER_PATH });
  if (why === null) return null;
  const where = manifest.command !== undefined ? 'command[0]' : `rebuilder ${JSON.stringify(manifest.rebuilder)}`;
  return `${where}: untrusted helper: ${why}`;
}

/**
 * Whether only the daemon's user (or root) could have written the manifest: the file read is
 * owned by one of them and not group/world writable, and a symlink to it is theirs too.
 */
function isOwnerOnly(link: FileStat, file: FileStat, daemonUid: number): boolean {
  const trusted = (uid: number): boolean => uid === 0 || uid === daemonUid;
  if (!trusted(file.uid) || (file.mode & GROUP_OR_WORLD_WRITABLE) !== 0) return false;
  return link.kind !== 'symlink' || trusted(link.uid);
}
