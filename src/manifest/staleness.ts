/**
 * Decides which caches are stale (SPEC §3 "Staleness"): the output is missing, or a source file
 * or the manifest itself was modified after it (nanosecond mtimes). Reasons are sentences a
 * person can act on: `output missing`, `src/a.txt is newer than cache/out.txt`.
 */
import type { FsAdapter } from '../adapters/types.js';
import type { StaleCache } from '../protocol/types.js';
import { confinePath, resolveRoot, type ConfinedRoot } from './confine.js';
import { isGlobPattern, normalizeRelative } from './path-rules.js';
import { globMatcher } from './glob.js';
import { MANIFEST_FILE, type CacheEntry, type Manifest } from './schema.js';
import { statInside, walkEntry, walkSource, type WalkContext, type WalkedFile } from './source-walk.js';

/** The outcome of one check: stale caches, plus entries ignored for failing confinement. */
export interface StalenessReport {
  stale: StaleCache[];
  /** One line per refused entry, for `status.error`. */
  problems: string[];
  /**
   * Caches found stale from a changed file alone, without walking their sources: their
   * confinement problems were not re-checked this time (keep the previous ones).
   */
  shortcut: string[];
  /** Paths of `changedDuringLastRun` that made a cache stale (the run they start must not re-arm them). */
  retriggeredBy: string[];
}

/**
 * Checks every cache of a volume against the files on disk. Never throws.
 *
 * @example
 * const { stale, problems } = await checkStaleness(fs, '/vol', manifest, load.mtimeNs);
 * // stale: [{ name: 'docs-index', reason: 'docs/a.md is newer than cache/docs.idx' }]
 */
export async function checkStaleness(
  fs: FsAdapter,
  root: string,
  manifest: Manifest,
  manifestMtimeNs: bigint,
  /**
   * Root-relative paths a watcher saw change since the last rebuild began. File times tick in
   * steps of several ms, so a source written in the same tick as the output has an *equal*
   * mtime; if it is known to have changed since, the cache is stale all the same.
   */
  changedSince: ReadonlySet<string> = new Set(),
  /**
   * Root-relative paths the watcher saw change while the last rebuild ran. The helper may have
   * read them before the change and still written its output after it (so the output is newer):
   * such a source makes its cache stale while it still exists (SPEC §4: changes during a rebuild).
   */
  changedDuringLastRun: ReadonlySet<string> = new Set(),
): Promise<StalenessReport> {
  const confinedRoot = await resolveRoot(fs, root);
  if (confinedRoot === null) return { stale: [], problems: [`the volume root ${root} cannot be resolved`], shortcut: [], retriggeredBy: [] };
  const problems = new Set<string>();
  const outputs = await confineOutputs(fs, confinedRoot, manifest, problems);
  const ctx: WalkContext = { fs, root: confinedRoot, excluded: outputs.filter((o) => o !== null), problems };
  const stale: StaleCache[] = [];
  const shortcut: string[] = [];
  const retriggeredBy = new Set<string>();
  for (const [index, cache] of manifest.caches.entries()) {
    const output = outputs[index];
    if (output === null) continue;
    const quick = await changedFileNewer(ctx, cache, index, changedSince);
    if (quick !== null) {
      stale.push({ name: cache.name, reason: quick });
      shortcut.push(cache.name);
      continue;
    }
    const during = await changedDuringRun(ctx, cache, index, changedDuringLastRun);
    if (during !== null) {
      stale.push({ name: cache.name, reason: `${during} changed while the last rebuild ran` });
      shortcut.push(cache.name);
      retriggeredBy.add(during);
      continue;
    }
    const reason = await staleReason(ctx, cache, index, manifestMtimeNs, changedSince);
    if (reason !== null) stale.push({ name: cache.name, reason });
  }
  return { stale, problems: [...problems], shortcut, retriggeredBy: [...retriggeredBy] };
}

/** The first of `paths` that is a regular file among this cache's sources, inside the root. */
async function changedDuringRun(ctx: WalkContext, cache: CacheEntry, index: number, paths: ReadonlySet<string>): Promise<string | null> {
  for await (const file of changedSourceFiles(ctx, cache, index, paths)) return file.rel;
  return null;
}

/**
 * The common case after a write: a file the watcher reported is newer than the output, so the
 * cache is stale without walking every source (the check that gates a rebuild stays fast).
 */
