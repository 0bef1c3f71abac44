import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileStateStore, recordFileName } from '../../src/adapters/state-store.js';

describe('createFileStateStore', () => {
  let base: string;

  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'volwarden-state-'));
  });
  afterEach(() => {
    rmSync(base, { recursive: true, force: true });
  });

  it('creates a missing state directory with mode 0700', () => {
    const dir = join(base, 'nested', 'state');
    createFileStateStore(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('returns what was saved, also from a new store on the same directory', () => {
    const dir = join(base, 'state');
    createFileStateStore(dir).save('path:/data/vol one', { failures: 2, attempts: 3, token: 41 });
    const reopened = createFileStateStore(dir);
    expect(reopened.load('path:/data/vol one')).toEqual({ failures: 2, attempts: 3, token: 41 });
    expect(reopened.load('path:/other')).toBeUndefined();
    expect([...reopened.loadAll()]).toEqual([['path:/data/vol one', { failures: 2, attempts: 3, token: 41 }]]);
  });

  it('keeps the running helper of a volume until it is cleared', () => {
    const dir = join(base, 'state');
    const helper = { pid: 4242, identity: '8812' };
    createFileStateStore(dir).save('path:/v', { failures: 0, attempts: 1, token: 2, helper });
    expect(createFileStateStore(dir).load('path:/v')).toEqual({ failures: 0, attempts: 1, token: 2, helper });
    createFileStateStore(dir).save('path:/v', { failures: 0, attempts: 1, token: 2, helper: undefined });
    expect(createFileStateStore(dir).load('path:/v')).toEqual({ failures: 0, attempts: 1, token: 2 });
  });

  it('replaces a record atomically and leaves no temporary files behind', () => {
    const store = createFileStateStore(base);
    for (let token = 1; token <= 5; token++) store.save('uuid:1234-ABCD', { failures: 0, attempts: token, token });
    expect(store.load('uuid:1234-ABCD')).toEqual({ failures: 0, attempts: 5, token: 5 });
    expect(readdirSync(join(base, 'volumes'))).toEqual([recordFileName('uuid:1234-ABCD')]);
  });

  it('treats a torn or garbage record as absent', () => {
    const store = createFileStateStore(base);
    writeFileSync(join(base, 'volumes', recordFileName('path:/torn')), '{"volumeId":"path:/torn","failu');
    writeFileSync(join(base, 'volumes', recordFileName('path:/bad')), '{"volumeId":"path:/bad","failures":-1,"attempts":0,"token":0}');
    expect(store.load('path:/torn')).toBeUndefined();
    expect(store.load('path:/bad')).toBeUndefined();
    expect(store.loadAll().size).toBe(0);
  });

  it('removes temporary files abandoned by a crashed writer', () => {
    createFileStateStore(base);
    const abandoned = join(base, 'volumes', `${recordFileName('path:/x')}.tmp-999999999`);
    writeFileSync(abandoned, '{');
    createFileStateStore(base);
    expect(readdirSync(join(base, 'volumes'))).toEqual([]);
  });

  it('keeps two stores on two directories independent', () => {
    const a = createFileStateStore(join(base, 'a'));
    const b = createFileStateStore(join(base, 'b'));
    a.save('path:/v', { failures: 1, attempts: 1, token: 1 });
    b.save('path:/v', { failures: 0, attempts: 0, token: 9 });
    expect(a.load('path:/v')).toEqual({ failures: 1, attempts: 1, token: 1 });
    expect(b.load('path:/v')).toEqual({ failures: 0, attempts: 0, token: 9 });
  });

  it('names record files safely for any volume id', () => {
    const name = recordFileName('path:/a/../b c:\u0000');
    expect(name).toMatch(/^[0-9a-f]{16}-[A-Za-z0-9._-]+\.json$/);
    expect(recordFileName('path:/a')).not.toBe(recordFileName('path:_a'));
  });

  it('sends a failed save to onError instead of throwing when asked to', () => {
    const errors: Error[] = [];
    const store = createFileStateStore(base, { onError: (err) => errors.push(err) });
    rmSync(join(base, 'volumes'), { recursive: true });
    expect(() => store.save('path:/v', { failures: 0, attempts: 0, token: 1 })).not.toThrow();
    expect(errors).toHaveLength(1);
    const strict = createFileStateStore(join(base, 'strict'));
    rmSync(join(base, 'strict', 'volumes'), { recursive: true });
    expect(() => strict.save('path:/v', { failures: 0, attempts: 0, token: 1 })).toThrow(/ENOENT/);
  });
});
