import fc from 'fast-check';
import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { checkGlobPattern, compileGlob, couldMatchBelow, globBase, isGlobPattern, matchGlob, type GlobMeter } from '../../src/manifest/glob.js';
import { parseManifest } from '../../src/manifest/schema.js';

const matches = (pattern: string, rel: string): boolean => matchGlob(compileGlob(pattern), rel);

/** The bound the VM promises: at most 2 × (characters + 1) × instructions steps. */
function expectLinear(pattern: string, rel: string): number {
  const glob = compileGlob(pattern);
  const meter: GlobMeter = { steps: 0 };
  matchGlob(glob, rel, meter);
  expect(meter.steps).toBeLessThanOrEqual(2 * (Array.from(rel).length + 1) * glob.program.length);
  return meter.steps;
}

describe('glob matching', () => {
  it.each([
    ['src/*.txt', 'src/a.txt', true],
    ['src/*.txt', 'src/sub/a.txt', false],
    ['src/**', 'src', true],
    ['src/**', 'src/a/b', true],
    ['src/**', 'src/.git/b', false],
    ['**/*.md', 'a.md', true],
    ['**/*.md', 'x/y/a.md', true],
    ['**/*.md', '.x/a.md', false],
    ['src/**/a', 'src/a', true],
    ['src/**/a', 'src/x/y/a', true],
    ['*.txt', '.txt', false],
    ['src/.*', 'src/.h', true],
    ['?x', '.x', false],
    ['[.]x', '.x', true],
    ['[a-c]', 'b', true],
    ['[!a]', 'b', true],
    ['[!a]', 'a', false],
    ['[[:digit:]]x', '7x', true],
    ['x/[]]', 'x/]', true],
    ['a{1..3}', 'a2', true],
    ['a{01..10}', 'a07', true],
    ['{a,b}/*', 'b/x', true],
    ['{a,{b,c}}', 'c', true],
    ['a{,b}', 'a', true],
    ['a**b', 'ax/yb', false],
    ['a\\*', 'a*', true],
    ['a\\*', 'ab', false],
    ['docs/{intro,guide}/**/*.md', 'docs/guide/x/y.md', true],
  ])('%s against %s is %s', (pattern, rel, expected) => {
    expect(matches(pattern, rel)).toBe(expected);
  });

  it('agrees with picomatch on the syntax both share', () => {
    // Where they differ on purpose: picomatch reads `[!a]` as a class of "!" and "a" (POSIX: not
    // "a"); `**` glued to other characters; a `*` after an empty brace alternative at a segment
    // start may match a leading dot there; `*/**` covers a top directory itself as `src/**` does
    // in both. The generator leaves those out.
    const token = fc.constantFrom('a', 'b', '.', '*', '?', '[ab]', '[^a]', '{a,b}', '{a,.b}', '{1..3}', '1', '[.]');
    const segment = fc.array(token, { minLength: 1, maxLength: 3 }).map((t) => t.join(''));
    const pattern = fc.array(fc.oneof(segment, fc.constant('**')), { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));
    const name = fc.constantFrom('a', 'b', '.a', 'ab', 'a.b', 'ba', '1', '2', 'aa', '.b');
    const rel = fc.array(name, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));
    fc.assert(
      fc.property(pattern, rel, (p, r) => {
        if (p.startsWith('.') || /\{,/.test(p) || p.endsWith('/**')) return;
        expect(matches(p, r), `${p} against ${r}`).toBe(picomatch(p)(r));
      }),
      { numRuns: 3000, seed: 17 },
    );
  });

  it('takes steps linear in the path on patterns that made picomatch backtrack', () => {
    const starsThenB = `src/${'*a'.repeat(14)}b`;
    const short = expectLinear(starsThenB, `src/${'a'.repeat(64)}`);
    const long = expectLinear(starsThenB, `src/${'a'.repeat(128)}`);
    // Twice the characters, about twice the steps (quadratic would be 4×; a backtracking matcher, far more).
    expect(long).toBeLessThan(short * 2.5);
    expectLinear(`${'{a,'.repeat(40)}b${'}'.repeat(40)}/**/x`, `${'a/'.repeat(100)}y`);
    expectLinear('**/**/**/**/**/**/**/**/z', `${'a/'.repeat(200)}b`);
  });

  it('keeps its step bound on any pattern and path (property)', () => {
    const piece = fc.constantFrom('a', '*', '?', '**', '/', '{a,*}', '{,a*}', '[a-z]', '.', '{1..20}');
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 30 }), fc.stringMatching(/^[a./]{0,80}$/), (pieces, rel) => {
        const p = pieces.join('');
        if (checkGlobPattern(p) !== null) return;
        expectLinear(p, rel);
      }),
      { numRuns: 500, seed: 3 },
    );
  });

  it('tells which directories can hold a match, so walks skip the rest', () => {
    const glob = compileGlob('src/*/x/*.txt');
    expect(couldMatchBelow(glob, 'src/a')).toBe(true);
    expect(couldMatchBelow(glob, 'src/a/x')).toBe(true);
    expect(couldMatchBelow(glob, 'src/a/y')).toBe(false);
    expect(couldMatchBelow(compileGlob('**/*.md'), 'a/b/c')).toBe(true);
    expect(couldMatchBelow(compileGlob('**/*.md'), '.git')).toBe(false);
  });
});

describe('glob syntax', () => {
  it('refuses extglobs, naming the construct and what to use instead', () => {
    for (const p of ['src/*(a)b', 'x/+(a|b)', '?(a)', '@(a)', 'a/!(b)']) {
      expect(checkGlobPattern(p), p).toMatch(/^must not use the extglob ".\(…\)": .*use \*, \?, \[\.\.\.\] or \{a,b\}/);
    }
    expect(checkGlobPattern('src/\\*(a)')).toBeNull();
  });

  it('refuses the issue 17 pattern in a manifest with its JSON path', () => {
    const evil = `src/${'*(a)'.repeat(14)}b`;
    const parsed = parseManifest(JSON.stringify({ version: 1, caches: [{ name: 'c', output: 'out', sources: ['src', evil] }], command: ['./b'] }));
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.error).toMatch(/^caches\[0\]\.sources\[1\]: must not use the extglob "\*\(…\)"/);
  });

  it('refuses negations, oversized ranges and unknown classes', () => {
    expect(checkGlobPattern('!src/*')).toBe('must not be a negated pattern');
    expect(checkGlobPattern('a{1..5000}')).toMatch(/more than 256 values/);
    expect(checkGlobPattern('*a'.repeat(600))).toMatch(/^is too complex a glob pattern \(more than 1024 parts\)/);
    expect(checkGlobPattern('[[:nope:]]')).toMatch(/unknown character class/);
  });

  it('reads parentheses, unclosed brackets and lone braces as plain names', () => {
    expect(isGlobPattern('docs/file (1).md')).toBe(false);
    expect(isGlobPattern('a[b')).toBe(false);
    expect(isGlobPattern('a{b}')).toBe(false);
    expect(isGlobPattern('a\\*b')).toBe(false);
    expect(isGlobPattern('src/*(a)')).toBe(true);
  });

  it('finds the static base of a glob', () => {
    expect(globBase('extra/*.md')).toBe('extra');
    expect(globBase('*.md')).toBe('.');
    expect(globBase('./a/b/**/x')).toBe('a/b');
    expect(globBase('a/{b,c}/d')).toBe('a');
  });
});
