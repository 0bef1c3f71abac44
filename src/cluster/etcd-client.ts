/**
 * The etcd3 client as cluster locks need it: every unary call bounded by a deadline (a stopped
 * member must not hang a request), a host that fails three calls in a row skipped for a second
 * (not etcd3's default five), watch streams re-established within a second, and HTTP/2 pings
 * that notice a silent member while etcd's default `--grpc-keepalive-min-time` (5 s) allows.
 */
import { readFileSync } from 'node:fs';
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, retry, type IBackoff } from 'cockatiel';
import { Etcd3, isRecoverableError, type IOptions } from 'etcd3';
import { WardenError } from '../errors.js';
import type { EtcdConfig } from './etcd-options.js';

/** How long one etcd call may take before it counts as "unreachable" (ms). */
export const DEFAULT_CALL_TIMEOUT_MS = 1_000;

/**
 * Makes the client for an `etcd` block. Throws `WardenError('EINVAL')` if a TLS file cannot be read.
 *
 * @example
 * const client = createEtcdClient({ endpoints: ['http://127.0.0.1:2379'], prefix: '/volwarden/', leaseTtlSec: 5 });
 * await client.put('/volwarden/hello').value('world');
 * client.close();
 */
export function createEtcdClient(config: EtcdConfig, callTimeoutMs = DEFAULT_CALL_TIMEOUT_MS): Etcd3 {
  const options: IOptions = {
    hosts: config.endpoints,
    dialTimeout: callTimeoutMs,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    faultHandling: {
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1_000, breaker: new ConsecutiveBreaker(3) }),
      // One retry on another member: steps round one dead member, and a cut-off host hears EAGAIN within 2 s.
      global: retry(handleWhen(isRecoverableError), { maxAttempts: Math.min(1, config.endpoints.length - 1) }),
      // etcd3 types this as a backoff but calls `.next()` on it: it wants the factory (its own default is one).
      watchBackoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1_000 }) as unknown as IBackoff<unknown>,
    },
    grpcOptions: {
      'grpc.keepalive_time_ms': 6_000,
      'grpc.keepalive_timeout_ms': 2_000,
      // No pings without a call: etcd's default `--grpc-keepalive-permit-without-stream=false` counts them as abuse.
      'grpc.keepalive_permit_without_calls': 0,
    },
  };
  if (config.tls) {
    options.credentials = {
      rootCertificate: readTlsFile('caFile', config.tls.caFile),
      ...(config.tls.certFile !== undefined ? { certChain: readTlsFile('certFile', config.tls.certFile) } : {}),
      ...(config.tls.keyFile !== undefined ? { privateKey: readTlsFile('keyFile', config.tls.keyFile) } : {}),
    };
  }
  if (config.auth) options.auth = { username: config.auth.username, password: config.auth.password };
  return new Etcd3(options);
}

/**
 * What every etcd failure becomes at the lock's boundary: `EAGAIN` with `etcd unreachable: …`
 * (SPEC §15.4), the etcd client's own error kept as `cause`.
 */
export function unreachable(cause: unknown): WardenError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new WardenError('EAGAIN', `etcd unreachable: ${reason.split('\n')[0]}`, { cause });
}

function readTlsFile(field: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new WardenError('EINVAL', `etcd.tls.${field}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}
