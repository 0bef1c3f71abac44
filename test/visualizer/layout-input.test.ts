import elkBundled from 'elkjs/lib/elk.bundled.js';
import type { ElkNode } from 'elkjs/lib/elk-api.js';
import { describe, expect, it } from 'vitest';
import { describeMachine } from '../../src/inspect/machine-definition.js';
import { buildLayoutInput, stateNodeId } from '../../visualizer/src/layout-input.js';
import { demoVolumeMachine } from '../inspect/demo-machine.js';

// elk.bundled.js is CommonJS: under NodeNext its default import is the constructor itself.
const ELK = elkBundled as unknown as new () => { layout(graph: ElkNode): Promise<ElkNode> };
const definition = describeMachine(demoVolumeMachine);

describe('buildLayoutInput', () => {
  it('nests states as compound nodes inside the machine node', () => {
    const { graph } = buildLayoutInput(definition);
    const machineNode = graph.children?.[0];
    expect(machineNode?.id).toBe(stateNodeId(''));
    const top = machineNode?.children?.map((c) => c.id);
    expect(top).toEqual(['i:', 's:idle', 's:busy', 's:gone']);
    const busy = machineNode?.children?.find((c) => c.id === 's:busy');
    expect(busy?.children?.map((c) => c.id)).toEqual(['i:busy', 's:busy.settling', 's:busy.checking']);
    expect(busy?.layoutOptions?.['elk.padding']).toBeDefined();
  });

  it('draws one labelled edge per transition target, readable labels included', () => {
    const { graph, edges } = buildLayoutInput(definition);
    const labels = Object.values(edges).filter((e) => e.label !== '').map((e) => `${e.sourcePath}→${e.targetPath}: ${e.label}`);
    expect(labels).toEqual(expect.arrayContaining([
      '→gone: REMOVE',
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

  it('keeps descriptions for tooltips and lists targetless handlers on their state', () => {
    const { nodes, edges } = buildLayoutInput(definition);
    expect(nodes['s:idle']).toMatchObject({ description: 'Caches are fresh; waiting for changes', notes: ['handles PING — Answers a liveness ping'] });
    expect(nodes['s:']).toMatchObject({ key: 'volume', description: 'A demo volume', container: true });
    expect(Object.values(edges).find((e) => e.label === 'CHANGE' && e.sourcePath === 'idle')?.description).toBe('A file under the root changed');
  });

  it('marks each compound state\'s initial child with an edge from a marker', () => {
    const { edges } = buildLayoutInput(definition);
    expect(edges['e::initial']).toMatchObject({ targetPath: 'idle' });
    expect(edges['e:busy:initial']).toMatchObject({ targetPath: 'busy.settling' });
  });

  it('lays out with elkjs into absolute coordinates that nest children inside parents', async () => {
    const input = buildLayoutInput(definition);
    const laidOut = await new ELK().layout(input.graph);
    const machineNode = laidOut.children![0]!;
    const busy = machineNode.children!.find((c) => c.id === 's:busy')!;
    const settling = busy.children!.find((c) => c.id === 's:busy.settling')!;
    expect(settling.x!).toBeGreaterThanOrEqual(busy.x!);
    expect(settling.y!).toBeGreaterThanOrEqual(busy.y!);
    expect(settling.x! + settling.width!).toBeLessThanOrEqual(busy.x! + busy.width!);
    const edgeCount = (laidOut.edges ?? []).length + machineNode.children!.reduce((n, c) => n + (c.edges?.length ?? 0), 0) + (machineNode.edges?.length ?? 0);
    expect(edgeCount).toBe(Object.keys(input.edges).length);
    const sectioned = (laidOut.edges ?? []).filter((e) => (e.sections?.length ?? 0) > 0);
    expect(sectioned.length).toBeGreaterThan(0);
  });

  it('ignores transitions to states it cannot find instead of failing the layout', () => {
    const broken = structuredClone(definition);
    broken.root.states[0]!.transitions.push({ event: 'JUMP', targets: ['nowhere'] });
    const { edges } = buildLayoutInput(broken);
    expect(Object.values(edges).some((e) => e.event === 'JUMP')).toBe(false);
  });
});
