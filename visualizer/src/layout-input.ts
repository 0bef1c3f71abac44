import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import type { MachineDefinition, StateDefinition } from '../../src/inspect/records.js';
import { eventLabel } from './event-label.js';

/** What the renderer needs to know about a drawn state besides its box. */
export interface NodeMeta {
  path: string;
  key: string;
  type: StateDefinition['type'] | 'initial';
  /** Compound/parallel states and the machine itself draw as containers with a title bar. */
  container: boolean;
  description?: string;
  /** Tooltip lines for transitions with no target (handled in place) and invoked actors. */
  notes: string[];
}

/** What the renderer needs to know about a drawn transition. */
export interface EdgeMeta {
  event: string;
  label: string;
  description?: string;
  sourcePath: string;
  targetPath: string;
}

/** An elkjs graph plus the metadata the SVG renderer attaches to each node and edge. */
export interface LayoutInput {
  graph: ElkNode;
  nodes: Record<string, NodeMeta>;
  edges: Record<string, EdgeMeta>;
}

/** Measures label text in px; the default assumes the page's 12px UI font. */
export type MeasureText = (text: string) => number;

const LABEL_HEIGHT = 16;
const ATOMIC_HEIGHT = 34;
const INITIAL_SIZE = 12;
const defaultMeasure: MeasureText = (text) => Math.ceil(text.length * 7.2);

/** The node id of a state path in the graph (`''` is the machine itself). */
export function stateNodeId(path: string): string {
  return `s:${path}`;
}

/**
 * Builds elkjs input from a machine definition: the machine is the outer container, nested
 * states are compound children, each transition is an edge per target labelled with its event,
 * and each compound state gets a small initial marker pointing at its initial child. Coordinates
 * come back absolute (`elk.json.shapeCoords: ROOT`), so the renderer never adds offsets.
 *
 * @example
 * const input = buildLayoutInput(definition);
 * const laidOut = await new ELK().layout(input.graph);
 */
export function buildLayoutInput(machine: MachineDefinition, measure: MeasureText = defaultMeasure): LayoutInput {
  const nodes: Record<string, NodeMeta> = {};
  const edges: Record<string, EdgeMeta> = {};
  const elkEdges: ElkExtendedEdge[] = [];
  const known = new Set<string>();
  collectPaths(machine.root, known);

  const toNode = (state: StateDefinition, isRoot: boolean): ElkNode => {
    const id = stateNodeId(state.path);
    const key = isRoot ? machine.id : state.key;
    const container = state.states.length > 0;
    const notes: string[] = [];
    for (const t of state.transitions.filter((t) => t.targets.length === 0)) {
      notes.push(`handles ${eventLabel(t)}${t.description === undefined ? '' : ` — ${t.description}`}`);
    }
    if (state.invoke !== undefined) notes.push(`runs ${state.invoke.join(', ')}`);
    const description = isRoot ? (machine.description ?? state.description) : state.description;
    nodes[id] = { path: state.path, key, type: state.type, container, notes, ...(description === undefined ? {} : { description }) };

    state.transitions.forEach((t, index) => {
      t.targets.forEach((target, targetIndex) => {
        if (!known.has(target)) return;
        const edgeId = `e:${state.path}:${index}:${targetIndex}`;
        const label = eventLabel(t);
        edges[edgeId] = { event: t.event, label, sourcePath: state.path, targetPath: target, ...(t.description === undefined ? {} : { description: t.description }) };
        elkEdges.push({
          id: edgeId,
          sources: [id],
          targets: [stateNodeId(target)],
          labels: [{ id: `${edgeId}:label`, text: label, width: measure(label) + 8, height: LABEL_HEIGHT }],
        });
      });
    });

    if (!container) {
      return { id, width: Math.max(72, measure(key) + 28), height: ATOMIC_HEIGHT };
    }
    const children = state.states.map((child) => toNode(child, false));
    if (state.type === 'compound' && state.initial !== undefined) {
      const markerId = `i:${state.path}`;
      nodes[markerId] = { path: `${state.path}#initial`, key: '', type: 'initial', container: false, notes: [] };
      children.unshift({ id: markerId, width: INITIAL_SIZE, height: INITIAL_SIZE });
      const edgeId = `e:${state.path}:initial`;
      const target = state.path === '' ? state.initial : `${state.path}.${state.initial}`;
      edges[edgeId] = { event: '', label: '', sourcePath: `${state.path}#initial`, targetPath: target };
      elkEdges.push({ id: edgeId, sources: [markerId], targets: [stateNodeId(target)] });
    }
    const titleWidth = measure(key) + 32;
    return {
      id,
      children,
      layoutOptions: {
        'elk.padding': '[top=34,left=14,bottom=14,right=14]',
        'elk.nodeSize.constraints': 'MINIMUM_SIZE',
        'elk.nodeSize.minimum': `(${titleWidth}, 60)`,
      },
    };
  };

  const machineNode = toNode(machine.root, true);
  const graph: ElkNode = {
    id: 'graph',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.json.edgeCoords': 'ROOT',
      'elk.json.shapeCoords': 'ROOT',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.edgeLabels.placement': 'CENTER',
      'elk.spacing.nodeNode': '28',
      'elk.spacing.edgeLabel': '3',
      'elk.spacing.edgeNode': '14',
      'elk.layered.spacing.nodeNodeBetweenLayers': '44',
      'elk.layered.spacing.edgeNodeBetweenLayers': '14',
      'elk.padding': '[top=8,left=8,bottom=8,right=8]',
    },
    children: [machineNode],
    edges: elkEdges,
  };
  return { graph, nodes, edges };
}

function collectPaths(state: StateDefinition, out: Set<string>): void {
  out.add(state.path);
  for (const child of state.states) collectPaths(child, out);
}
