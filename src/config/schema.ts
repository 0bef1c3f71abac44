/**
 * The daemon config file (SPEC §13) as a strict zod schema: a typo is an error that names its
 * JSON path (`rebuilders.docs.comand: unknown key`), never a silently ignored setting.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { etcdConfigSchema } from '../cluster/etcd-options.js';
import { WardenError } from '../errors.js';
import { describeIssue, firstIssueMessage } from '../manifest/issue-message.js';

/** Timers past 2^31-1 ms fire at once in Node; every duration stays below that. */
const MAX_TIMER_MS = 2_147_483_647;
/** A config file is small; anything bigger is a mistake (wrong file). */
const MAX_CONFIG_BYTES = 1024 * 1024;

const absoluteOrRelativePath = z.string().min(1).refine((p) => !p.includes('\0'), { message: 'must not contain NUL' });
const ms = z.number().int().nonnegative().max(MAX_TIMER_MS);
const positive = z.number().int().positive();

/** A user or group: a name as useradd(8) allows, or a numeric id. */
const ACCOUNT = /^(?:[A-Za-z_][A-Za-z0-9._-]{0,31}\$?|\d{1,10})$/;
const account = z.string().regex(ACCOUNT, { message: 'must be a user or group name, or a numeric id' });

const rebuilderSchema = z.strictObject({
  command: z.array(z.string().refine((a) => !a.includes('\0'), { message: 'must not contain NUL' })).min(1),
  timeoutSec: z.number().int().positive().max(Math.floor(MAX_TIMER_MS / 1000)).optional(),
  // Run the helper as this user/group, with no new privileges (issue 17; README "Security").
  user: account.optional(),
  group: account.optional(),
});

/** Every key SPEC §13 allows (and issue 17's socket budgets), and no other. */
export const configSchema = z.strictObject({
  roots: z.array(absoluteOrRelativePath).optional(),
  discoverMounts: z.boolean().optional(),
  socket: absoluteOrRelativePath.optional(),
  statusSocket: absoluteOrRelativePath.optional(),
  stateDir: absoluteOrRelativePath.optional(),
  startupDelayMs: ms.optional(),
  settleMs: ms.optional(),
  ackTimeoutMs: ms.optional(),
  maxSubscribers: positive.optional(),
  maxWaiters: positive.optional(),
  maxClients: positive.optional(),
  // Issue 17: the status socket's own connection budget, its idle timeout, and memory bounds.
  maxStatusClients: positive.optional(),
  statusIdleTimeoutMs: z.number().int().positive().max(MAX_TIMER_MS).optional(),
  maxClientBufferBytes: positive.optional(),
  maxSocketBufferBytes: positive.optional(),
  maxQueuedEvents: positive.optional(),
  maxFrameBytes: positive.optional(),
  rebuilders: z.record(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { message: 'must match ^[A-Za-z0-9._-]{1,64}$' }), rebuilderSchema).optional(),
  inspect: z.strictObject({ port: z.number().int().min(0).max(65535) }).optional(),
  /** Cluster locks (SPEC §15.4): the etcd cluster every host's daemon shares. */
  etcd: etcdConfigSchema.optional(),
});

/** A validated daemon config; relative paths are already resolved against the file's directory. */
export type DaemonConfig = z.output<typeof configSchema>;

export type ConfigParse = { ok: true; config: DaemonConfig } | { ok: false; error: string };

/**
 * Validates config text. Never throws: a problem comes back as one line naming the JSON path.
 * Relative paths in it are resolved against `baseDir` (the config file's directory).
 *
 * @example
 * const r = parseConfig('{"rootz": []}', '/etc/volwarden');
 * if (!r.ok) console.log(r.error);  // 'rootz: unknown key'
 */
export function parseConfig(text: string, baseDir: string = process.cwd()): ConfigParse {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `(root): not valid JSON: ${(err as Error).message}` };
  }
  const result = configSchema.safeParse(json, { error: describeIssue });
  if (!result.success) return { ok: false, error: firstIssueMessage(result.error.issues, json) };
  return { ok: true, config: resolvePaths(result.data, baseDir) };
}

/**
 * Reads and validates a config file. Throws `WardenError('EINVAL')` whose message starts with
 * the file name and names the JSON path of the first problem (the CLI exits 64 with it).
 *
 * @example
 * const config = await loadConfig('/etc/volwarden/config.json');
 * createWarden({ roots: config.roots, settleMs: config.settleMs });
 */
export async function loadConfig(file: string): Promise<DaemonConfig> {
  let text: string;
  try {
    const data = await readFile(file);
    if (data.length > MAX_CONFIG_BYTES) throw new Error('larger than 1 MiB');
    text = data.toString('utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new WardenError('EINVAL', `config ${file}: cannot read: ${reason}`, { cause: err });
  }
  const parsed = parseConfig(text, path.dirname(path.resolve(file)));
  if (!parsed.ok) throw new WardenError('EINVAL', `config ${file}: ${parsed.error}`);
  return parsed.config;
}

// Paths in a config file mean "next to the config", not "wherever the daemon was started".
function resolvePaths(config: DaemonConfig, baseDir: string): DaemonConfig {
  const at = (p: string | undefined) => (p === undefined ? undefined : path.resolve(baseDir, p));
  const out: DaemonConfig = { ...config };
  if (config.roots) out.roots = config.roots.map((r) => path.resolve(baseDir, r));
  for (const key of ['socket', 'statusSocket', 'stateDir'] as const) {
    const resolved = at(config[key]);
    if (resolved !== undefined) out[key] = resolved;
  }
  if (config.etcd?.tls) {
    const { caFile, certFile, keyFile } = config.etcd.tls;
    const tls = { caFile: path.resolve(baseDir, caFile), ...(certFile && keyFile ? { certFile: at(certFile), keyFile: at(keyFile) } : {}) };
    out.etcd = { ...config.etcd, tls };
  }
  return out;
}
