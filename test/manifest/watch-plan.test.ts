import { describe, expect, it } from 'vitest';
import { parseManifest, type Manifest } from '../../src/manifest/schema.js';
import { classifyChange, planManifestOnly, planWatch } from '../../src/manifest/watch-plan.js';

function manifest(extra: Record<string, unknown> = {}): Manifest {
  const parsed = parseManifest(
    JSON.stringify({
      version: 1,
      caches: [
        { name: 'docs-index', output: 'cache/docs.idx', sources: ['docs', 'extra/*.md'] },
        { name: 'site', output: 'public', sources: ['docs/site', 'README.md'] },
      ],
      watch: ['etc/docs.conf'],
      installerPidFile: 'run/installer.pid',
      rebuilder: 'docs',
      ...extra,
    }),
  );
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.manifest;
}

describe('planWatch', () => {
  it('watches the manifest, sources, glob bases, watch entries and the installer pid file', () => {
    const plan = planWatch('/vol', manifest());
    expect(plan.spec.root).toBe('/vol');
    expect([...plan.spec.paths].sort()).toEqual(
      ['/vol/.volwarden.json', '/vol/README.md', '/vol/docs', '/vol/etc/docs.conf', '/vol/extra', '/vol/run/installer.pid'].sort(),
    );
    expect(plan.spec.ignored).toEqual(['/vol/cache/docs.idx', '/vol/public']);
  });

  it('watches the root once when a source covers everything', () => {
    const parsed = parseManifest(JSON.stringify({ version: 1, caches: [{ name: 'a', output: 'out', sources: ['./', '*.md'] }], rebuilder: 'r' }));
    if (!parsed.ok) throw new Error(parsed.error);
    expect(planWatch('/vol', parsed.manifest).spec).toEqual({ root: '/vol', paths: ['/vol'], ignored: ['/vol/out'], attributes: ['/vol/.volwarden.json'] });
  });

  it('watches only the manifest of a root without a usable manifest', () => {
    const plan = planManifestOnly('/vol');
    expect(plan.spec).toEqual({ root: '/vol', paths: ['/vol/.volwarden.json'], ignored: [], attributes: ['/vol/.volwarden.json'] });
    expect(classifyChange(plan, '/vol/.volwarden.json')).toEqual({ kind: 'manifest', rel: '.volwarden.json' });
    expect(classifyChange(plan, '/vol/docs/a.md')).toEqual({ kind: 'ignored', rel: 'docs/a.md' });
  });
});

describe('classifyChange', () => {
  const plan = planWatch('/vol', manifest());

  it('recognises the manifest and the installer pid file', () => {
    expect(classifyChange(plan, '/vol/.volwarden.json')).toEqual({ kind: 'manifest', rel: '.volwarden.json' });
    expect(classifyChange(plan, '/vol/run/installer.pid')).toEqual({ kind: 'installer', rel: 'run/installer.pid' });
  });

  it('counts changes at or under a source and watch entries', () => {
    expect(classifyChange(plan, '/vol/docs/a/b.txt')).toEqual({ kind: 'source', rel: 'docs/a/b.txt' });
    expect(classifyChange(plan, '/vol/docs')).toEqual({ kind: 'source', rel: 'docs' });
    expect(classifyChange(plan, '/vol/README.md')).toEqual({ kind: 'source', rel: 'README.md' });
    expect(classifyChange(plan, '/vol/etc/docs.conf')).toEqual({ kind: 'source', rel: 'etc/docs.conf' });
  });

  it('counts a directory above a source appearing or vanishing', () => {
    expect(classifyChange(plan, '/vol/etc')).toEqual({ kind: 'source', rel: 'etc' });
  });

  it('counts only files that match a glob source', () => {
    expect(classifyChange(plan, '/vol/extra/a.md')).toEqual({ kind: 'source', rel: 'extra/a.md' });
    expect(classifyChange(plan, '/vol/extra/a.txt')).toEqual({ kind: 'ignored', rel: 'extra/a.txt' });
    expect(classifyChange(plan, '/vol/extra/sub/a.md')).toEqual({ kind: 'ignored', rel: 'extra/sub/a.md' });
  });

  it('ignores changes inside cache outputs, even under a source', () => {
    const nested = planWatch('/vol', manifest({ caches: [{ name: 'a', output: 'docs/.cache', sources: ['docs'] }] }));
    expect(classifyChange(nested, '/vol/docs/.cache')).toEqual({ kind: 'ignored', rel: 'docs/.cache' });
    expect(classifyChange(nested, '/vol/docs/.cache/x/y')).toEqual({ kind: 'ignored', rel: 'docs/.cache/x/y' });
    expect(classifyChange(nested, '/vol/docs/.cachet')).toEqual({ kind: 'source', rel: 'docs/.cachet' });
    expect(classifyChange(plan, '/vol/public/index.html')).toEqual({ kind: 'ignored', rel: 'public/index.html' });
  });

  it('ignores paths no entry covers, and paths outside the root', () => {
    expect(classifyChange(plan, '/vol/unrelated.txt')).toEqual({ kind: 'ignored', rel: 'unrelated.txt' });
    expect(classifyChange(plan, '/elsewhere/docs/a')).toMatchObject({ kind: 'ignored' });
    expect(classifyChange(plan, '/vol')).toMatchObject({ kind: 'ignored' });
  });
});
