import elkBundled from 'elkjs/lib/elk.bundled.js';
import type { ElkExtendedEdge, ElkNode, ElkPoint } from 'elkjs/lib/elk-api.js';
import { describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import { describeMachine } from '../../src/inspect/machine-definition.js';
import { rebootLockMachine, volumeMachine } from '../../src/machines/index.js';
import { layOutChart } from '../../visualizer/src/chart-layout.js';
import { buildLayoutInput, stateNodeId, type LayoutInput } from '../../visualizer/src/layout-input.js';
import { demoVolumeMachine } from '../inspect/demo-machine.js';

// elk.bundled.js is CommonJS: under NodeNext its default import is the constructor itself.
const ELK = elkBundled as unknown as new () => { layout(graph: ElkNode): Promise<ElkNode> };
const definition = describeMachine(demoVolumeMachine);

// Like the reboot lock: the initial state is declared last, and every other state leads back to it.
const backwardsMachine = setup({
  types: { events: {} as { type: 'ASK' } | { type: 'GRANT' } | { type: 'DONE' } | { type: 'DIED' } },
  guards: { allClean: () => true },
}).createMachine({
  id: 'backwards',
  initial: 'free',
  states: {
    held: { on: { DONE: 'free', DIED: 'free' } },
    waiting: { on: { GRANT: 'held', DIED: 'free' } },
    free: { on: { ASK: [{ guard: 'allClean', target: 'held' }, { target: 'waiting' }] } },
  },
});

const chainMachine = setup({}).createMachine({
  id: 'chain',
  initial: 'first',
  states: Object.fromEntries(['first', 'second', 'third', 'fourth', 'fifth', 'sixth'].map((key, i, all) => [
    key, i === all.length - 1 ? { type: 'final' as const } : { on: { [`GO_ON_TO_THE_${all[i + 1]!.toUpperCase()}_STATE`]: all[i + 1]! } },
  ])),
});

function flatNodes(node: ElkNode): ElkNode[] {
  return [node, ...(node.children ?? []).flatMap(flatNodes)];
}

function flatEdges(node: ElkNode): ElkExtendedEdge[] {
  return [...(node.edges ?? []), ...(node.children ?? []).flatMap(flatEdges)];
}

function nodeAt(laidOut: ElkNode, path: string): ElkNode {
  const found = flatNodes(laidOut).find((n) => n.id === stateNodeId(path));
  if (found === undefined) throw new Error(`no node for ${path}`);
  return found;
}

async function layOut(input: LayoutInput): Promise<ElkNode> {
  return new ELK().layout(input.graph);
}

describe('buildLayoutInput', () => {
  it('nests states as compound nodes inside the machine node, each initial marker first', () => {
    const { graph } = buildLayoutInput(definition);
    const machineNode = graph.children?.[0];
    expect(machineNode?.id).toBe(stateNodeId(''));
    expect(machineNode?.children?.map((c) => c.id)).toEqual(['i:', 's:idle', 's:busy', 's:gone']);
    const busy = machineNode?.children?.find((c) => c.id === 's:busy');
    expect(busy?.children?.map((c) => c.id)).toEqual(['i:busy', 's:busy.settling', 's:busy.checking']);
    expect(busy?.layoutOptions?.['elk.padding']).toBeDefined();
  });

  it('orders the initial child first even when it is declared last', () => {
    const { graph } = buildLayoutInput(describeMachine(backwardsMachine));
    expect(graph.children?.[0]?.children?.map((c) => c.id)).toEqual(['i:', 's:free', 's:held', 's:waiting']);
  });

  it('draws one labelled edge per pair of states, readable labels included', () => {
    const { graph, edges } = buildLayoutInput(definition);
    const labels = Object.values(edges).filter((e) => e.label !== '').map((e) => `${e.sourcePath}→${e.targetPath}: ${e.label}`);
    expect(labels).toEqual(expect.arrayContaining([
      'idle→busy: CHANGE',
      'busy.settling→busy.checking: after 60s',
      'busy.settling→busy.settling: CHANGE',
      'busy.checking→busy.settling: CHECKED [isStale]',
      'busy.checking→idle: CHECKED',
    ]));
    expect(graph.edges?.every((e) => e.sources.length === 1 && e.targets.length === 1)).toBe(true);
    const withLabels = graph.edges?.filter((e) => (e.labels?.length ?? 0) > 0) ?? [];
    expect(withLabels.every((e) => (e.labels?.[0]?.width ?? 0) > 0)).toBe(true);
  });

  it('puts transitions between the same two states on one edge, a line each', () => {
    const { edges } = buildLayoutInput(describeMachine(backwardsMachine));
    const toFree = Object.values(edges).filter((e) => e.sourcePath === 'held' && e.targetPath === 'free');
    expect(toFree).toHaveLength(1);
    expect(toFree[0]).toMatchObject({ label: 'DONE\nDIED', event: 'DONE DIED' });
    expect(toFree[0]?.transitions.map((t) => t.event)).toEqual(['DONE', 'DIED']);
  });

  it('lists the machine\'s own transitions for a legend instead of drawing them across the chart', () => {
    const { edges, nodes, machineTransitions } = buildLayoutInput(definition);
    expect(Object.values(edges).some((e) => e.event === 'REMOVE')).toBe(false);
    expect(machineTransitions).toEqual([{ event: 'REMOVE', label: 'REMOVE', lines: ['REMOVE'], targets: ['gone'], description: 'The volume disappeared' }]);
    expect(nodes['s:']?.notes).toContain('from any state: REMOVE → gone — The volume disappeared');
  });

  it('keeps descriptions for tooltips and lists targetless handlers on their state', () => {
    const { nodes, edges } = buildLayoutInput(definition);
    expect(nodes['s:idle']).toMatchObject({ description: 'Caches are fresh; waiting for changes', notes: ['handles PING — Answers a liveness ping'] });
    expect(nodes['s:']).toMatchObject({ key: 'volume', description: 'A demo volume', container: true });
    expect(Object.values(edges).find((e) => e.label === 'CHANGE' && e.sourcePath === 'idle')?.description).toBe('A file under the root changed');
  });

  it('shortens done and error of the actor a state runs, and puts a long guard on its own line', () => {
    const machine = structuredClone(definition);
    const idle = machine.root.states[0]!;
    idle.invoke = ['probeInstaller'];
    idle.transitions.push(
      { event: 'xstate.done.actor.probeInstaller', targets: ['gone'], guard: 'guard' },
      { event: 'xstate.error.actor.probeInstaller', targets: ['gone'] },
      { event: 'REBOOT_LOCK_CHANGED', targets: ['busy'], guard: 'stillStaleAfterRelease' },
    );
    const { edges } = buildLayoutInput(machine);
    const toGone = Object.values(edges).find((e) => e.sourcePath === 'idle' && e.targetPath === 'gone');
    expect(toGone?.label).toBe('done [guard]\nerror');
    expect(toGone?.transitions.map((t) => t.label)).toEqual(['done: probeInstaller [guard]', 'error: probeInstaller']);
    const lone = buildLayoutInput({ ...machine, root: { ...machine.root, states: [{ ...idle, transitions: [idle.transitions.at(-1)!] }, ...machine.root.states.slice(1)] } });
    expect(Object.values(lone.edges).find((e) => e.sourcePath === 'idle')?.label).toBe('REBOOT_LOCK_CHANGED\n[stillStaleAfterRelease]');
  });

  it('marks each compound state\'s initial child with an edge from a marker', () => {
    const { edges } = buildLayoutInput(definition);
    expect(edges['e::initial']).toMatchObject({ targetPath: 'idle' });
    expect(edges['e:busy:initial']).toMatchObject({ targetPath: 'busy.settling' });
  });

  it('ignores transitions to states it cannot find instead of failing the layout', () => {
    const broken = structuredClone(definition);
    broken.root.states[0]!.transitions.push({ event: 'JUMP', targets: ['nowhere'] });
    const { edges } = buildLayoutInput(broken);
    expect(Object.values(edges).some((e) => e.event === 'JUMP')).toBe(false);
  });
});

describe('the laid-out chart', () => {
  it('lays out with elkjs into absolute coordinates that nest children inside parents', async () => {
    const input = buildLayoutInput(definition);
    const laidOut = await layOut(input);
    const busy = nodeAt(laidOut, 'busy');
    const settling = nodeAt(laidOut, 'busy.settling');
    expect(settling.x!).toBeGreaterThanOrEqual(busy.x!);
    expect(settling.y!).toBeGreaterThanOrEqual(busy.y!);
    expect(settling.x! + settling.width!).toBeLessThanOrEqual(busy.x! + busy.width!);
    expect(flatEdges(laidOut)).toHaveLength(Object.keys(input.edges).length);
    expect(flatEdges(laidOut).every((e) => (e.sections?.length ?? 0) > 0)).toBe(true);
  });

  it('reads from the initial state on: left to right, the initial state first, even when declared last', async () => {
    const laidOut = await layOut(buildLayoutInput(describeMachine(backwardsMachine)));
    const free = nodeAt(laidOut, 'free');
    for (const other of ['held', 'waiting']) expect(free.x!).toBeLessThan(nodeAt(laidOut, other).x!);
    const demo = await layOut(buildLayoutInput(definition));
    expect(nodeAt(demo, 'idle').x!).toBeLessThan(nodeAt(demo, 'busy').x!);
    expect(nodeAt(demo, 'busy.settling').x!).toBeLessThan(nodeAt(demo, 'busy.checking').x!);
  });

  it('reads top to bottom when asked to, the initial state on top', async () => {
    const laidOut = await layOut(buildLayoutInput(describeMachine(backwardsMachine), { direction: 'DOWN' }));
    const free = nodeAt(laidOut, 'free');
    for (const other of ['held', 'waiting']) expect(free.y!).toBeLessThan(nodeAt(laidOut, other).y!);
  });

  it('draws an edge back towards the initial state from its real source to its real target', async () => {
    const input = buildLayoutInput(describeMachine(backwardsMachine));
    const laidOut = await layOut(input);
    const [id, meta] = Object.entries(input.edges).find(([, e]) => e.sourcePath === 'held' && e.targetPath === 'free')!;
    expect(meta.reversed).toBe(true);
    // elkjs routes it free → held; reversed, its path starts at held and ends at free.
    const section = flatEdges(laidOut).find((e) => e.id === id)!.sections![0]!;
    const [start, end] = [section.endPoint, section.startPoint];
    expect(touches(nodeAt(laidOut, 'held'), start)).toBe(true);
    expect(touches(nodeAt(laidOut, 'free'), end)).toBe(true);
  });

  it.each([
    ['the demo volume', definition],
    ['the daemon\'s volume', describeMachine(volumeMachine)],
    ['the reboot lock', describeMachine(rebootLockMachine)],
  ])('puts each edge label of %s on its own edge (a self-loop\'s just above its loop)', async (_name, machine) => {
    const input = buildLayoutInput(machine);
    const laidOut = await layOut(input);
    const labelled = flatEdges(laidOut).filter((e) => (e.labels?.length ?? 0) > 0);
    expect(labelled.length).toBeGreaterThan(3);
    for (const edge of labelled) {
      const label = edge.labels![0]!;
      const points = edge.sections!.flatMap((s) => [s.startPoint, ...(s.bendPoints ?? []), s.endPoint]);
      const crosses = points.slice(1).some((p, i) => segmentMeetsBox(points[i]!, p, label));
      expect(crosses, `label ${label.text} is off its edge`).toBe(true);
    }
  });

  it('lays a long chain top to bottom in a narrow pane, and left to right where it fits', async () => {
    const chain = describeMachine(chainMachine);
    const narrow = await layOutChart(new ELK(), chain, { width: 500, height: 320 });
    expect(narrow.input.graph.layoutOptions?.['elk.direction']).toBe('DOWN');
    expect(narrow.laidOut.height!).toBeGreaterThan(narrow.laidOut.width!);
    const wide = await layOutChart(new ELK(), chain, { width: 4000, height: 320 });
    expect(wide.input.graph.layoutOptions?.['elk.direction']).toBe('RIGHT');
  });
});

function touches(node: ElkNode, p: ElkPoint): boolean {
  const slack = 1;
  return p.x >= node.x! - slack && p.x <= node.x! + node.width! + slack && p.y >= node.y! - slack && p.y <= node.y! + node.height! + slack;
}

// An axis-parallel segment (orthogonal routing) passing through a label's box, give or take the label spacing.
function segmentMeetsBox(a: ElkPoint, b: ElkPoint, box: { x?: number; y?: number; width?: number; height?: number }): boolean {
  const slack = 3;
  const [x0, x1] = [Math.min(a.x, b.x), Math.max(a.x, b.x)];
  const [y0, y1] = [Math.min(a.y, b.y), Math.max(a.y, b.y)];
  const [bx, by, bw, bh] = [(box.x ?? 0) - slack, (box.y ?? 0) - slack, (box.width ?? 0) + 2 * slack, (box.height ?? 0) + 2 * slack];
  return x0 <= bx + bw && x1 >= bx && y0 <= by + bh && y1 >= by;
}
