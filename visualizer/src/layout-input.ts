import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import type { MachineDefinition, StateDefinition, TransitionDefinition } from '../../src/inspect/records.js';
import { eventLabel, eventName } from './event-label.js';

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

/** One transition an edge stands for. */
export interface EdgeTransition {
  event: string;
  /** The full label, as the tooltip shows it: `done: loadManifest [guard]`. */
  label: string;
  /** The label as drawn: shorter where the state says the rest (`done` of the actor it runs), long guards on their own line. */
  lines: string[];
  description?: string;
}

/**
 * What the renderer needs to know about a drawn edge. Transitions between the same two states
 * share one edge, one label line each: `event` and `label` join them with a space and a newline.
 */
export interface EdgeMeta {
  event: string;
  label: string;
  description?: string;
  transitions: EdgeTransition[];
  sourcePath: string;
  targetPath: string;
  /**
   * The edge goes back towards the initial state, so elkjs was given it target → source (the
   * chart then reads forward from the initial state); the renderer draws its path reversed.
   */
  reversed: boolean;
}

/** A transition on the machine itself: taken from any state, so listed beside the chart, not drawn. */
export interface MachineTransition extends EdgeTransition {
  /** Target state paths; empty when the event is handled without leaving the current state. */
  targets: string[];
}

/** An elkjs graph plus the metadata the SVG renderer attaches to each node and edge. */
export interface LayoutInput {
  graph: ElkNode;
  nodes: Record<string, NodeMeta>;
  edges: Record<string, EdgeMeta>;
  /** The machine's own (root `on`) transitions, for the chart's legend. */
  machineTransitions: MachineTransition[];
}

/** Measures label text in px; the default assumes the page's 12px UI font. */
export type MeasureText = (text: string) => number;

/** Which way the chart flows from its initial state: left to right, or top to bottom. */
export type LayoutDirection = 'RIGHT' | 'DOWN';

/** How `buildLayoutInput` lays a chart out: left to right by default, labels measured for the page's font. */
export interface LayoutOptions {
  direction?: LayoutDirection;
  measure?: MeasureText;
}

/** Height of one line of an edge label, in px. */
export const LABEL_LINE_HEIGHT = 15;
const ATOMIC_HEIGHT = 34;
const INITIAL_SIZE = 12;
const defaultMeasure: MeasureText = (text) => Math.ceil(text.length * 7.2);

/** The node id of a state path in the graph (`''` is the machine itself). */
export function stateNodeId(path: string): string {
  return `s:${path}`;
}

/**
 * Builds elkjs input from a machine definition: the machine is the outer container, nested
 * states are compound children (the initial child first, so the chart reads from it), each pair
 * of states joined by transitions gets one edge labelled with their events, and each compound
 * state gets a small initial marker pointing at its initial child. The machine's own transitions
 * (root `on`, reachable from every state) are not drawn: they would cross the whole chart, so
 * they come back as `machineTransitions` for a legend. Edges back towards the initial state
 * go to elkjs reversed (`EdgeMeta.reversed`), so the chart reads forward from the initial state.
 * Labels sit on their edges (`elk.edgeLabels.inline`). Coordinates come back absolute
 * (`elk.json.shapeCoords: ROOT`), so the renderer never adds offsets.
 *
 * @example
 * const input = buildLayoutInput(definition);
 * const laidOut = await new ELK().layout(input.graph);
 */
