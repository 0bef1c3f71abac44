/**
 * Shared helpers for the benches in this folder: timing, percentiles, table printing, a
 * throw-away volume on disk, and polling a warden until a volume is quiet. Plain ESM with
 * JSDoc types so the benches run on Node 20 from `dist/` without a loader.
 */
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

/** Milliseconds from a monotonic clock, sub-microsecond resolution (Date.now() is too coarse). */
export function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Resolves after `ms` (a pause between phases, never inside a measured span). */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The p-th percentile (0–100) by nearest rank: the value below which p % of samples fall.
 *
 * @param {number[]} sorted ascending samples
 * @param {number} p
 * @example percentile([1, 2, 3, 4], 50) // → 2
 */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/**
 * @typedef {{ n: number, p50: number, p90: number, p99: number, max: number, mean: number }} Summary
 */

/**
 * The figures every bench prints for one series of latencies.
 *
 * @param {number[]} samples milliseconds
 * @returns {Summary}
 * @example summarize([1.2, 0.9, 3.4]).p50 // → 1.2
 */
export function summarize(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, x) => sum + x, 0) / (sorted.length || 1);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
    mean,
  };
}

/** Milliseconds with three decimals (µs resolution), the unit every table uses. */
export function ms(value) {
  return Number.isFinite(value) ? value.toFixed(3) : '—';
}

/**
 * Prints rows as an aligned text table; the first row is the header.
 *
 * @param {Array<Array<string | number>>} rows
 * @example printTable([['series', 'p50'], ['raw', '0.8']])
 */
export function printTable(rows) {
  const cells = rows.map((row) => row.map(String));
  const widths = cells[0].map((_, col) => Math.max(...cells.map((row) => (row[col] ?? '').length)));
  const line = (row) => row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]) : cell.padStart(widths[col]))).join('  ');
  console.log(line(cells[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of cells.slice(1)) console.log(line(row));
}

/** One line of context for the figures: noisy neighbours move them more than anything else. */
export function describeMachine() {
  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  return `node ${process.version}, ${cpus().length} CPUs, load average ${load}`;
}

/** `PASS` or `MISS`, so a reader can grep the verdicts. */
export function verdict(ok) {
  return ok ? 'PASS' : 'MISS';
}

/**
 * A fresh directory under the system temp dir, symlinks resolved (volume ids use real paths).
 *
 * @param {string} prefix
 */
export function makeTempDir(prefix) {
  return realpathSync(mkdtempSync(join(tmpdir(), prefix)));
}

/** Removes a bench's temp tree; never throws (cleanup must not hide the figures). */
export function removeTree(dir) {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // best effort
  }
}

/**
 * Creates a volume at `root`: `sources` files under `src/`, one cache built from `src` by a tiny
 * sh script into `cache/out.txt`, and an owner-only manifest (0644, so its inline `command` is
 * trusted, SPEC §9). The cache is missing at first: the warden's first check builds it, after
 * which the volume stays clean until a source is written.
 *
 * @param {string} root
 * @param {number} sources how many source files to create (`src/f000.txt`, ...)
 * @returns {string[]} the source files' absolute paths
 * @example const files = createVolume('/tmp/b/vol', 8);
 */
export function createVolume(root, sources) {
  mkdirSync(join(root, 'src'), { recursive: true });
  const files = [];
  for (let i = 0; i < sources; i++) {
    const file = join(root, 'src', `f${String(i).padStart(3, '0')}.txt`);
    writeFileSync(file, 'initial\n');
    files.push(file);
  }
  writeFileSync(join(root, 'build.sh'), 'mkdir -p cache && echo built > cache/out.txt\n');
  const manifest = join(root, '.volwarden.json');
  const body = {
    version: 1,
    caches: [{ name: 'bench', output: 'cache/out.txt', sources: ['src'] }],
    command: ['/bin/sh', 'build.sh'],
  };
  writeFileSync(manifest, `${JSON.stringify(body, null, 2)}\n`);
  chmodSync(manifest, 0o644);
  return files;
}

/**
 * Polls until `ready()` is true; rejects after `timeoutMs` with `what` in the message.
 *
 * @param {() => boolean} ready
 * @param {string} what
 * @param {number} [timeoutMs]
 */
export async function waitUntil(ready, what, timeoutMs = 10_000) {
  const deadline = nowMs() + timeoutMs;
  while (!ready()) {
    if (nowMs() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(1);
  }
}

/**
 * Waits until the warden's volume is `idle`, clean, unlocked and has no waiters: the state a
 * measurement must start from (a daemon-mode rebuild holds the lock, SPEC §4).
 *
 * @param {{ status(volume?: string): { volumes: Array<{ state: string, stale: unknown[] | null, lock: { state: string, waiters: number } }> } }} warden
 * @param {string} volume id or root
 * @param {number} [timeoutMs]
 */
export function waitIdle(warden, volume, timeoutMs = 10_000) {
  return waitUntil(() => {
    const [v] = warden.status(volume).volumes;
    return v.state === 'idle' && (v.stale === null || v.stale.length === 0) && v.lock.state === 'unlocked' && v.lock.waiters === 0;
  }, `${volume} to be idle, clean and unlocked`, timeoutMs);
}

/**
 * Ends the process if a bench overruns its budget: a stuck bench must not hang a CI job.
 * Returns a function that cancels the watchdog.
 *
 * @param {number} limitMs
 * @param {() => void} [cleanup] synchronous last words (kill children, remove temp dirs)
 */
export function watchdog(limitMs, cleanup = () => {}) {
  const timer = setTimeout(() => {
    console.error(`bench: still running after ${limitMs / 1000} s, giving up`);
    cleanup();
    process.exit(2);
  }, limitMs);
  timer.unref();
  return () => clearTimeout(timer);
}
