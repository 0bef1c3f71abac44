/**
 * The whole-system simulation: one warden on in-memory adapters driven by seeded random
 * schedules, every invariant checked after every step. `npm test` runs a fixed set of seeds;
 * `npm run sim -- --seeds N` (scripts/sim.mjs) runs N seeds through SIM_SEEDS and prints
 * `sim: <N> seeds, <steps> steps, <violations> violations`.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTrace } from '../../visualizer/src/trace-reader.js';
import { runSchedule, runSeed } from './run.js';

/** Fixed seeds for `npm test`; together they take well under 30 s. */
const FIXED_SEEDS = Array.from({ length: 60 }, (_, i) => i + 1);
const STEPS_PER_SEED = Number(process.env.SIM_STEPS ?? 300);
const seedCount = process.env.SIM_SEEDS === undefined ? undefined : Number(process.env.SIM_SEEDS);
const seedBase = Number(process.env.SIM_SEED_BASE ?? 1);

describe('whole-system simulation', () => {
  if (seedCount === undefined) {
    it.each(FIXED_SEEDS)('keeps every invariant on the schedule of seed %i', async (seed) => {
      const result = await runSeed(seed, STEPS_PER_SEED);
      expect(result.report).toBe('');
      expect(result.steps).toBeGreaterThan(0);
    });

    it('answers a queued waiter once the holder dies, and lets a late subscriber go zombie', async () => {
      const result = await runSchedule([
        { kind: 'helper', pick: 0, outcome: 'ok' },
        { kind: 'advance', ms: 1000 },
        { kind: 'lock', slot: 0, vol: 0, wait: false },
        { kind: 'lock', slot: 1, vol: 0, wait: true },
        { kind: 'subscribe', slot: 2, vol: 0, mode: 'manual' },
        { kind: 'die', slot: 0 },
        { kind: 'advance', ms: 600 },
        { kind: 'ack', slot: 2 },
        { kind: 'write', vol: 0, file: 'src/a.txt' },
        { kind: 'restart' },
        { kind: 'lock', slot: 1, vol: 0, wait: true, timeoutMs: 100 },
        { kind: 'advance', ms: 5000 },
      ]);
      expect(result.violations).toEqual([]);
      expect(result.restarts).toBeGreaterThan(0);
    });

    it('records a trace of a run that the visualizer can load', async () => {
      const tracePath = path.join(os.tmpdir(), `volwarden-sim-trace-test-${process.pid}.jsonl`);
      try {
        const result = await runSchedule(
          [
            { kind: 'lock', slot: 0, vol: 1, wait: true, timeoutMs: 500 },
            { kind: 'helper', pick: 0, outcome: 'ok' },
            { kind: 'advance', ms: 600 },
          ],
          { tracePath },
        );
        expect(result.violations).toEqual([]);
        const trace = readTrace(readFileSync(tracePath, 'utf8'));
        expect(trace.ok).toBe(true);
        if (!trace.ok) return;
        expect(trace.trace.machines.map((m) => m.id)).toEqual(expect.arrayContaining(['volume', 'lock', 'waiter']));
        expect(trace.trace.records.some((r) => r.kind === 'actor' && r.actor.id === 'volume:path:/v1')).toBe(true);
      } finally {
        rmSync(tracePath, { force: true });
      }
    });
  } else {
    it(
      `keeps every invariant on ${seedCount} seeds`,
      async () => {
        let steps = 0;
        let violations = 0;
        const reports: string[] = [];
        const dropped = new Map<string, number>();
        for (let seed = seedBase; seed < seedBase + seedCount; seed++) {
          const result = await runSeed(seed, STEPS_PER_SEED);
          steps += result.steps;
          violations += result.violations.length;
          for (const key of result.sentToStopped) dropped.set(key, (dropped.get(key) ?? 0) + 1);
          if (result.report) {
            reports.push(result.report);
            console.error(result.report);
          }
        }
        if (dropped.size > 0) {
          console.log(`events sent to stopped actors: ${[...dropped].map(([key, n]) => `${key} ×${n}`).join(', ')}`);
        }
        const summary = `sim: ${seedCount} seeds, ${steps} steps, ${violations} violations`;
        if (process.env.SIM_SUMMARY) writeFileSync(process.env.SIM_SUMMARY, `${JSON.stringify({ seeds: seedCount, steps, violations, summary })}\n`);
        console.log(summary);
        expect(reports).toEqual([]);
      },
      Math.max(60_000, (seedCount ?? 1) * 20_000),
    );
  }
});