async function changedFileNewer(
  ctx: WalkContext,
  cache: CacheEntry,
  index: number,
  changedSince: ReadonlySet<string>,
): Promise<string | null> {
  if (changedSince.size > 64) return null;
  const outputStat = changedSince.size === 0 ? null : await statInside({ ...ctx, excluded: [] }, cache.output, `caches[${index}].output`);
  if (outputStat === null || outputStat.kind !== 'file') return null;
  for await (const file of changedSourceFiles(ctx, cache, index, changedSince)) {
    if (file.mtimeNs > outputStat.mtimeNs) return `${file.rel} is newer than ${normalizeRelative(cache.output)}`;
  }
  return null;
}

/** Those of `paths` that are regular files among this cache's sources, inside the root and not an output. */
async function* changedSourceFiles(ctx: WalkContext, cache: CacheEntry, index: number, paths: ReadonlySet<string>): AsyncGenerator<WalkedFile> {
  if (paths.size === 0) return;
  const covers = sourceMatchers(cache);
  for (const rel of paths) {
    if (!covers.some((matches) => matches(rel))) continue;
    // Opened and verified in place, so a swapped parent cannot lend it an outside file's mtime.
    const stat = await statInside(ctx, rel, `caches[${index}].sources`);
    if (stat?.kind === 'file') yield { rel, mtimeNs: stat.mtimeNs, stat };
  }
}

/** One predicate per source entry: does a root-relative path fall under it? */
function sourceMatchers(cache: CacheEntry): Array<(rel: string) => boolean> {
  return cache.sources.map((source) => {
    const norm = normalizeRelative(source);
    if (isGlobPattern(source)) return globMatcher(norm);
    return (rel: string) => rel === norm || rel.startsWith(`${norm}/`) || norm === '.';
  });
}

/** Real path of each cache's output, `null` where it failed confinement (that cache is skipped). */
async function confineOutputs(fs: FsAdapter, root: ConfinedRoot, manifest: Manifest, problems: Set<string>): Promise<Array<string | null>> {
  const outputs: Array<string | null> = [];
  for (const [index, cache] of manifest.caches.entries()) {
    const confined = await confinePath(fs, root, cache.output, `caches[${index}].output`);
    if (!confined.ok) problems.add(confined.reason);
    outputs.push(confined.ok ? confined.real : null);
  }
  return outputs;
}

async function staleReason(
  ctx: WalkContext,
  cache: CacheEntry,
  index: number,
  manifestMtimeNs: bigint,
  changedSince: ReadonlySet<string>,
): Promise<string | null> {
  const outputMtime = await outputMtimeNs(ctx, cache, index);
  if (outputMtime === null) {
    // Still walk the sources: entries that leave the root belong in status.error from the first check.
    for (const [j, source] of cache.sources.entries()) await walkSource(ctx, source, `caches[${index}].sources[${j}]`, () => {});
    return 'output missing';
  }
  let newest: Pick<WalkedFile, 'rel' | 'mtimeNs'> = { rel: MANIFEST_FILE, mtimeNs: manifestMtimeNs };
  let tie: WalkedFile | null = null;
  const consider = (file: WalkedFile): void => {
    if (file.mtimeNs > newest.mtimeNs) newest = file;
    if (file.mtimeNs === outputMtime && tie === null && changedSince.has(file.rel)) tie = file;
  };
  for (const [j, source] of cache.sources.entries()) {
    await walkSource(ctx, source, `caches[${index}].sources[${j}]`, consider);
  }
  const output = normalizeRelative(cache.output);
  if (newest.mtimeNs > outputMtime) return `${newest.rel} is newer than ${output}`;
  const sameTick = tie as WalkedFile | null;
  if (sameTick !== null) return `${sameTick.rel} changed in the same clock tick as ${output} was written`;
  return null;
}

/**
 * When the output was last written: a file's mtime; for a directory output, the newest mtime of
 * the directory and everything in it (a helper may rewrite files in place). `null` when missing.
 */
async function outputMtimeNs(ctx: WalkContext, cache: CacheEntry, index: number): Promise<bigint | null> {
  const stat = await statInside({ ...ctx, excluded: [] }, cache.output, `caches[${index}].output`);
  if (stat === null) return null;
  if (stat.kind !== 'dir') return stat.mtimeNs;
  let newest = stat.mtimeNs;
  const insideOutput: WalkContext = { ...ctx, excluded: [] };
  await walkEntry(insideOutput, cache.output, `caches[${index}].output`, (file) => {
    if (file.mtimeNs > newest) newest = file.mtimeNs;
  }, () => true);
  return newest;
}
