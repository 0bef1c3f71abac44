/**
 * Preloaded into a daemon by `bench/connmem.mjs` (`node --expose-gc --import ./bench/heap-probe.mjs`):
 * on SIGUSR2 it collects garbage and writes `process.memoryUsage()` to `$VW_HEAP_PROBE`, so the
 * bench reads the heap of the real daemon process without changing the daemon.
 */
import { renameSync, writeFileSync } from 'node:fs';

const out = process.env.VW_HEAP_PROBE;
let seq = 0;
if (out) {
  process.on('SIGUSR2', () => {
    for (let i = 0; i < 3; i++) globalThis.gc?.();
    writeFileSync(`${out}.tmp`, JSON.stringify({ seq: ++seq, ...process.memoryUsage() }));
    renameSync(`${out}.tmp`, out); // whole or not at all
  });
}
