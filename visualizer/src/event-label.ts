import type { TransitionDefinition } from '../../src/inspect/records.js';

/**
 * A short edge label a person can read: xstate's internal descriptors (`xstate.after.500.volume.settling`,
 * `xstate.done.actor.check`) become `after 500ms`, `done: check`; a guard is shown as `[guard]`.
 *
 * @example
 * eventLabel({ event: 'xstate.after.500.volume.settling', targets: ['checking'], delay: 500 }); // 'after 500ms'
 */
export function eventLabel(transition: TransitionDefinition): string {
  const base = eventName(transition.event, transition.delay);
  return transition.guard === undefined ? base : `${base} [${transition.guard}]`;
}

/** The readable name of an event type, as the log and the edges show it. */
export function eventName(event: string, delay?: number | string): string {
  if (event === '') return 'always';
  if (event.startsWith('xstate.after.')) {
    if (typeof delay === 'number') return `after ${formatDelay(delay)}`;
    if (typeof delay === 'string') return `after ${delay}`;
    const ms = Number(event.split('.')[2]);
    return Number.isFinite(ms) ? `after ${formatDelay(ms)}` : 'after';
  }
  for (const [prefix, label] of [
    ['xstate.done.actor.', 'done: '],
    ['xstate.error.actor.', 'error: '],
    ['xstate.snapshot.', 'snapshot: '],
  ] as const) {
    if (event.startsWith(prefix)) return label + event.slice(prefix.length);
  }
  if (event.startsWith('xstate.done.state.')) return 'done';
  return event;
}

function formatDelay(ms: number): string {
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
