#!/usr/bin/env node
// `npm run sim -- --seeds N [--steps M] [--seed-base B]`: runs the whole-system simulation
// (test/sim/sim.test.ts) on N seeds through vitest, which runs the TypeScript directly, and ends
// with exactly one line: `sim: <N> seeds, <steps> steps, <violations> violations`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const usage = 'usage: npm run sim -- [--seeds N] [--steps M] [--seed-base B]';
const options = { seeds: 200, steps: undefined, 'seed-base': undefined };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const [flag, inline] = argv[i].split('=', 2);
  const name = flag.replace(/^--/, '');
  const value = inline ?? argv[++i];
  if (!(name in options) || value === undefined || !/^\d+$/.test(value)) {
    console.error(usage);
    process.exit(64);
  }
  options[name] = Number(value);
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'volwarden-sim-'));
const summaryFile = path.join(dir, 'summary.json');
const env = {
  ...process.env,
  SIM_SEEDS: String(options.seeds),
  SIM_SUMMARY: summaryFile,
  ...(options.steps !== undefined ? { SIM_STEPS: String(options.steps) } : {}),
  ...(options['seed-base'] !== undefined ? { SIM_SEED_BASE: String(options['seed-base']) } : {}),
};
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const run = spawnSync(process.execPath, [vitest, 'run', 'test/sim/sim.test.ts'], { cwd: root, env, stdio: 'inherit' });

let summary;
try {
  summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
} catch {
  summary = undefined;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (!summary) {
  console.error('sim: the simulation did not finish (see the vitest output above)');
  process.exit(run.status || 1);
}
console.log(`sim: ${summary.seeds} seeds, ${summary.steps} steps, ${summary.violations} violations`);
process.exit(summary.violations > 0 ? 1 : (run.status ?? 1));
