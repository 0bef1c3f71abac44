/**
 * Turns zod issues into the one-line messages SPEC §3 asks for: the JSON path of the first
 * problem, then what is wrong (`caches[2].output: must be a relative path`).
 */
import type { z } from 'zod';

type Issue = z.core.$ZodIssue;
type RawIssue = z.core.$ZodRawIssue;
type PathKey = PropertyKey;

/**
 * Per-parse zod error map giving plain-words messages for the generic checks
 * (types, sizes, enums); checks with their own message keep it.
 */
export function describeIssue(issue: RawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${article(String(issue.expected))}`;
    case 'too_small':
      return describeBound('at least', issue.origin, issue.minimum, issue.inclusive);
    case 'too_big':
      return describeBound('at most', issue.origin, issue.maximum, issue.inclusive);
    case 'invalid_value':
      if (issue.input === undefined) return 'is required';
      return issue.values.length === 1
        ? `must be ${JSON.stringify(issue.values[0])}`
        : `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return 'unknown key';
    default:
      return issue.message ?? 'is invalid';
  }
}

/**
 * The message for the first problem in document order (the order keys appear in the input),
 * so `{"caches":[{"nmae":"x"}]}` reports the typo rather than the missing `name` it caused.
 */
export function firstIssueMessage(issues: readonly Issue[], input: unknown): string {
  const located = issues.flatMap(splitUnknownKeys);
  located.sort((a, b) => compareOrder(order(a.path, input), order(b.path, input)));
  const first = located[0];
  if (first === undefined) return '(root): is invalid';
  return `${formatPath(first.path)}: ${first.message}`;
}

/**
 * `['caches', 2, 'output']` → `caches[2].output`; `[]` → `(root)`.
 *
 * @example
 * formatPath(['caches', 0, 'sources', 1]);  // 'caches[0].sources[1]'
 */
export function formatPath(p: readonly PathKey[]): string {
  if (p.length === 0) return '(root)';
  let out = '';
  for (const key of p) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(String(key))) out += out === '' ? String(key) : `.${String(key)}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

interface Located {
  path: PathKey[];
  message: string;
}

function splitUnknownKeys(issue: Issue): Located[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...issue.path, key], message: 'unknown key' }));
  }
  return [{ path: [...issue.path], message: issue.message }];
}

/** Position of each path step in the input: key index for objects, the index for arrays. */
function order(p: readonly PathKey[], input: unknown): number[] {
  const positions: number[] = [];
  let node: unknown = input;
  for (const key of p) {
    if (Array.isArray(node) && typeof key === 'number') {
      positions.push(key);
      node = node[key];
    } else if (node !== null && typeof node === 'object') {
      const index = Object.keys(node).indexOf(String(key));
      positions.push(index === -1 ? Number.MAX_SAFE_INTEGER : index);
      node = index === -1 ? undefined : (node as Record<string, unknown>)[String(key)];
    } else {
      positions.push(Number.MAX_SAFE_INTEGER);
      node = undefined;
    }
  }
  return positions;
}

function compareOrder(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

function describeBound(word: string, origin: string, bound: number | bigint, inclusive?: boolean): string {
  if (origin === 'array') return `must have ${word} ${bound} ${bound === 1 ? 'entry' : 'entries'}`;
  if (origin === 'string') return bound === 1 && word === 'at least' ? 'must not be empty' : `must be ${word} ${bound} characters`;
  if (inclusive === false) return `must be ${word === 'at least' ? 'greater' : 'less'} than ${bound}`;
  return `must be ${word} ${bound}`;
}

function article(expected: string): string {
  if (expected === 'int') return 'an integer';
  if (expected === 'array' || expected === 'object') return `an ${expected}`;
  return `a ${expected}`;
}
