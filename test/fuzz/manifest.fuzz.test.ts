import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeFs } from '../../src/adapters/fs.js';
import { MemoryFs } from '../../src/adapters/fs.memory.js';
import type { FsAdapter } from '../../src/adapters/types.js';
import { confinePath, resolveRoot } from '../../src/manifest/confine.js';
import { loadManifest } from '../../src/manifest/load.js';
import { checkRelativePath, globBase, isGlobPattern, isInside, MAX_PATH_BYTES, normalizeRelative } from '../../src/manifest/path-rules.js';
import { MANIFEST_FILE, parseManifest, type Manifest } from '../../src/manifest/schema.js';
import { checkStaleness } from '../../src/manifest/staleness.js';

/**
 * SPEC §3: the manifest is untrusted input. Random JSON and manifest-shaped objects full of
 * adversarial paths never make the parser throw, every refusal names the JSON path of the problem,
 * nothing accepted can leave the root, and at use time (symlinks, chains, loops, other devices, on
 * MemoryFs and on a real directory) staleness never counts or names a file outside the volume.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 7_321);
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);

/** Paths meant to escape, confuse or overflow: `..`, absolute, NUL, > 4096 bytes, globs, unicode. */
const ADVERSARIAL = [
  '', '.', './', '..', '../', '../x', 'a/../../b', 'a/b/../../..', 'a/./../..', '/', '/etc/passwd', '//x', '/..',
  'a\u0000b', '\u0000', 'a\\..\\..\\b', '..\\x', 'C:\\x', '~', '~/x', './a', 'a/./b', 'a//b', 'a/', 'src/../src',
  '*', '**', '../*', '**/../x', '{..,x}/y', '..{,}/x', '@(..)/x', '!src', '!(src)', '[a-z]', '[', '?', 'src/*.txt',
  '.volwarden.json', './.volwarden.json', 'x/../.volwarden.json', '\u00e9/\u{1f600}', '\u202e.txt', '\ud800',
  'a'.repeat(MAX_PATH_BYTES), 'a'.repeat(MAX_PATH_BYTES + 1), '\u00e9'.repeat(2049), 'a/'.repeat(2048), '../'.repeat(50),
];

const SEGMENTS = ['..', '.', '', 'a', 'src', 'cache', '*', '**', '\\', '\u0000', 'link-out', 'b c', '\u00e9', '{a,..}', '~'];

const adversarialPath = fc.oneof(
  { arbitrary: fc.constantFrom(...ADVERSARIAL), weight: 4 },
  { arbitrary: fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 6 }).map((parts) => parts.join('/')), weight: 4 },
  { arbitrary: fc.string({ maxLength: 20 }), weight: 1 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 12 }), weight: 1 },
);

const cacheName = fc.oneof(fc.constantFrom('out', 'docs-index', 'a.b_c', 'x'.repeat(64), 'x'.repeat(65), '', 'a b', '../x'), fc.string({ maxLength: 8 }));

