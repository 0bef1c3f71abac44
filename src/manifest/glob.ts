/**
 * Glob matching whose cost is bounded whatever the pattern (issue 17). A pattern is compiled
 * into a Thompson NFA (one instruction per literal, wildcard or branch) and run as a Pike VM:
 * every input character advances the whole set of live states at once, and a state already in
 * the set is not added twice. No state is ever revisited for the same position, so there is no
 * backtracking: matching `n` characters costs at most `2 × (n + 1) × program.length` steps,
 * linear in the path for a given pattern (the property test `glob.test.ts` counts them).
 * picomatch compiled the same patterns to a backtracking RegExp: `*a*a*a…b` took O(n^k) and
 * nested extglobs exponential time, freezing the daemon.
 */
import { parseGlob, type GlobNode } from './glob-parse.js';

type Inst =
  | { op: 'char'; ch: string; next: number }
  /** One character other than `/` (`?`, a `*` step); none that starts a segment with a dot. */
  | { op: 'any'; next: number }
  | { op: 'class'; test: (ch: string) => boolean; next: number }
  /** One character of a globstar: `/` too, but never a dot that starts a segment. */
  | { op: 'deep'; next: number }
  /** Lookahead: at the start of a segment, the next character is not a dot (`*` may match none). */
  | { op: 'guard'; next: number }
  | { op: 'split'; a: number; b: number }
  | { op: 'match' };

/** A compiled glob: match it with {@link matchGlob}. */
export interface Glob {
  readonly source: string;
  readonly program: readonly Inst[];
  readonly start: number;
}

/** Counts VM steps, so tests can check the linear bound without a clock. */
export interface GlobMeter {
  steps: number;
}

/**
 * A compiled glob has at most this many instructions, so one match of a path of PATH_MAX (4096)
 * bytes costs at most 2 × 4097 × 1024 ≈ 8.4 M steps (about 0.2 s on a slow core; real patterns
 * have tens of instructions and match in microseconds). Ordinary patterns use a few dozen.
 */
export const MAX_GLOB_INSTRUCTIONS = 1024;

/**
 * Compiles a glob (a root-relative pattern, already normalised); throws on a pattern that
 * {@link checkGlobPattern} refuses, which the manifest schema has done before.
 *
 * @example
 * const glob = compileGlob('docs/**\/*.md');
 * matchGlob(glob, 'docs/a/b.md');   // true
 * matchGlob(glob, 'docs/.git/x.md'); // false: wildcards skip dot segments, as picomatch's do
 */
export function compileGlob(pattern: string): Glob {
  const parsed = parseGlob(pattern);
  if (!parsed.ok) throw new Error(`${JSON.stringify(pattern)}: ${parsed.error}`);
  const program: Inst[] = [{ op: 'match' }];
  const start = emit(program, parsed.node, 0);
  if (program.length > MAX_GLOB_INSTRUCTIONS) throw new Error(`${JSON.stringify(pattern)}: is too complex`);
  return { source: pattern, program, start };
}

/**
 * Whether root-relative `rel` matches. Cost: at most `2 × (chars + 1) × program.length` steps.
 *
 * @example
 * matchGlob(compileGlob('src/*.txt'), 'src/a.txt');  // true
 */
export function matchGlob(glob: Glob, rel: string, meter?: GlobMeter): boolean {
  const live = run(glob, Array.from(rel), meter);
  return live.some((pc) => glob.program[pc].op === 'match');
}

/**
 * Whether anything below directory `rel` could match: lets a walk skip subtrees (`src/*.txt`
 * never needs `src/sub/`). Same bound as {@link matchGlob}.
 *
 * @example
 * couldMatchBelow(compileGlob('src/*.txt'), 'src/sub');  // false
 */
export function couldMatchBelow(glob: Glob, rel: string, meter?: GlobMeter): boolean {
  if (rel === '.' || rel === '') return true;
  return run(glob, Array.from(`${rel}/`), meter).length > 0;
}

/** A predicate for root-relative paths, for callers that only need yes/no. */
export function globMatcher(pattern: string): (rel: string) => boolean {
  const glob = compileGlob(pattern);
  return (rel) => matchGlob(glob, rel);
}

/**
 * Whether a source names a glob pattern rather than a literal path (SPEC §3 `sources`). A
 * pattern refused by {@link checkGlobPattern} counts as a glob, so it is checked and reported.
 *
 * @example
 * isGlobPattern('extra/*.md');   // true
 * isGlobPattern('docs/a (1).md'); // false: parentheses are literal
 */
export function isGlobPattern(p: string): boolean {
  const parsed = parseGlob(p);
  return !parsed.ok || parsed.isGlob;
}

