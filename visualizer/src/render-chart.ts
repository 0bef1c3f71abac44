import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import { h, svg } from './dom.js';
import { LABEL_LINE_HEIGHT, type LayoutInput, type MachineTransition, type NodeMeta } from './layout-input.js';

/**
 * Draws a laid-out statechart as SVG: containers for compound states, boxes for the rest,
 * labelled edges, and `<title>` tooltips carrying the state and transition descriptions.
 * Each state's group has `data-state-path` so `highlightStates` (and tests) can find it.
 *
 * @example
 * const laidOut = await elk.layout(input.graph);
 * renderChart(chartDiv, laidOut, input);
 * highlightStates(chartDiv, activePaths(actor.state));
 */
export function renderChart(container: HTMLElement, laidOut: ElkNode, input: LayoutInput): void {
  const width = Math.ceil(laidOut.width ?? 0);
  const height = Math.ceil(laidOut.height ?? 0);
  const root = svg('svg', {
    width, height, viewBox: `0 0 ${width} ${height}`, 'data-testid': 'statechart', role: 'img',
    'data-width': width, 'data-height': height, 'data-scale': 1, 'data-direction': input.graph.layoutOptions?.['elk.direction'],
  },
    svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }))));
  const nodeLayer = svg('g', { class: 'nodes' });
  const edgeLayer = svg('g', { class: 'edges' });
  for (const child of laidOut.children ?? []) drawNode(nodeLayer, child, input);
  for (const edge of collectEdges(laidOut)) drawEdge(edgeLayer, edge, input);
  root.append(nodeLayer, edgeLayer);
  container.replaceChildren(root);
}

/**
 * The chart's natural size (100 %), or `undefined` when none is drawn.
 *
 * @example
 * const size = chartSize(chartDiv); // { width: 1333, height: 1007 }
 */
export function chartSize(container: HTMLElement): { width: number; height: number } | undefined {
  const root = container.querySelector('svg[data-testid="statechart"]');
  if (root === null) return undefined;
  return { width: Number(root.getAttribute('data-width')), height: Number(root.getAttribute('data-height')) };
}

/**
 * Draws the chart at `scale` (1 is 100 %): the viewBox stays, only the drawn size changes, so
 * text stays sharp and the layout is not redone.
 *
 * @example
 * scaleChart(chartDiv, chartScale('fit', chartSize(chartDiv)!, paneSize));
 */
export function scaleChart(container: HTMLElement, scale: number): void {
  const root = container.querySelector('svg[data-testid="statechart"]');
  const size = chartSize(container);
  if (root === null || size === undefined) return;
  root.setAttribute('width', String(Math.round(size.width * scale)));
  root.setAttribute('height', String(Math.round(size.height * scale)));
  root.setAttribute('data-scale', String(scale));
}

/**
 * Lists the machine's own transitions (root `on`: taken from any state) beside the chart
 * instead of drawing edges that would cross all of it; hidden when there are none.
 *
 * @example
 * renderLegend(legendDiv, input.machineTransitions); // From any state: ROOT_REMOVED → gone · …
 */
export function renderLegend(container: HTMLElement, transitions: readonly MachineTransition[]): void {
  container.hidden = transitions.length === 0;
  if (transitions.length === 0) {
    container.replaceChildren();
    return;
  }
  const items = transitions.map((t) => {
    const text = `${t.label} → ${t.targets.join(', ')}`;
    return h('span', {
      class: 'legend-item', 'data-testid': 'machine-transition', 'data-event': t.event, 'data-target': t.targets.join(' '),
      title: t.description === undefined ? text : `${text} — ${t.description}`,
    }, text);
  });
  container.replaceChildren(h('span', { class: 'legend-title' }, 'From any state:'), ...items);
}

/**
 * Marks the active states (`data-active="true"`, class `active`) and clears the rest; cheap
 * enough to run on every snapshot, since the layout is not redone.
 *
 * @example
 * highlightStates(chartDiv, new Set(['busy', 'busy.rebuilding']));
 */
export function highlightStates(container: HTMLElement, active: Set<string>): void {
  for (const node of container.querySelectorAll<SVGGElement>('g[data-state-path]')) {
    const on = active.has(node.getAttribute('data-state-path') ?? '\u0000');
    node.setAttribute('data-active', on ? 'true' : 'false');
    node.classList.toggle('active', on);
  }
}

