import type { AnyStateMachine, AnyStateNode } from 'xstate';
import type { MachineDefinition, StateDefinition, TransitionDefinition } from './records.js';

/**
 * Turns a machine into the compact, JSON-safe statechart the page draws. Walks `machine.root`
 * rather than `machine.toJSON()` because the latter carries action objects, functions and
 * meta that are neither needed nor always serializable.
 *
 * @example
 * const def = describeMachine(volumeMachine);
 * def.root.states.map((s) => s.key); // ['loading', 'idle', ...]
 */
export function describeMachine(machine: AnyStateMachine): MachineDefinition {
  const root = describeState(machine.root);
  const description = machine.root.description;
  return description === undefined ? { id: machine.id, root } : { id: machine.id, description, root };
}

/** Duck-types a state machine so logic from another copy of xstate is still recognized. */
export function isStateMachine(logic: unknown): logic is AnyStateMachine {
  if (typeof logic !== 'object' || logic === null) return false;
  const candidate = logic as { id?: unknown; root?: unknown; getInitialSnapshot?: unknown };
  return typeof candidate.id === 'string' && typeof candidate.getInitialSnapshot === 'function'
    && typeof candidate.root === 'object' && candidate.root !== null;
}

function describeState(node: AnyStateNode): StateDefinition {
  const def: StateDefinition = {
    key: node.key,
    path: node.path.join('.'),
    type: node.type,
    transitions: describeTransitions(node),
    states: Object.values(node.states as Record<string, AnyStateNode>).map(describeState),
  };
  if (node.type === 'compound' && node.config.initial !== undefined) {
    const initialKey = node.initial?.target?.[0]?.key;
    if (initialKey !== undefined) def.initial = initialKey;
  }
  if (typeof node.description === 'string') def.description = node.description;
  if (node.tags.length > 0) def.tags = node.tags.map(String);
  const invoked = node.invoke.map((inv) => String(inv.id));
  if (invoked.length > 0) def.invoke = invoked;
  return def;
}

function describeTransitions(node: AnyStateNode): TransitionDefinition[] {
  const out: TransitionDefinition[] = [];
  const all = [...node.transitions.values()].flat();
  if (node.always) all.push(...node.always);
  for (const transition of all) {
    const def: TransitionDefinition = {
      event: transition.eventType,
      targets: (transition.target ?? []).map((target: AnyStateNode) => target.path.join('.')),
    };
    if (typeof transition.description === 'string') def.description = transition.description;
    const guard = guardName(transition.guard);
    if (guard !== undefined) def.guard = guard;
    const delay = (transition as { delay?: unknown }).delay;
    if (typeof delay === 'number' || typeof delay === 'string') def.delay = delay;
    else if (delay !== undefined) def.delay = 'dynamic';
    out.push(def);
  }
  return out;
}

// Guards come as names, `{ type }` objects, inline functions or combinators (`and(...)`).
function guardName(guard: unknown): string | undefined {
  if (guard === undefined || guard === null) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') return guard.name || 'guard';
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') {
    return (guard as { type: string }).type;
  }
  return 'guard';
}
