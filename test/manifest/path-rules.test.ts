import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkRelativePath, globBase, isGlobPattern, isInside, normalizeRelative } from '../../src/manifest/path-rules.js';

const ROOT = '/vol/root';

/** Path-like strings: segments built from the characters that matter (`.`, `/`, NUL, letters). */
const pathLike = fc
  .array(fc.oneof(fc.constantFrom('..', '.', '', 'a', 'b', '...', '\u0000', '/', '//'), fc.string({ maxLength: 4 })), {
    maxLength: 12,
  })
  .map((parts) => parts.join('/'));

describe('checkRelativePath', () => {
  it('accepts plain relative paths', () => {
    expect(checkRelativePath('cache/out.txt')).toBeNull();
    expect(checkRelativePath('a/../b')).toBeNull();
    expect(checkRelativePath('.')).toBeNull();
  });

  it('names what is wrong with a bad path', () => {
    expect(checkRelativePath('')).toBe('must not be empty');
    expect(checkRelativePath('/etc')).toBe('must be a relative path');
    expect(checkRelativePath('..')).toBe('must not escape the volume root');
    expect(checkRelativePath('a/../../b')).toBe('must not escape the volume root');
    expect(checkRelativePath('a\u0000')).toBe('must not contain NUL');
    expect(checkRelativePath('a'.repeat(4096))).toBeNull();
    expect(checkRelativePath('a'.repeat(4097))).toBe('must be at most 4096 bytes');
  });

  it('never passes a path that escapes the root (property)', () => {
    fc.assert(
      fc.property(fc.oneof(pathLike, fc.string(), fc.string({ unit: 'grapheme' })), (p) => {
        if (checkRelativePath(p) !== null) return;
        const resolved = path.posix.resolve(ROOT, p);
        expect(isInside(resolved, ROOT)).toBe(true);
        expect(p.includes('\u0000')).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with path.resolve on paths that start inside a directory and climb (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', '..', '.'), { minLength: 1, maxLength: 8 }), (segments) => {
        const p = segments.join('/');
        const escapes = !isInside(path.posix.resolve(ROOT, p), ROOT);
        expect(checkRelativePath(p) === 'must not escape the volume root').toBe(escapes);
      }),
    );
  });
});

describe('glob helpers', () => {
  it('tells globs from literal paths', () => {
    expect(isGlobPattern('extra/*.md')).toBe(true);
    expect(isGlobPattern('docs/{a,b}')).toBe(true);
    expect(isGlobPattern('docs/a.md')).toBe(false);
  });

  it('finds the static base of a glob', () => {
    expect(globBase('extra/*.md')).toBe('extra');
    expect(globBase('*.md')).toBe('.');
    expect(globBase('./a/b/**/x')).toBe('a/b');
  });

  it('normalises relative paths without a trailing slash', () => {
    expect(normalizeRelative('./docs//a/../b/')).toBe('docs/b');
    expect(normalizeRelative('./')).toBe('.');
  });
});
