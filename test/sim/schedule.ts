/**
 * The simulation's vocabulary: every step a schedule can take, and the fast-check arbitraries
 * that generate (and shrink) schedules. Steps name slots and indexes, never live ids, so any
 * sub-sequence of a schedule is still a valid schedule: a step that does not apply is a no-op.
 */
import fc from 'fast-check';

/** Number of client slots (each a connection on the control socket, reconnected on demand). */
export const SLOTS = 4;
/** Number of volume roots (`/v0`, `/v1`). */
export const VOLUMES = 2;

export type VolumeIndex = number;
export type SourceFile = 'src/a.txt' | 'src/b.txt' | 'docs/c.md' | 'etc/extra.conf';
export type ManifestVariant = 'daemon' | 'helper' | 'unstartable' | 'helperUnstartable' | 'settle' | 'broken' | 'invalid';
export type AckMode = 'prompt' | 'manual' | 'never';
export type HelperOutcome = 'ok' | 'fail' | 'crash' | 'hang' | 'okNoOutput';
export type TokenChoice = 'right' | 'wrong' | 'none';

/** One step of a schedule. */
export type Step =
  | { kind: 'write'; vol: VolumeIndex; file: SourceFile }
  | { kind: 'removeSource'; vol: VolumeIndex; file: SourceFile }
  | { kind: 'writeOutput'; vol: VolumeIndex }
  | { kind: 'manifest'; vol: VolumeIndex; variant: ManifestVariant }
  | { kind: 'helper'; pick: number; outcome: HelperOutcome }
  | { kind: 'installer'; vol: VolumeIndex; alive: boolean }
  | { kind: 'lock'; slot: number; vol: VolumeIndex; wait: boolean; timeoutMs?: number }
  | { kind: 'unlock'; slot: number; vol: VolumeIndex; status: number; token: TokenChoice }
  | { kind: 'cancel'; slot: number; vol: VolumeIndex }
  | { kind: 'die'; slot: number }
  | { kind: 'subscribe'; slot: number; vol: VolumeIndex | '*'; mode: AckMode }
  | { kind: 'ack'; slot: number }
  | { kind: 'rebootLock'; slot: number; wait: boolean }
  | { kind: 'rebootUnlock'; slot: number }
  | { kind: 'routine'; slot: number; vol: VolumeIndex; routine: 'check' | 'retry' | 'can_unmount' | 'status' }
  | { kind: 'removeRoot'; vol: VolumeIndex }
  | { kind: 'addRoot'; vol: VolumeIndex }
  | { kind: 'advance'; ms: number }
  | { kind: 'restart' };

const vol = fc.integer({ min: 0, max: VOLUMES - 1 });
const slot = fc.integer({ min: 0, max: SLOTS - 1 });
const file = fc.constantFrom<SourceFile>('src/a.txt', 'src/b.txt', 'docs/c.md', 'etc/extra.conf');

/** One step, weighted so locks, changes and time dominate and rare disasters stay rare. */
export const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('write' as const), vol, file }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('removeSource' as const), vol, file }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('writeOutput' as const), vol }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('manifest' as const),
      vol,
      variant: fc.constantFrom<ManifestVariant>('daemon', 'daemon', 'helper', 'unstartable', 'helperUnstartable', 'settle', 'broken', 'invalid'),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('helper' as const),
      pick: fc.nat({ max: 3 }),
      outcome: fc.constantFrom<HelperOutcome>('ok', 'ok', 'ok', 'fail', 'crash', 'hang', 'okNoOutput'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('installer' as const), vol, alive: fc.boolean() }) },
  {
    weight: 10,
    arbitrary: fc.record(
      {
        kind: fc.constant('lock' as const),
        slot,
        vol,
        wait: fc.boolean(),
        timeoutMs: fc.option(fc.integer({ min: 1, max: 3000 }), { nil: undefined }),
      },
      { requiredKeys: ['kind', 'slot', 'vol', 'wait'] },
    ),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('unlock' as const),
      slot,
      vol,
      status: fc.constantFrom(0, 0, 0, 1, 2),
      token: fc.constantFrom<TokenChoice>('right', 'right', 'right', 'wrong', 'none'),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), slot, vol }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('die' as const), slot }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('subscribe' as const),
      slot,
      vol: fc.oneof(vol, fc.constant('*' as const)),
      mode: fc.constantFrom<AckMode>('prompt', 'prompt', 'manual', 'never'),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('ack' as const), slot }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rebootLock' as const), slot, wait: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rebootUnlock' as const), slot }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('routine' as const),
      slot,
      vol,
      routine: fc.constantFrom('check' as const, 'retry' as const, 'can_unmount' as const, 'status' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('removeRoot' as const), vol }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('addRoot' as const), vol }) },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 200, max: 3000 }), fc.constant(12_000)),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

/** A whole schedule: `maxSteps` bounds its length (and the time one seed takes). */
export function scheduleArb(maxSteps: number): fc.Arbitrary<Step[]> {
  return fc.array(stepArb, { minLength: 1, maxLength: maxSteps, size: 'max' });
}

/** One line per step, for failure reports a person can paste back into a test. */
export function formatSchedule(steps: readonly Step[]): string {
  return steps.map((step, i) => `  /* ${String(i).padStart(3)} */ ${JSON.stringify(step)},`).join('\n');
}