function drawNode(layer: SVGGElement, node: ElkNode, input: LayoutInput): void {
  const meta = input.nodes[node.id];
  if (meta === undefined) return;
  const x = node.x ?? 0;
  const y = node.y ?? 0;
  const w = node.width ?? 0;
  const hgt = node.height ?? 0;
  if (meta.type === 'initial') {
    layer.append(svg('circle', { cx: x + w / 2, cy: y + hgt / 2, r: w / 2, class: 'initial' }));
    return;
  }
  const isMachine = meta.path === '';
  const group = svg('g', {
    class: `state ${meta.container ? 'container' : 'leaf'} type-${meta.type}${isMachine ? ' machine' : ''}`,
    'data-state-path': isMachine ? undefined : meta.path,
    'data-state-type': meta.type,
  }, svg('title', {}, nodeTooltip(meta)));
  group.append(svg('rect', { x, y, width: w, height: hgt, rx: meta.container ? 8 : 6, class: 'box' }));
  if (meta.type === 'final') group.append(svg('rect', { x: x + 3, y: y + 3, width: w - 6, height: hgt - 6, rx: 4, class: 'final-ring' }));
  if (meta.container) {
    group.append(svg('text', { x: x + 10, y: y + 20, class: 'title' }, meta.key));
    group.append(svg('line', { x1: x, x2: x + w, y1: y + 28, y2: y + 28, class: 'divider' }));
  } else {
    group.append(svg('text', { x: x + w / 2, y: y + hgt / 2 + 4, class: 'name', 'text-anchor': 'middle' }, meta.key));
  }
  layer.append(group);
  for (const child of node.children ?? []) drawNode(layer, child, input);
}

function drawEdge(layer: SVGGElement, edge: ElkExtendedEdge, input: LayoutInput): void {
  const meta = input.edges[edge.id];
  if (meta === undefined) return;
  // elkjs was given a reversed edge target → source: draw it the way the transition goes.
  const runs = (edge.sections ?? []).map((section) => [section.startPoint, ...(section.bendPoints ?? []), section.endPoint]);
  if (meta.reversed) runs.reverse().forEach((run) => run.reverse());
  const points = runs.map((run) => run.map((p, index) => `${index === 0 ? 'M' : 'L'}${p.x},${p.y}`).join(' '));
  if (points.length === 0) return;
  const group = svg('g', { class: `transition${meta.label === '' ? ' initial-edge' : ''}`, 'data-event': meta.event, 'data-source': meta.sourcePath, 'data-target': meta.targetPath });
  if (meta.transitions.length > 0) {
    group.append(svg('title', {}, meta.transitions.map((t) => (t.description === undefined ? t.label : `${t.label} — ${t.description}`)).join('\n')));
  }
  group.append(svg('path', { d: points.join(' '), class: 'edge', 'marker-end': 'url(#arrow)' }));
  for (const label of edge.labels ?? []) {
    const lx = label.x ?? 0;
    const ly = label.y ?? 0;
    group.append(svg('rect', { x: lx, y: ly, width: label.width ?? 0, height: label.height ?? 0, rx: 3, class: 'label-bg' }));
    const lines = (label.text ?? '').split('\n');
    group.append(svg('text', { x: lx + 4, y: ly + 12, class: 'label' },
      ...lines.map((line, index) => svg('tspan', { x: lx + 4, y: ly + 12 + index * LABEL_LINE_HEIGHT }, line))));
  }
  layer.append(group);
}

// With INCLUDE_CHILDREN, elkjs may move an edge into the container it belongs to.
function collectEdges(node: ElkNode): ElkExtendedEdge[] {
  const out: ElkExtendedEdge[] = [...(node.edges ?? [])];
  for (const child of node.children ?? []) out.push(...collectEdges(child));
  return out;
}

function nodeTooltip(meta: NodeMeta): string {
  const lines = [meta.path === '' ? `machine ${meta.key}` : `${meta.key} (${meta.type})`];
  if (meta.description !== undefined) lines.push(meta.description);
  lines.push(...meta.notes);
  return lines.join('\n');
}

/**
 * Scrolls the chart so the innermost active state is in view (centred when it was not), since a
 * daemon's volume chart is larger than the pane. Call it when the active states change, not on
 * every render, so it never fights a person panning the chart.
 *
 * @example
 * highlightStates(chartDiv, active);
 * if (activeChanged) revealActive(chartDiv);
 */
export function revealActive(container: HTMLElement): void {
  const active = container.querySelectorAll<SVGGElement>('g[data-state-path][data-active="true"]');
  // Children are drawn after their parents: the last active group is the innermost state.
  const target = active[active.length - 1]?.querySelector('.box');
  if (target === undefined || target === null) return;
  const box = target.getBoundingClientRect();
  const view = container.getBoundingClientRect();
  const fullyVisible = box.left >= view.left && box.right <= view.right && box.top >= view.top && box.bottom <= view.bottom;
  if (fullyVisible) return;
  container.scrollLeft += box.left + box.width / 2 - (view.left + view.width / 2);
  container.scrollTop += box.top + box.height / 2 - (view.top + view.height / 2);
}
