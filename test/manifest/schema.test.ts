import { describe, expect, it } from 'vitest';
import { MAX_MANIFEST_BYTES, parseManifest } from '../../src/manifest/schema.js';

const cache = { name: 'docs-index', output: 'cache/docs.idx', sources: ['docs', 'extra/*.md'] };
const valid = { version: 1, caches: [cache], rebuilder: 'docs' };

function errorOf(input: unknown): string {
  const result = parseManifest(typeof input === 'string' ? input : JSON.stringify(input));
  if (result.ok) throw new Error('expected the manifest to be rejected');
  return result.error;
}

describe('parseManifest', () => {
  it('accepts the manifest from the spec and applies defaults', () => {
    const result = parseManifest(Buffer.from(JSON.stringify(valid)));
    expect(result).toEqual({
      ok: true,
      manifest: { version: 1, caches: [cache], rebuilder: 'docs', lockMode: 'daemon' },
    });
  });

  it('accepts every optional field', () => {
    const full = {
      version: 1,
      caches: [cache],
      watch: ['etc/docs.conf'],
      command: ['./tools/build-index.sh', '--fast'],
      lockMode: 'helper',
      timeoutSec: 600,
      installerPidFile: 'run/installer.pid',
      settleMs: 0,
      maxFailures: 5,
      maxAttempts: 25,
    };
    expect(parseManifest(JSON.stringify(full))).toEqual({ ok: true, manifest: full });
  });

  it('reports text that is not JSON at the root', () => {
    expect(errorOf('{"version": 1,')).toMatch(/^\(root\): not valid JSON: /);
  });

  it('reports bytes that are not UTF-8 at the root', () => {
    expect(parseManifest(Buffer.from([0x7b, 0xff, 0x7d]))).toEqual({ ok: false, error: '(root): not valid UTF-8' });
  });

  it('rejects a manifest larger than 1 MiB before parsing it', () => {
    const big = JSON.stringify({ ...valid, pad: 'x'.repeat(MAX_MANIFEST_BYTES) });
    expect(errorOf(big)).toBe('manifest is larger than 1 MiB');
  });

  it('requires an object at the root', () => {
    expect(errorOf('[1]')).toBe('(root): must be an object');
  });

  it('requires version 1', () => {
    expect(errorOf({ ...valid, version: 2 })).toBe('version: must be 1');
    expect(errorOf({ caches: [cache], rebuilder: 'docs' })).toBe('version: is required');
  });

  it('names unknown keys at any depth', () => {
    expect(errorOf({ ...valid, extra: true })).toBe('extra: unknown key');
    expect(errorOf({ ...valid, caches: [cache, { ...cache, name: 'b', nmae: 'x' }] })).toBe('caches[1].nmae: unknown key');
  });

  it('reports a typo before the missing key it causes', () => {
    expect(errorOf({ version: 1, caches: [{ nmae: 'x', output: 'o', sources: ['s'] }], rebuilder: 'r' })).toBe(
      'caches[0].nmae: unknown key',
    );
  });

  it('reports the first problem in document order', () => {
    expect(errorOf({ version: 1, caches: [{ ...cache, output: '/abs' }], timeoutSec: -1, rebuilder: 'r' })).toBe(
      'caches[0].output: must be a relative path',
    );
    expect(errorOf({ timeoutSec: 0, version: 1, caches: [{ ...cache, output: '/abs' }], rebuilder: 'r' })).toBe(
      'timeoutSec: must be greater than 0',
    );
  });

  it('requires 1 to 256 caches', () => {
    expect(errorOf({ ...valid, caches: [] })).toBe('caches: must have at least 1 entry');
    const many = Array.from({ length: 257 }, (_, i) => ({ ...cache, name: `c${i}` }));
    expect(errorOf({ ...valid, caches: many })).toBe('caches: must have at most 256 entries');
  });

  it('checks cache names against the pattern and for uniqueness', () => {
    expect(errorOf({ ...valid, caches: [{ ...cache, name: 'a b' }] })).toBe('caches[0].name: must match ^[A-Za-z0-9._-]{1,64}$');
    expect(errorOf({ ...valid, caches: [{ ...cache, name: 'x'.repeat(65) }] })).toMatch(/^caches\[0\]\.name: must match/);
    expect(errorOf({ ...valid, caches: [cache, { ...cache }] })).toBe('caches[1].name: duplicate cache name "docs-index"');
  });

  it('applies the path rules to the output', () => {
    const withOutput = (output: unknown) => ({ ...valid, caches: [{ ...cache, output }] });
    expect(errorOf(withOutput('/abs/out'))).toBe('caches[0].output: must be a relative path');
    expect(errorOf(withOutput('a/../../out'))).toBe('caches[0].output: must not escape the volume root');
    expect(errorOf(withOutput('a\u0000b'))).toBe('caches[0].output: must not contain NUL');
    expect(errorOf(withOutput('é'.repeat(2049)))).toBe('caches[0].output: must be at most 4096 bytes');
    expect(errorOf(withOutput(''))).toBe('caches[0].output: must not be empty');
    expect(errorOf(withOutput('out/*.idx'))).toBe('caches[0].output: must be one path, not a glob pattern');
    expect(errorOf(withOutput('./'))).toBe('caches[0].output: must name a path inside the volume root, not the root itself');
    expect(errorOf(withOutput(['a', 'b']))).toBe('caches[0].output: must be a string');
  });

  it('accepts a path that leaves a directory but not the root', () => {
    expect(parseManifest(JSON.stringify({ ...valid, caches: [{ ...cache, output: 'a/../out' }] })).ok).toBe(true);
  });

  it('requires 1 to 256 sources, each a relative path or a glob', () => {
    const withSources = (sources: unknown) => ({ ...valid, caches: [{ ...cache, sources }] });
    expect(errorOf(withSources([]))).toBe('caches[0].sources: must have at least 1 entry');
    expect(errorOf(withSources(Array.from({ length: 257 }, (_, i) => `s${i}`)))).toBe('caches[0].sources: must have at most 256 entries');
    expect(errorOf(withSources(['docs', '../secrets']))).toBe('caches[0].sources[1]: must not escape the volume root');
    expect(errorOf(withSources(['../*.md']))).toBe('caches[0].sources[0]: must not escape the volume root');
    expect(errorOf(withSources(['!docs/*.md']))).toBe('caches[0].sources[0]: must not be a negated pattern');
    expect(parseManifest(JSON.stringify(withSources(['**/*.md', 'a/{b,c}/d', '.']))).ok).toBe(true);
  });

  it('applies the path rules to watch entries and the installer pid file', () => {
    expect(errorOf({ ...valid, watch: ['ok', '/etc/passwd'] })).toBe('watch[1]: must be a relative path');
    expect(errorOf({ ...valid, installerPidFile: '../run.pid' })).toBe('installerPidFile: must not escape the volume root');
  });

  it('requires exactly one of rebuilder or command', () => {
    const neither = { version: 1, caches: [cache] };
    expect(errorOf(neither)).toBe('(root): exactly one of "rebuilder" or "command" is required');
    expect(errorOf({ ...valid, command: ['x'] })).toBe('(root): exactly one of "rebuilder" or "command" is required');
  });

  it('requires command to be a non-empty argv of strings', () => {
    const withCommand = (command: unknown) => ({ version: 1, caches: [cache], command });
    expect(errorOf(withCommand([]))).toBe('command: must have at least 1 entry');
    expect(errorOf(withCommand(['']))).toBe('command[0]: must not be empty');
    expect(errorOf(withCommand(['ok', 3]))).toBe('command[1]: must be a string');
    expect(errorOf(withCommand('make'))).toBe('command: must be an array');
    expect(parseManifest(JSON.stringify(withCommand(['make', '']))).ok).toBe(true);
  });

  it('restricts lockMode to daemon or helper', () => {
    expect(errorOf({ ...valid, lockMode: 'kernel' })).toBe('lockMode: must be one of "daemon", "helper"');
  });

  it('requires timeoutSec to be a positive integer', () => {
    expect(errorOf({ ...valid, timeoutSec: 0 })).toBe('timeoutSec: must be greater than 0');
    expect(errorOf({ ...valid, timeoutSec: 1.5 })).toBe('timeoutSec: must be an integer');
    expect(errorOf({ ...valid, timeoutSec: '60' })).toBe('timeoutSec: must be a number');
  });

  it('requires the overrides to be non-negative integers', () => {
    expect(errorOf({ ...valid, settleMs: -1 })).toBe('settleMs: must be at least 0');
    expect(errorOf({ ...valid, maxFailures: 0.5 })).toBe('maxFailures: must be an integer');
    expect(errorOf({ ...valid, maxAttempts: null })).toBe('maxAttempts: must be a number');
  });

  it('treats a __proto__ key as an unknown key, not a prototype', () => {
    expect(errorOf('{"version":1,"caches":[{"name":"a","output":"o","sources":["s"]}],"rebuilder":"r","__proto__":{}}')).toBe(
      '__proto__: unknown key',
    );
  });
});
