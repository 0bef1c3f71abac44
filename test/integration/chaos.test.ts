import { spawn } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, PROJECT } from './fixtures/ensure-built.js';

/** What `node bench/chaos.mjs` printed and how it exited. */
interface ChaosRun {
  code: number | null;
  output: string;
  grants: number;
  kills: number;
  violations: number;
}

/** Runs the chaos bench itself (one implementation for the bench and this test) and parses its last line. */
function runChaos(env: Record<string, string>): Promise<ChaosRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(PROJECT, 'bench', 'chaos.mjs')], {
      cwd: PROJECT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => {
      const last = output.trim().split('\n').at(-1) ?? '';
      const match = /^chaos: (\d+) grants, (\d+) kills, (\d+) violations$/.exec(last);
      const [grants, kills, violations] = match ? match.slice(1).map(Number) : [Number.NaN, Number.NaN, Number.NaN];
      resolve({ code, output, grants: grants!, kills: kills!, violations: violations! });
    });
  });
}

/**
 * Issue 7: a real daemon process, client processes and rebuild helpers, with clients and helpers
 * SIGKILLed at random. The bench checks mutual exclusion with exclusive marker files, fencing
 * token order per volume, an answer for every request, and a clean SIGTERM at the end.
 */
describe('chaos on real processes', () => {
  beforeAll(ensureBuilt, 120_000);

  it('keeps one holder per volume, increasing tokens and an answer for every request while clients and helpers are SIGKILLed', async () => {
    const run = await runChaos({ CHAOS_SECONDS: '8', CHAOS_CLIENTS: '8' });

    // The whole report on failure: the violations are listed just above the last line.
    expect(run.violations, run.output).toBe(0);
    expect(run.code, run.output).toBe(0);
    expect(run.grants, run.output).toBeGreaterThan(0);
    expect(run.kills, run.output).toBeGreaterThan(0);
  }, 120_000);
});
