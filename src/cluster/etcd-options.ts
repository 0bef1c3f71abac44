/**
 * The daemon config's `etcd` block (SPEC §15.4) and the name a manifest gives its cluster lock.
 * One schema serves the config file and the library options, so both spell it the same way.
 */
import { z } from 'zod';
import { WardenError } from '../errors.js';
import { describeIssue, firstIssueMessage } from '../manifest/issue-message.js';

/** A cluster lock's name, as a manifest's `"lock": { "cluster": NAME }` gives it. */
export const CLUSTER_LOCK_NAME = /^[A-Za-z0-9._-]{1,128}$/;
/** SPEC §15.4: the lease TTL is 2–60 s, 5 s unless configured. */
export const LEASE_TTL_MIN_SEC = 2;
export const LEASE_TTL_MAX_SEC = 60;
export const DEFAULT_LEASE_TTL_SEC = 5;
export const DEFAULT_ETCD_PREFIX = '/volwarden/';

const endpoint = z.string().refine((url) => /^https?:\/\/[^/\s]+\/?$/.test(url), {
  message: 'must be an http:// or https:// URL of an etcd member (http://127.0.0.1:2379)',
});
const filePath = z.string().min(1).refine((p) => !p.includes('\0'), { message: 'must not contain NUL' });

/**
 * The `etcd` block. TLS and password auth are what the etcd3 client offers: a CA (required for
 * TLS), and a client certificate + key for mutual TLS; files are read when the client is made.
 */
export const etcdConfigSchema = z
  .strictObject({
    endpoints: z.array(endpoint).min(1).max(64),
    prefix: z
      .string()
      .regex(/^\/[A-Za-z0-9._\/-]*\/$/, { message: 'must start and end with "/" and hold only A-Z a-z 0-9 . _ - /' })
      .max(256)
      .default(DEFAULT_ETCD_PREFIX),
    leaseTtlSec: z.number().int().min(LEASE_TTL_MIN_SEC).max(LEASE_TTL_MAX_SEC).default(DEFAULT_LEASE_TTL_SEC),
    tls: z
      .strictObject({ caFile: filePath, certFile: filePath.optional(), keyFile: filePath.optional() })
      .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
        message: 'certFile and keyFile go together (mutual TLS needs both)',
      })
      .optional(),
    auth: z.strictObject({ username: z.string().min(1), password: z.string() }).optional(),
  })
  .refine((c) => c.tls === undefined || c.endpoints.every((e) => e.startsWith('https://')), {
    message: 'with "tls", every endpoint must be https://',
    path: ['endpoints'],
  });

/** The `etcd` block as written (defaults optional). */
export type EtcdConfigInput = z.input<typeof etcdConfigSchema>;
/** The `etcd` block with defaults applied (`prefix`, `leaseTtlSec`). */
export type EtcdConfig = z.output<typeof etcdConfigSchema>;

/** The manifest's `lock` block: which cluster lock guards the volume. */
export const manifestLockSchema = z.strictObject({
  cluster: z.string().regex(CLUSTER_LOCK_NAME, { message: `must match ${CLUSTER_LOCK_NAME.source}` }),
});

/**
 * Validates the library's `etcd` option (the same block as the config file's) and applies its
 * defaults. Throws `WardenError('EINVAL')` naming the JSON path of the first problem.
 *
 * @example
 * parseEtcdOptions({ endpoints: ['http://127.0.0.1:2379'] }).leaseTtlSec;  // 5
 * parseEtcdOptions({ endpoints: [], leaseTtlSec: 1 });  // throws 'etcd.endpoints: must have at least 1 item'
 */
export function parseEtcdOptions(input: unknown): EtcdConfig {
  const result = etcdConfigSchema.safeParse(input, { error: describeIssue });
  if (!result.success) {
    const message = firstIssueMessage(result.error.issues, input);
    throw new WardenError('EINVAL', `etcd${message.startsWith('(root)') ? message.slice('(root)'.length) : `.${message}`}`);
  }
  return result.data;
}
