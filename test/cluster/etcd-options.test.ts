/**
 * SPEC §15.4's configuration: the daemon config's `etcd` block, the same block as a library
 * option, and a manifest's `"lock": { "cluster": NAME }`.
 */
import { describe, expect, it } from 'vitest';
import { createWarden } from '../../src/actors/library.js';
import { parseEtcdOptions } from '../../src/cluster/etcd-options.js';
import { parseConfig } from '../../src/config/schema.js';
import { parseManifest } from '../../src/manifest/schema.js';

const manifest = (lock: unknown) =>
  JSON.stringify({ version: 1, caches: [{ name: 'out', output: 'cache/out', sources: ['src'] }], command: ['./build'], lock });

describe('the daemon config etcd block', () => {
  it('applies the prefix and lease TTL defaults', () => {
    expect(parseConfig('{"etcd": {"endpoints": ["http://127.0.0.1:2379"]}}')).toEqual({
      ok: true,
      config: { etcd: { endpoints: ['http://127.0.0.1:2379'], prefix: '/volwarden/', leaseTtlSec: 5 } },
    });
  });

  it('accepts TLS and auth, resolving TLS files next to the config file', () => {
    const text = JSON.stringify({
      etcd: {
        endpoints: ['https://etcd-1:2379', 'https://etcd-2:2379'], prefix: '/site-a/', leaseTtlSec: 60,
        tls: { caFile: 'ca.pem', certFile: '/pki/client.pem', keyFile: 'client.key' }, auth: { username: 'vw', password: 's3cret' },
      },
    });
    expect(parseConfig(text, '/etc/volwarden')).toMatchObject({
      ok: true,
      config: { etcd: { tls: { caFile: '/etc/volwarden/ca.pem', certFile: '/pki/client.pem', keyFile: '/etc/volwarden/client.key' }, leaseTtlSec: 60 } },
    });
  });

  it('names the JSON path of each mistake', () => {
    const error = (etcd: unknown) => {
      const r = parseConfig(JSON.stringify({ etcd }));
      return r.ok ? 'accepted' : r.error;
    };
    expect(error({ endpoints: ['http://127.0.0.1:2379'], leaseTtlSec: 1 })).toBe('etcd.leaseTtlSec: must be at least 2');
    expect(error({ endpoints: ['http://127.0.0.1:2379'], leaseTtlSec: 61 })).toBe('etcd.leaseTtlSec: must be at most 60');
    expect(error({ endpoints: ['http://127.0.0.1:2379'], leaseTtlSec: 2.5 })).toMatch(/^etcd\.leaseTtlSec: /);
    expect(error({ endpoints: [] })).toMatch(/^etcd\.endpoints: must have at least 1/);
    expect(error({ endpoints: ['127.0.0.1:2379'] })).toMatch(/^etcd\.endpoints\[0\]: must be an http:\/\/ or https:\/\/ URL/);
    expect(error({ endpoints: ['http://a:2379'], prefix: 'volwarden' })).toMatch(/^etcd\.prefix: must start and end with "\/"/);
    expect(error({ endpoints: ['http://a:2379'], ttl: 5 })).toBe('etcd.ttl: unknown key');
    expect(error({ endpoints: ['http://a:2379'], tls: { caFile: 'ca.pem' } })).toBe('etcd.endpoints: with "tls", every endpoint must be https://');
    expect(error({ endpoints: ['https://a:2379'], tls: { caFile: 'ca.pem', certFile: 'c.pem' } })).toMatch(/^etcd\.tls: certFile and keyFile go together/);
    expect(error({ prefix: '/x/' })).toBe('etcd.endpoints: is required');
  });
});

describe('the library etcd option', () => {
  it('takes the same block, with the same defaults', () => {
    expect(parseEtcdOptions({ endpoints: ['http://127.0.0.1:2379'] })).toEqual({ endpoints: ['http://127.0.0.1:2379'], prefix: '/volwarden/', leaseTtlSec: 5 });
  });

  it('makes createWarden throw EINVAL naming the path of the first mistake', () => {
    expect(() => createWarden({ etcd: { endpoints: ['http://127.0.0.1:2379'], leaseTtlSec: 0 } })).toThrow(
      expect.objectContaining({ code: 'EINVAL', message: 'etcd.leaseTtlSec: must be at least 2' }),
    );
    expect(() => createWarden({ etcd: 'http://127.0.0.1:2379' as never })).toThrow(expect.objectContaining({ code: 'EINVAL', message: 'etcd: must be an object' }));
  });
});

describe('a manifest lock block', () => {
  it('names a cluster lock', () => {
    expect(parseManifest(manifest({ cluster: 'shared-disk.v2_A' }))).toMatchObject({ ok: true, manifest: { lock: { cluster: 'shared-disk.v2_A' } } });
    expect(parseManifest(manifest({ cluster: 'x'.repeat(128) })).ok).toBe(true);
  });

  it('refuses a bad name or an unknown key, naming the path', () => {
    const error = (lock: unknown) => {
      const r = parseManifest(manifest(lock));
      return r.ok ? 'accepted' : r.error;
    };
    expect(error({ cluster: 'a/b' })).toBe('lock.cluster: must match ^[A-Za-z0-9._-]{1,128}$');
    expect(error({ cluster: '' })).toBe('lock.cluster: must match ^[A-Za-z0-9._-]{1,128}$');
    expect(error({ cluster: 'x'.repeat(129) })).toBe('lock.cluster: must match ^[A-Za-z0-9._-]{1,128}$');
    expect(error({ cluster: 'ok', mode: 'shared' })).toBe('lock.mode: unknown key');
    expect(error({})).toBe('lock.cluster: is required');
    expect(error('shared-disk')).toBe('lock: must be an object');
  });
});
