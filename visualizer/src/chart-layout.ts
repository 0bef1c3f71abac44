import type { ElkNode } from 'elkjs/lib/elk-api.js';
import type { MachineDefinition } from '../../src/inspect/records.js';
import { containScale, prefersDown, type Size } from './chart-zoom.js';
import { buildLayoutInput, type LayoutInput } from './layout-input.js';

/** A laid-out statechart and the input it came from. */
export interface ChartLayout {
  input: LayoutInput;
  laidOut: ElkNode;
}

/** What the page needs of an elkjs instance. */
export interface Layouter {
  layout(graph: ElkNode): Promise<ElkNode>;
}

/**
 * Lays a machine out left to right, and, when that does not fit the pane, top to bottom as
 * well, keeping whichever shows the chart larger (`prefersDown`).
 *
 * @example
 * const { input, laidOut } = await layOutChart(new ELK(), definition, { width: 1100, height: 600 });
 */
export async function layOutChart(elk: Layouter, definition: MachineDefinition, pane: Size): Promise<ChartLayout> {
  const right = await layOut(elk, definition, 'RIGHT');
  if (containScale(sizeOf(right.laidOut), pane) >= 1) return right;
  const down = await layOut(elk, definition, 'DOWN');
  return prefersDown(sizeOf(right.laidOut), sizeOf(down.laidOut), pane) ? down : right;
}

async function layOut(elk: Layouter, definition: MachineDefinition, direction: 'RIGHT' | 'DOWN'): Promise<ChartLayout> {
  const input = buildLayoutInput(definition, { direction });
  return { input, laidOut: await elk.layout(input.graph) };
}

function sizeOf(node: ElkNode): Size {
  return { width: node.width ?? 0, height: node.height ?? 0 };
}
