/**
 * The paths (`busy`, `busy.rebuilding`) of every active state in an xstate state value, matching
 * `StateDefinition.path`, so the chart can highlight them; nested and parallel values included.
 *
 * @example
 * activePaths({ busy: 'rebuilding' }); // Set { 'busy', 'busy.rebuilding' }
 */
export function activePaths(value: unknown): Set<string> {
  const out = new Set<string>();
  walk(value, '', out);
  return out;
}

/**
 * The state value as one line of text: `idle`, `busy.rebuilding`, or `a.x, b.y` for parallel states.
 *
 * @example
 * stateText({ busy: 'rebuilding' }); // 'busy.rebuilding'
 */
export function stateText(value: unknown): string {
  return leafPaths(value, '').join(', ');
}

function leafPaths(value: unknown, prefix: string): string[] {
  if (typeof value === 'string') return [join(prefix, value)];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const nested = leafPaths(child, join(prefix, key));
    return nested.length === 0 ? [join(prefix, key)] : nested;
  });
}

function walk(value: unknown, prefix: string, out: Set<string>): void {
  if (typeof value === 'string') {
    out.add(join(prefix, value));
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  for (const [key, child] of Object.entries(value)) {
    const path = join(prefix, key);
    out.add(path);
    walk(child, path, out);
  }
}

function join(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
}
