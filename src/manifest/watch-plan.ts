/**
 * What a volume watches and how it reads each change (SPEC §3, §4 `loading`): the manifest, every
 * source (a glob by its static base), each `watch` entry and the installer pid file, with cache
 * outputs ignored so a helper never retriggers itself.
 */
import path from 'node:path';
import type { WatchSpec } from '../adapters/types.js';
import { globBase, isGlobPattern, isInside, normalizeRelative } from './path-rules.js';
import { globMatcher } from './glob.js';
import { MANIFEST_FILE, type Manifest } from './schema.js';

/** How a change at one path matters to its volume. */
export type ChangeKind = 'manifest' | 'installer' | 'source' | 'ignored';

/** A change, classified; `rel` is root-relative (used in `volume.changed` events). */
export interface ClassifiedChange {
  kind: ChangeKind;
  rel: string;
}

/** A volume's watch: the spec for the watcher plus what classification needs. */
export interface WatchPlan {
  spec: WatchSpec;
  manifestPath: string;
  installerPidPath: string | null;
  /** Absolute cache outputs: changes there are ignored. */
  outputs: string[];
  /** Absolute files or directories whose changes count (sources that are not globs, `watch`). */
  trees: string[];
  /** Glob sources: the absolute base to watch and a matcher on root-relative paths. */
  globs: Array<{ base: string; matches: (rel: string) => boolean }>;
}

/**
 * The watch plan of a volume with a valid manifest.
 *
 * @example
 * const plan = planWatch('/vol', manifest);
 * const handle = fs.watch(plan.spec, (e) => { if (e.type === 'changed') classifyChange(plan, e.path); });
 */
export function planWatch(rootPath: string, manifest: Manifest): WatchPlan {
  const root = path.resolve(rootPath);
  const at = (rel: string): string => path.resolve(root, normalizeRelative(rel));
  const trees: string[] = [];
  const globs: WatchPlan['globs'] = [];
  for (const source of manifest.caches.flatMap((c) => c.sources)) {
    if (isGlobPattern(source)) globs.push({ base: at(globBase(source)), matches: globMatcher(normalizeRelative(source)) });
    else trees.push(at(source));
  }
  trees.push(...(manifest.watch ?? []).map(at));
  const manifestPath = path.join(root, MANIFEST_FILE);
  const installerPidPath = manifest.installerPidFile === undefined ? null : at(manifest.installerPidFile);
  const outputs = unique(manifest.caches.map((c) => at(c.output)));
  const watched = [manifestPath, ...trees, ...globs.map((g) => g.base), ...(installerPidPath === null ? [] : [installerPidPath])];
  return {
    spec: { root, paths: outermost(watched), ignored: outputs, attributes: [manifestPath] },
    manifestPath,
    installerPidPath,
    outputs,
    trees: unique(trees),
    globs,
  };
}

/**
 * The plan of a root whose manifest is missing or invalid: watch the manifest path only, so a
 * fixed or newly created manifest brings the volume (back) to `loading`.
 *
 * @example
 * const plan = planManifestOnly('/vol');  // spec.paths: ['/vol/.volwarden.json']
 */
export function planManifestOnly(rootPath: string): WatchPlan {
  const root = path.resolve(rootPath);
  const manifestPath = path.join(root, MANIFEST_FILE);
  return { spec: { root, paths: [manifestPath], ignored: [], attributes: [manifestPath] }, manifestPath, installerPidPath: null, outputs: [], trees: [], globs: [] };
}

/**
 * Says what a change at absolute `absPath` means: a manifest reload, installer activity, a source
 * change that should start settling, or nothing (outputs, unrelated paths).
 *
 * @example
 * classifyChange(plan, '/vol/cache/out.txt');  // { kind: 'ignored', rel: 'cache/out.txt' }
 * classifyChange(plan, '/vol/docs/a.md');      // { kind: 'source', rel: 'docs/a.md' }
 */
export function classifyChange(plan: WatchPlan, absPath: string): ClassifiedChange {
  const abs = path.resolve(absPath);
  const rel = path.relative(plan.spec.root, abs) || '.';
  const kind = (k: ChangeKind): ClassifiedChange => ({ kind: k, rel });
  if (abs === plan.manifestPath) return kind('manifest');
  if (abs === plan.installerPidPath) return kind('installer');
  if (rel === '..' || rel.startsWith('../') || path.isAbsolute(rel)) return kind('ignored');
  if (plan.outputs.some((out) => isInside(abs, out))) return kind('ignored');
  if (plan.trees.some((tree) => isInside(abs, tree) || isAncestorOf(abs, tree, plan.spec.root))) return kind('source');
  if (plan.globs.some((g) => g.matches(rel) || isAncestorOf(abs, g.base, plan.spec.root))) return kind('source');
  return kind('ignored');
}

/**
 * A directory above a watched path (below the root) appearing, moving or vanishing changes what
 * is under it, so it counts as a change to that path.
 */
function isAncestorOf(abs: string, watched: string, root: string): boolean {
  return abs !== root && abs !== watched && isInside(watched, abs);
}

/** Drops paths already covered by a watched ancestor (directories are watched recursively). */
function outermost(paths: string[]): string[] {
  const sorted = unique(paths).sort((a, b) => a.length - b.length);
  const kept: string[] = [];
  for (const p of sorted) {
    if (!kept.some((k) => isInside(p, k))) kept.push(p);
  }
  return kept;
}

function unique(paths: string[]): string[] {
  return [...new Set(paths)];
}