export function buildLayoutInput(machine: MachineDefinition, options: LayoutOptions = {}): LayoutInput {
  const measure = options.measure ?? defaultMeasure;
  const nodes: Record<string, NodeMeta> = {};
  const edges: Record<string, EdgeMeta> = {};
  const edgeByPair = new Map<string, string>();
  const elkEdges: ElkExtendedEdge[] = [];
  const order = readingOrder(machine.root);
  const known = new Set(order.keys());
  const machineTransitions: MachineTransition[] = machine.root.transitions
    .filter((t) => t.targets.length > 0)
    .map((t) => ({ ...toEdgeTransition(t, machine.root), targets: t.targets.filter((target) => known.has(target)) }));

  const addTransition = (state: StateDefinition, t: TransitionDefinition, target: string): void => {
    const pair = `${state.path}\u0000${target}`;
    let edgeId = edgeByPair.get(pair);
    if (edgeId === undefined) {
      edgeId = `e:${state.path}:${edgeByPair.size}`;
      edgeByPair.set(pair, edgeId);
      const reversed = (order.get(target) ?? 0) < (order.get(state.path) ?? 0);
      edges[edgeId] = { event: '', label: '', transitions: [], sourcePath: state.path, targetPath: target, reversed };
      const ends = [stateNodeId(state.path), stateNodeId(target)];
      if (reversed) ends.reverse();
      elkEdges.push({ id: edgeId, sources: [ends[0]!], targets: [ends[1]!] });
    }
    edges[edgeId]!.transitions.push(toEdgeTransition(t, state));
  };

  const toNode = (state: StateDefinition, isRoot: boolean): ElkNode => {
    const id = stateNodeId(state.path);
    const key = isRoot ? machine.id : state.key;
    const container = state.states.length > 0;
    const notes: string[] = [];
    for (const t of state.transitions.filter((t) => t.targets.length === 0)) {
      notes.push(`handles ${eventLabel(t)}${t.description === undefined ? '' : ` — ${t.description}`}`);
    }
    if (isRoot) {
      for (const t of machineTransitions) notes.push(`from any state: ${t.label} → ${t.targets.join(', ')}${t.description === undefined ? '' : ` — ${t.description}`}`);
    }
    if (state.invoke !== undefined) notes.push(`runs ${state.invoke.join(', ')}`);
    const description = isRoot ? (machine.description ?? state.description) : state.description;
    nodes[id] = { path: state.path, key, type: state.type, container, notes, ...(description === undefined ? {} : { description }) };

    if (!isRoot) {
      for (const t of state.transitions) {
        for (const target of t.targets) if (known.has(target)) addTransition(state, t, target);
      }
    }

    if (!container) {
      return { id, width: Math.max(72, measure(key) + 28), height: ATOMIC_HEIGHT };
    }
    const children = initialFirst(state).map((child) => toNode(child, false));
    if (state.type === 'compound' && state.initial !== undefined) {
      const markerId = `i:${state.path}`;
      nodes[markerId] = { path: `${state.path}#initial`, key: '', type: 'initial', container: false, notes: [] };
      children.unshift({ id: markerId, width: INITIAL_SIZE, height: INITIAL_SIZE });
      const edgeId = `e:${state.path}:initial`;
      const target = state.path === '' ? state.initial : `${state.path}.${state.initial}`;
      edges[edgeId] = { event: '', label: '', transitions: [], sourcePath: `${state.path}#initial`, targetPath: target, reversed: false };
      elkEdges.push({ id: edgeId, sources: [markerId], targets: [stateNodeId(target)] });
    }
    const titleWidth = measure(key) + 32;
    return {
      id,
      children,
      layoutOptions: {
        ...CONTAINER_OPTIONS,
        'elk.padding': '[top=34,left=14,bottom=14,right=14]',
        'elk.nodeSize.constraints': 'MINIMUM_SIZE',
        'elk.nodeSize.minimum': `(${titleWidth}, 60)`,
      },
    };
  };

  const machineNode = toNode(machine.root, true);
  for (const edge of elkEdges) {
    const meta = edges[edge.id]!;
    if (meta.transitions.length === 0) continue;
    meta.event = [...new Set(meta.transitions.map((t) => t.event))].join(' ');
    // One line per transition (a lone one may wrap its guard); guarded branches that read the same share a line.
    const lines = meta.transitions.length === 1 ? meta.transitions[0]!.lines : [...new Set(meta.transitions.map((t) => t.lines.join(' ')))];
    meta.label = lines.join('\n');
    const described = meta.transitions.filter((t) => t.description !== undefined);
    if (meta.transitions.length === 1 && described.length === 1) meta.description = described[0]!.description!;
    else if (described.length > 0) meta.description = described.map((t) => `${t.label}: ${t.description}`).join('\n');
    edge.labels = [{
      id: `${edge.id}:label`,
      text: meta.label,
      width: Math.max(...lines.map(measure)) + 8,
      height: lines.length * LABEL_LINE_HEIGHT + 2,
      layoutOptions: { 'elk.edgeLabels.inline': 'true' },
    }];
  }
  const graph: ElkNode = {
    id: 'graph',
    layoutOptions: {
      ...CONTAINER_OPTIONS,
      'elk.algorithm': 'layered',
      'elk.direction': options.direction ?? 'RIGHT',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.json.edgeCoords': 'ROOT',
      'elk.json.shapeCoords': 'ROOT',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.edgeLabels.placement': 'CENTER',
      'elk.edgeLabels.inline': 'true',
      'elk.padding': '[top=8,left=8,bottom=8,right=8]',
    },
    children: [machineNode],
    edges: elkEdges,
  };
  return { graph, nodes, edges, machineTransitions };
}

