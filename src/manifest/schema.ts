/**
 * The `.volwarden.json` manifest (SPEC §3) as a zod schema. Everything in it is untrusted:
 * objects are strict (a typo is an error, not a silently ignored key), every path obeys
 * `path-rules.ts`, and a parse failure names the JSON path of the first problem.
 */
import { z } from 'zod';
import { manifestLockSchema } from '../cluster/etcd-options.js';
import { checkGlobPattern, checkRelativePath, isGlobPattern, normalizeRelative } from './path-rules.js';
import { describeIssue, firstIssueMessage } from './issue-message.js';

/** A manifest larger than this is rejected before parsing (SPEC §3). */
export const MAX_MANIFEST_BYTES = 1024 * 1024;
/** Where a volume's manifest lives, relative to its root. */
export const MANIFEST_FILE = '.volwarden.json';
/** Timers past 2^31-1 ms fire at once in Node; bound every duration below that. */
const MAX_TIMER_MS = 2_147_483_647;

const CACHE_NAME = /^[A-Za-z0-9._-]{1,64}$/;

const relativePath = pathString(checkRelativePath);
const sourcePath = pathString(checkRelativePath, checkSourcePath);
const outputPath = pathString(checkRelativePath, checkOutputPath);

const argv = z
  .array(z.string().refine((a) => !a.includes('\0'), { message: 'must not contain NUL' }))
  .min(1)
  .superRefine((args, ctx) => {
    if (args[0] === '') ctx.addIssue({ code: 'custom', message: 'must not be empty', path: [0], input: args[0] });
  });

const count = z.number().int().nonnegative();

const cacheSchema = z.strictObject({
  name: z.string().regex(CACHE_NAME, { message: `must match ${CACHE_NAME.source}` }),
  output: outputPath,
  sources: z.array(sourcePath).min(1).max(256),
});

/** The manifest schema; `z.output` of it is {@link Manifest}. */
export const manifestSchema = z
  .strictObject({
    version: z.literal(1),
    caches: z.array(cacheSchema).min(1).max(256).superRefine(rejectDuplicateNames),
    watch: z.array(relativePath).max(256).optional(),
    rebuilder: z.string().min(1).optional(),
    command: argv.optional(),
    lockMode: z.enum(['daemon', 'helper']).default('daemon'),
    // No default here: a manifest without one takes its rebuilder's `timeoutSec`, then 3600 (SPEC §3, §13).
    timeoutSec: z.number().int().positive().max(Math.floor(MAX_TIMER_MS / 1000)).optional(),
    installerPidFile: relativePath.optional(),
    settleMs: count.max(MAX_TIMER_MS).optional(),
    maxFailures: count.optional(),
    maxAttempts: count.optional(),
    /** SPEC §15.4: lock this volume across hosts through etcd, under this name. */
    lock: manifestLockSchema.optional(),
  })
  .superRefine((m, ctx) => {
    if ((m.rebuilder === undefined) === (m.command === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'exactly one of "rebuilder" or "command" is required', input: m });
    }
  });

/** A validated manifest with defaults applied (`lockMode`). */
export type Manifest = z.output<typeof manifestSchema>;
/** One entry of `caches`. */
export type CacheEntry = Manifest['caches'][number];

export type ManifestParse = { ok: true; manifest: Manifest } | { ok: false; error: string };

/**
 * Parses and validates manifest bytes. Never throws: a problem comes back as one line naming
 * the JSON path of the first problem, ready for `status.error`.
 *
 * @example
 * const r = parseManifest('{"version":2}');
 * if (!r.ok) console.log(r.error);  // 'version: must be 1'
 */
export function parseManifest(data: Buffer | string): ManifestParse {
  const bytes = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length;
  if (bytes > MAX_MANIFEST_BYTES) return { ok: false, error: 'manifest is larger than 1 MiB' };
  let text: string;
  try {
    text = typeof data === 'string' ? data : new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return { ok: false, error: '(root): not valid UTF-8' };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `(root): not valid JSON: ${(err as Error).message}` };
  }
  const result = manifestSchema.safeParse(json, { error: describeIssue });
  if (result.success) return { ok: true, manifest: result.data };
  return { ok: false, error: firstIssueMessage(result.error.issues, json) };
}

function rejectDuplicateNames(caches: Array<{ name: string }>, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  caches.forEach((cache, index) => {
    if (seen.has(cache.name)) {
      ctx.addIssue({ code: 'custom', message: `duplicate cache name "${cache.name}"`, path: [index, 'name'], input: cache.name });
    }
    seen.add(cache.name);
  });
}

/** A string checked by each rule in turn; the first rule that objects is the one reported. */
function pathString(...rules: Array<(p: string) => string | null>) {
  return z.string().superRefine((p, ctx) => {
    for (const rule of rules) {
      const problem = rule(p);
      if (problem !== null) {
        ctx.addIssue({ code: 'custom', message: problem, input: p });
        return;
      }
    }
  });
}

function checkSourcePath(p: string): string | null {
  return isGlobPattern(p) || p.startsWith('!') ? checkGlobPattern(p) : null;
}

function checkOutputPath(p: string): string | null {
  if (isGlobPattern(p)) return 'must be one path, not a glob pattern';
  if (normalizeRelative(p) === '.') return 'must name a path inside the volume root, not the root itself';
  if (normalizeRelative(p) === MANIFEST_FILE) return 'must not be the manifest itself';
  return null;
}
