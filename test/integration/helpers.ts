import { mkdtempSync, mkdirSync, writeFileSync, chmodSync, rmSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A real temp volume with a manifest whose helper concatenates sources into the output. */
export function makeVolume(options: { manifest?: Record<string, unknown>; script?: string } = {}): { root: string; cleanup(): void } {
  const root = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'vw-vol-')));
  mkdirSync(path.join(root, 'src'));
  mkdirSync(path.join(root, 'cache'));
  writeFileSync(path.join(root, 'src', 'a.txt'), 'alpha\n');
  const script = options.script ?? '#!/bin/sh\ncat src/*.txt > cache/out.txt\necho "$VOLWARDEN_STALE" >> cache/runs.log\n';
  writeFileSync(path.join(root, 'build.sh'), script);
  chmodSync(path.join(root, 'build.sh'), 0o755);
  const manifest = options.manifest ?? {
    version: 1,
    caches: [{ name: 'out', output: 'cache/out.txt', sources: ['src'] }],
    command: ['./build.sh'],
  };
  writeFileSync(path.join(root, '.volwarden.json'), JSON.stringify(manifest, null, 2));
  chmodSync(path.join(root, '.volwarden.json'), 0o644);
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** Polls until `predicate` holds (integration tests on real I/O only). */
export async function eventually<T>(probe: () => T | Promise<T>, predicate: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!predicate(last)) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 25));
    last = await probe();
  }
  return last;
}

export function shortTmp(prefix: string): string {
  return mkdtempSync(path.join('/tmp', prefix));
}