// With INCLUDE_CHILDREN elkjs lays out each container's contents with that container's own
// options, so every container carries these. (Its model-order options are not used: in this
// mode elkjs ignores them or fails; edges back towards the initial state are reversed here instead.)
const CONTAINER_OPTIONS = {
  'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
  'elk.layered.compaction.postCompaction.strategy': 'EDGE_LENGTH',
  'elk.spacing.nodeNode': '16',
  'elk.spacing.edgeNode': '8',
  'elk.spacing.edgeEdge': '5',
  'elk.spacing.edgeLabel': '2',
  'elk.layered.spacing.nodeNodeBetweenLayers': '14',
  'elk.layered.spacing.edgeNodeBetweenLayers': '8',
  'elk.layered.spacing.edgeEdgeBetweenLayers': '5',
};

function initialFirst(state: StateDefinition): StateDefinition[] {
  const initial = state.states.find((child) => child.key === state.initial);
  return initial === undefined ? state.states : [initial, ...state.states.filter((child) => child !== initial)];
}

const WRAP_AT = 22;

function toEdgeTransition(t: TransitionDefinition, state: StateDefinition): EdgeTransition {
  const label = eventLabel(t);
  // `done: examine` out of the state that runs `examine` says no more than `done`.
  const invoked = /^xstate\.(done|error)\.actor\.(.+)$/.exec(t.event);
  const event = invoked !== null && state.invoke?.includes(invoked[2]!) === true ? invoked[1]! : eventName(t.event, t.delay);
  const guard = t.guard === undefined ? undefined : `[${t.guard}]`;
  const oneLine = guard === undefined ? event : `${event} ${guard}`;
  const lines = guard !== undefined && oneLine.length > WRAP_AT ? [event, guard] : [oneLine];
  return { event: t.event, label, lines, ...(t.description === undefined ? {} : { description: t.description }) };
}

/**
 * Each state's place in the order the chart reads: by how many transitions it lies from the
 * initial state (entering a compound state counts one more step to its initial child), then
 * as declared with initial children first; states only the machine's own transitions reach
 * come last. An edge to an earlier state is a back edge: elkjs gets it reversed, so every
 * other state has an edge coming forward into it and the initial state is the one that starts the chart.
 */
function readingOrder(root: StateDefinition): Map<string, number> {
  const declared: StateDefinition[] = [];
  const collect = (state: StateDefinition): void => {
    declared.push(state);
    initialFirst(state).forEach(collect);
  };
  collect(root);
  const byPath = new Map(declared.map((state) => [state.path, state]));
  const distance = new Map<string, number>([[root.path, 0]]);
  const queue: StateDefinition[] = [root];
  for (let i = 0; i < queue.length; i += 1) {
    const state = queue[i]!;
    const next = state.type === 'parallel' ? state.states : state.states.filter((child) => child.key === state.initial);
    const targets = state === root ? [] : state.transitions.flatMap((t) => t.targets);
    for (const reached of [...next, ...targets.flatMap((path) => byPath.get(path) ?? [])]) {
      if (distance.has(reached.path)) continue;
      distance.set(reached.path, distance.get(state.path)! + 1);
      queue.push(reached);
    }
  }
  const rank = (state: StateDefinition) => distance.get(state.path) ?? Number.POSITIVE_INFINITY;
  const sorted = declared.map((state, index) => ({ state, index })).sort((a, b) => rank(a.state) - rank(b.state) || a.index - b.index);
  return new Map(sorted.map(({ state }, index) => [state.path, index]));
}