/** Objects shaped like a manifest, each field sometimes wrong, sometimes missing, plus stray keys. */
const manifestShaped = fc.record(
  {
    version: fc.oneof({ arbitrary: fc.constant(1), weight: 8 }, { arbitrary: fc.jsonValue({ maxDepth: 1 }), weight: 1 }),
    caches: fc.oneof(
      { arbitrary: fc.array(fc.record({ name: cacheName, output: adversarialPath, sources: fc.array(adversarialPath, { maxLength: 4 }) }, { requiredKeys: ['name', 'output', 'sources'] }), { maxLength: 4 }), weight: 8 },
      { arbitrary: fc.array(fc.record({ name: cacheName, output: adversarialPath, sources: fc.array(adversarialPath, { maxLength: 3 }), extra: fc.jsonValue() }, { requiredKeys: [] }), { maxLength: 3 }), weight: 1 },
      { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 1 },
    ),
    watch: fc.array(adversarialPath, { maxLength: 3 }),
    installerPidFile: adversarialPath,
    command: fc.oneof(fc.constant(['./build.sh']), fc.array(fc.string({ unit: 'binary', maxLength: 8 }), { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
    rebuilder: fc.oneof(fc.constant('docs'), fc.string({ maxLength: 4 })),
    lockMode: fc.constantFrom('daemon', 'helper', 'other', 1),
    timeoutSec: fc.oneof(fc.integer({ min: -2, max: 10_000 }), fc.constantFrom(0, 2 ** 31, 1.5, 1e308)),
    settleMs: fc.oneof(fc.nat(10_000), fc.constantFrom(-1, 2 ** 31, 0.5)),
    maxFailures: fc.integer({ min: -1, max: 10 }),
    ['b a d key']: fc.jsonValue({ maxDepth: 1 }),
  },
  { requiredKeys: [] },
);

/** Mostly accepted manifests: `command`, valid names, one to three caches, paths from `pathPool`. */
function plausibleManifest(pathPool: fc.Arbitrary<string>): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .record({
      caches: fc.uniqueArray(
        fc.record({ name: fc.constantFrom('a', 'b', 'c', 'd'), output: pathPool, sources: fc.array(pathPool, { minLength: 1, maxLength: 4 }) }),
        { minLength: 1, maxLength: 3, selector: (c) => c.name },
      ),
      watch: fc.option(fc.array(pathPool, { maxLength: 2 }), { nil: undefined }),
      installerPidFile: fc.option(pathPool, { nil: undefined }),
    })
    .map(({ caches, watch, installerPidFile }) => ({
      version: 1,
      caches,
      command: ['./build.sh'],
      ...(watch !== undefined ? { watch } : {}),
      ...(installerPidFile !== undefined ? { installerPidFile } : {}),
    }));
}

const KEY = String.raw`(?:[A-Za-z_$][\w$]*|\[\d+\]|\["(?:[^"\\]|\\.)*"\])`;
const JSON_PATH_PREFIX = new RegExp(String.raw`^(\(root\)|${KEY}(?:\.[A-Za-z_$][\w$]*|\[\d+\]|\["(?:[^"\\]|\\.)*"\])*): \S`);

/** Splits a reported JSON path back into keys (`caches[2].output` → ['caches', 2, 'output']). */
function parsePath(p: string): Array<string | number> {
  if (p === '(root)') return [];
  const keys: Array<string | number> = [];
  const re = /\.?([A-Za-z_$][\w$]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/gy;
  for (let m = re.exec(p); m !== null; m = re.exec(p)) keys.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (JSON.parse(m[3]!) as string)));
  return keys;
}

/** Checks a parse result: an accepted manifest stays inside the root; a refusal names a path into the input. */
function checkParse(input: unknown, text: string): void {
  const result = parseManifest(text);
  if (!result.ok) {
    expect(result.error).toMatch(JSON_PATH_PREFIX);
    if (input === undefined) return;
    const reported = result.error.match(JSON_PATH_PREFIX)![1]!;
    // Every step but the last exists in the input (the last may be the missing key itself).
    let node: unknown = input;
    for (const key of parsePath(reported).slice(0, -1)) {
      expect(node !== null && typeof node === 'object' && Object.prototype.hasOwnProperty.call(node, key), `${reported} in ${text.slice(0, 200)}`).toBe(true);
      node = (node as Record<string | number, unknown>)[key];
    }
    return;
  }
  for (const p of manifestPaths(result.manifest)) expectConfinedStatically(p);
  for (const cache of result.manifest.caches) {
    expect(isGlobPattern(cache.output)).toBe(false);
    expect(normalizeRelative(cache.output)).not.toBe('.');
  }
}

function manifestPaths(m: Manifest): string[] {
  return [
    ...m.caches.flatMap((c) => [c.output, ...c.sources]),
    ...(m.watch ?? []),
    ...(m.installerPidFile !== undefined ? [m.installerPidFile] : []),
  ];
}

function expectConfinedStatically(p: string): void {
  expect(checkRelativePath(p)).toBeNull();
  expect(p.includes('\0')).toBe(false);
  expect(Buffer.byteLength(p)).toBeLessThanOrEqual(MAX_PATH_BYTES);
  expect(path.posix.isAbsolute(p)).toBe(false);
  const root = '/volume/root';
  expect(isInside(path.posix.resolve(root, p), root), p).toBe(true);
  expect(isInside(path.posix.resolve(root, normalizeRelative(p)), root), p).toBe(true);
  if (isGlobPattern(p)) expect(isInside(path.posix.resolve(root, globBase(p)), root), p).toBe(true);
}

describe('parseManifest on hostile input', () => {
  it('never throws on random JSON, and every refusal starts with the JSON path of the problem', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => checkParse(value, JSON.stringify(value) ?? 'null')),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('never throws on random bytes or text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), fc.string({ unit: 'binary', maxLength: 200 })), (data) => {
        const result = parseManifest(data);
        if (!result.ok) expect(result.error).toMatch(/^\(root\): /);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('accepts no manifest-shaped object with a path that escapes the root, and names the path of each refusal', () => {
    let accepted = 0;
    fc.assert(
      fc.property(manifestShaped, (shaped) => {
        checkParse(shaped, JSON.stringify(shaped));
        if (parseManifest(JSON.stringify(shaped)).ok) accepted++;
      }),
      { numRuns: RUNS * 2, seed: SEED },
    );
    // Most shaped objects have some wrong field; plausible ones below exercise acceptance.
    let plausibleAccepted = 0;
    fc.assert(
      fc.property(plausibleManifest(adversarialPath), (m) => {
        checkParse(m, JSON.stringify(m));
        if (parseManifest(JSON.stringify(m)).ok) plausibleAccepted++;
      }),
      { numRuns: RUNS, seed: SEED },
    );
    expect(accepted + plausibleAccepted).toBeGreaterThan(RUNS / 20);
  });

  it('refuses a manifest over 1 MiB without parsing it', () => {
    const big = JSON.stringify({ version: 1, pad: 'x'.repeat(1024 * 1024) });
    expect(parseManifest(big)).toEqual({ ok: false, error: 'manifest is larger than 1 MiB' });
  });
});

// ---------------------------------------------------------------- use time: symlinks and devices

/** Names inside the volume that lead outside, loop, dangle or cross a device, plus honest ones. */
const TREE_PATHS = [
  'src', 'src/a.txt', 'src/*.txt', 'src/**', 'src/up', 'src/inner', '**', '*', '**/*.txt', 'cache', 'cache/out.txt',
  'link-out', 'link-out/secret.txt', 'link-out/*', 'link-file', 'chain1', 'chain1/f.txt', 'chain1/**', 'loop1', 'loop1/x',
  'dangling', 'dangling/x', 'mnt', 'mnt/dev.txt', 'mnt/**', 'self', 'self/src', 'self/src/a.txt', 'self/link-out/secret.txt',
  'abs-link', 'missing/out', 'out-dir-link/out', 'link-out/../src/a.txt', 'src/../link-out', 'nested/deep', 'nested/**',
];
const treePath = fc.oneof({ arbitrary: fc.constantFrom(...TREE_PATHS), weight: 6 }, { arbitrary: adversarialPath, weight: 1 });

/** Files outside the volume (and on the other device) are the newest: counting any of them would show. */
const OLD = 1_000_000_000n;
const OUTPUT_TIME = 5_000_000_000n;
const NEWEST = 9_000_000_000n;

function memoryVolume(): { fs: MemoryFs; root: string } {
  const fs = new MemoryFs();
  fs.writeFile('/vol/src/a.txt', 'a', { mtimeNs: OLD });
  fs.writeFile('/vol/nested/deep/b.txt', 'b', { mtimeNs: OLD + 1n });
  fs.writeFile('/vol/cache/out.txt', 'out', { mtimeNs: OUTPUT_TIME });
  fs.writeFile('/vol/build.sh', '#!/bin/sh\n', { mtimeNs: OLD });
  fs.writeFile('/outside/secret.txt', 's', { mtimeNs: NEWEST });
  fs.writeFile('/outside/dir/f.txt', 'f', { mtimeNs: NEWEST });
  fs.writeFile('/vol/mnt/dev.txt', 'd', { mtimeNs: NEWEST });
  fs.setDevice('/vol/mnt', 2);
  fs.symlink('/outside', '/vol/link-out');
  fs.symlink('../outside/secret.txt', '/vol/link-file');
  fs.symlink('/vol/chain2', '/vol/chain1');
  fs.symlink('chain3', '/vol/chain2');
  fs.symlink('/outside/dir', '/vol/chain3');
  fs.symlink('loop2', '/vol/loop1');
  fs.symlink('loop1', '/vol/loop2');
  fs.symlink('/nowhere/at/all', '/vol/dangling');
  fs.symlink('../../outside/secret.txt', '/vol/src/up');
  fs.symlink('../src/a.txt', '/vol/src/inner');
  fs.symlink('/vol', '/vol/self');
  fs.symlink('/etc/passwd', '/vol/abs-link');
  fs.symlink('/outside/dir', '/vol/out-dir-link');
  fs.symlink('/vol/mnt/dev.txt', '/vol/nested/deep/to-mnt');
  fs.writeFile(`/vol/${MANIFEST_FILE}`, '{}', { mtimeNs: OLD });
  return { fs, root: '/vol' };
}

/**
 * Runs a staleness check and asserts SPEC §3 confinement: it resolves, every stale reason names a
 * file that really lies inside the root on the root's device, and every problem names its entry.
 */
async function expectConfinedStaleness(fs: FsAdapter, root: string, manifest: Manifest, rootDev: number | null): Promise<void> {
  const report = await checkStaleness(fs, root, manifest, OLD);
  const realRoot = (await fs.realpath(root))!;
  for (const { name, reason } of report.stale) {
    expect(manifest.caches.some((c) => c.name === name)).toBe(true);
    if (reason === 'output missing') continue;
    const m = /^(.+) is newer than (.+)$/s.exec(reason);
    expect(m, reason).not.toBeNull();
    const file = m![1]!;
    if (file === MANIFEST_FILE) continue;
    expect(path.isAbsolute(file), reason).toBe(false);
    const real = await fs.realpath(path.join(root, file));
    expect(real !== null && isInside(real, realRoot), `${reason} → ${real}`).toBe(true);
    const stat = await fs.stat(real!);
    expect(stat?.kind, reason).toBe('file');
    if (rootDev !== null) expect(stat!.dev, reason).toBe(rootDev);
    // Only files newer than the output count, and every outside or other-device file is the newest of all.
    expect(stat!.mtimeNs < NEWEST, `${reason}: a file outside the volume or on another device was counted`).toBe(true);
  }
  for (const p of report.problems) expect(p).toMatch(/^caches\[\d+\]\.(output|sources\[\d+\]) \(".*"\): \S/s);
}

describe('use-time confinement on MemoryFs (symlinks out, chains, loops, another device)', () => {
  it('checkStaleness never throws and never counts or names a file outside the root', async () => {
    await fc.assert(
      fc.asyncProperty(plausibleManifest(treePath), async (shaped) => {
        const parsed = parseManifest(JSON.stringify(shaped));
        fc.pre(parsed.ok);
        if (!parsed.ok) return;
        const { fs, root } = memoryVolume();
        await expectConfinedStaleness(fs, root, parsed.manifest, 1);
        // The same volume seen through a symlinked root.
        fs.symlink('/vol', '/vol-alias');
        await expectConfinedStaleness(fs, '/vol-alias', parsed.manifest, 1);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('confinePath only ever answers a real path inside the root on its device', async () => {
    const { fs, root } = memoryVolume();
    const confined = (await resolveRoot(fs, root))!;
    await fc.assert(
      fc.asyncProperty(treePath, async (rel) => {
        const r = await confinePath(fs, confined, rel, 'caches[0].sources[0]');
        if (!r.ok) {
          expect(r.reason.startsWith(`caches[0].sources[0] (${JSON.stringify(rel)}): `)).toBe(true);
          return;
        }
        expect(isInside(r.real, confined.real), `${rel} → ${r.real}`).toBe(true);
        expect(isInside(r.abs, root), `${rel} → ${r.abs}`).toBe(true);
        const stat = await fs.stat(r.real);
        if (stat !== null) expect(stat.dev, rel).toBe(confined.dev);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('loadManifest never throws on hostile manifest files, links and contents', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('file', 'link-out', 'link-in', 'dir', 'unreadable', 'huge', 'foreign'),
        fc.oneof(manifestShaped.map((m) => JSON.stringify(m)), fc.string({ unit: 'binary', maxLength: 100 })),
        async (shape, content) => {
          const { fs, root } = memoryVolume();
          const manifestPath = `${root}/${MANIFEST_FILE}`;
          fs.remove(manifestPath);
          if (shape === 'file') fs.writeFile(manifestPath, content, { uid: 0, mode: 0o644 });
          if (shape === 'foreign') fs.writeFile(manifestPath, content, { uid: 4242, mode: 0o666 });
          if (shape === 'huge') fs.writeFile(manifestPath, 'x'.repeat(1024 * 1024 + 1));
          if (shape === 'dir') fs.mkdir(manifestPath);
          if (shape === 'unreadable') {
            fs.writeFile(manifestPath, content);
            fs.setReadError(manifestPath, 'EACCES: permission denied');
          }
          if (shape === 'link-out') {
            fs.writeFile('/outside/m.json', content);
            fs.symlink('/outside/m.json', manifestPath);
          }
          if (shape === 'link-in') {
            fs.writeFile('/vol/etc/m.json', content);
            fs.symlink('etc/m.json', manifestPath);
          }
          const load = await loadManifest(fs, root, { daemonUid: 0, rebuilders: new Set(['docs']), inProcessRebuild: false });
          expect(['ok', 'invalid']).toContain(load.kind);
          if (load.kind === 'invalid') expect(load.error.length).toBeGreaterThan(0);
          if (shape === 'link-out' || shape === 'huge' || shape === 'dir' || shape === 'unreadable') expect(load.kind).toBe('invalid');
          if (shape === 'foreign' && load.kind === 'ok') expect(load.manifest.command).toBeUndefined();
          if (load.kind === 'ok') for (const p of manifestPaths(load.manifest)) expectConfinedStatically(p);
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
  });
});

describe('use-time confinement on a real directory with real symlinks', () => {
  let base: string;
  let root: string;

  beforeAll(() => {
    base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'vw-mfz-')));
    root = path.join(base, 'vol');
    const outside = path.join(base, 'outside');
    const file = (p: string, ns: bigint) => {
      mkdirSync(path.dirname(p), { recursive: true });
      writeFileSync(p, 'x');
      const s = Number(ns / 1_000_000_000n);
      utimesSync(p, s, s);
    };
    file(path.join(root, 'src', 'a.txt'), OLD);
    file(path.join(root, 'nested', 'deep', 'b.txt'), OLD + 1_000_000_000n);
    file(path.join(root, 'cache', 'out.txt'), OUTPUT_TIME);
    file(path.join(outside, 'secret.txt'), NEWEST);
    file(path.join(outside, 'dir', 'f.txt'), NEWEST);
    file(path.join(root, MANIFEST_FILE), OLD);
    mkdirSync(path.join(root, 'mnt'));
    symlinkSync(outside, path.join(root, 'link-out'));
    symlinkSync('../outside/secret.txt', path.join(root, 'link-file'));
    symlinkSync(path.join(root, 'chain2'), path.join(root, 'chain1'));
    symlinkSync('chain3', path.join(root, 'chain2'));
    symlinkSync(path.join(outside, 'dir'), path.join(root, 'chain3'));
    symlinkSync('loop2', path.join(root, 'loop1'));
    symlinkSync('loop1', path.join(root, 'loop2'));
    symlinkSync('/nowhere/at/all', path.join(root, 'dangling'));
    symlinkSync('../../outside/secret.txt', path.join(root, 'src', 'up'));
    symlinkSync('../src/a.txt', path.join(root, 'src', 'inner'));
    symlinkSync(root, path.join(root, 'self'));
    symlinkSync('/etc/passwd', path.join(root, 'abs-link'));
    symlinkSync(path.join(outside, 'dir'), path.join(root, 'out-dir-link'));
    // A link onto another file system (/proc), which also lies outside the volume.
    symlinkSync('/proc/self', path.join(root, 'mnt', 'proc'));
  });

  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('checkStaleness never throws and never counts or names a file outside the root', async () => {
    const fs = createNodeFs();
    const rootDev = (await fs.stat(root))!.dev;
    await fc.assert(
      fc.asyncProperty(plausibleManifest(fc.oneof(treePath, fc.constantFrom('mnt/proc', 'mnt/proc/status', 'mnt/**'))), async (shaped) => {
        const parsed = parseManifest(JSON.stringify(shaped));
        fc.pre(parsed.ok);
        if (!parsed.ok) return;
        await expectConfinedStaleness(fs, root, parsed.manifest, rootDev);
      }),
      { numRuns: Math.ceil(RUNS / 4), seed: SEED },
    );
  });
});