/**
 * Why a source glob is unusable, or `null`. Negated patterns are refused (a source says what a
 * cache is built from: "everything except" is not a set we can walk), and so are extglobs.
 *
 * @example
 * checkGlobPattern('src/*(a)b');  // 'must not use the extglob "*(…)": its matching can take exponential time; …'
 */
export function checkGlobPattern(p: string): string | null {
  if (p.startsWith('!')) return 'must not be a negated pattern';
  const parsed = parseGlob(p);
  if (!parsed.ok) return parsed.error;
  const program: Inst[] = [{ op: 'match' }];
  emit(program, parsed.node, 0);
  return program.length > MAX_GLOB_INSTRUCTIONS ? `is too complex a glob pattern (more than ${MAX_GLOB_INSTRUCTIONS} parts): split it into several sources` : null;
}

/**
 * The directory (root-relative, `'.'` for the root) a glob can only match below: its leading
 * segments that are plain names.
 *
 * @example
 * globBase('./a/b/**\/x');  // 'a/b'
 */
export function globBase(p: string): string {
  const segments = p.split('/');
  const literal: string[] = [];
  for (const segment of segments.slice(0, -1)) {
    const parsed = parseGlob(segment);
    if (segment.includes('\\') || segment.includes('{') || !parsed.ok || parsed.isGlob) break;
    literal.push(segment);
  }
  const base = literal.filter((s) => s !== '' && s !== '.').join('/');
  return base === '' ? '.' : base;
}

/** Appends the instructions of `node` leading to `next`; returns its entry point. */
function emit(program: Inst[], node: GlobNode, next: number): number {
  const push = (inst: Inst): number => program.push(inst) - 1;
  switch (node.t) {
    case 'lit':
      return push({ op: 'char', ch: node.ch, next });
    case 'any':
      return push({ op: 'any', next });
    case 'class':
      return push({ op: 'class', test: node.test, next });
    case 'star': {
      const loop = push({ op: 'split', a: -1, b: next });
      (program[loop] as { a: number }).a = push({ op: 'any', next: loop });
      return push({ op: 'guard', next: loop });
    }
    case 'globstar': {
      const loop = push({ op: 'split', a: -1, b: next });
      const step = push({ op: 'deep', next: loop });
      (program[loop] as { a: number }).a = step;
      return step;
    }
    case 'seq':
      return node.items.reduceRight((after, item) => emit(program, item, after), next);
    case 'alt':
      return node.options
        .map((option) => emit(program, option, next))
        .reduceRight((rest, entry) => push({ op: 'split', a: entry, b: rest }));
    case 'opt':
      return push({ op: 'split', a: emit(program, node.item, next), b: next });
  }
}

/** Runs the VM over `chars`; returns the live states after the last one (empty: no match possible). */
function run(glob: Glob, chars: string[], meter?: GlobMeter): number[] {
  const { program } = glob;
  const seen = new Uint32Array(program.length);
  let generation = 1;
  let steps = 0;
  const atSegmentStart = (i: number): boolean => i === 0 || chars[i - 1] === '/';
  // Adds `pc` and everything reachable from it without reading a character, each state once.
  const addClosure = (list: number[], pc: number, i: number): void => {
    const stack = [pc];
    while (stack.length > 0) {
      const at = stack.pop()!;
      if (seen[at] === generation) continue;
      seen[at] = generation;
      steps++;
      const inst = program[at];
      if (inst.op === 'split') stack.push(inst.b, inst.a);
      else if (inst.op === 'guard') {
        if (!(atSegmentStart(i) && chars[i] === '.')) stack.push(inst.next);
      } else list.push(at);
    }
  };
  let live: number[] = [];
  addClosure(live, glob.start, 0);
  for (let i = 0; i < chars.length && live.length > 0; i++) {
    generation++;
    const ch = chars[i];
    const leadingDot = ch === '.' && atSegmentStart(i);
    const next: number[] = [];
    for (const pc of live) {
      steps++;
      const inst = program[pc];
      if (consumes(inst, ch, leadingDot)) addClosure(next, (inst as { next: number }).next, i + 1);
    }
    live = next;
  }
  if (meter) meter.steps += steps;
  return live;
}

function consumes(inst: Inst, ch: string, leadingDot: boolean): boolean {
  switch (inst.op) {
    case 'char':
      return inst.ch === ch;
    case 'any':
      return ch !== '/' && !leadingDot;
    case 'class':
      return ch !== '/' && inst.test(ch);
    case 'deep':
      return !leadingDot;
    default:
      return false;
  }
}
