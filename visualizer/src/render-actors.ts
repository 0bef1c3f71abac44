import type { ActorInfo } from '../../src/inspect/records.js';
import { stateText } from './active-states.js';
import { h } from './dom.js';
import type { ActorGroup } from './view-state.js';

const MAX_PER_GROUP = 300;

/**
 * Redraws the left pane: one section per kind, one row per actor with its id (volumes: id and
 * root; locks, waiters and clients: id and a detail line) and its current state as text in a
 * `[data-state]` element; the full id and context are the row's tooltip.
 *
 * @example
 * renderActorList(nav, groupActors(view), 'volume:path:/srv', (id) => select(id));
 */
export function renderActorList(container: HTMLElement, groups: ActorGroup[], selectedId: string | null, onSelect: (actorId: string) => void): void {
  const sections = groups.map((group) => {
    const shown = group.actors.slice(0, MAX_PER_GROUP);
    const rows = shown.map((actor) => actorRow(actor, actor.id === selectedId, onSelect));
    const more = group.actors.length - shown.length;
    return h('section', { 'data-kind': group.kind, 'data-testid': `group-${group.kind}`, class: 'group' },
      h('h2', {}, `${group.title} `, h('span', { class: 'count' }, String(group.actors.length))),
      h('ul', {}, ...rows),
      more > 0 ? h('p', { class: 'more' }, `and ${more} more`) : null);
  });
  if (sections.length === 0) {
    container.replaceChildren(h('p', { class: 'empty', 'data-testid': 'no-actors' }, 'No actors yet.'));
    return;
  }
  container.replaceChildren(...sections);
}

/** The state text shown for an actor: its state value, or its status for non-machine actors. */
export function actorStateText(actor: ActorInfo): string {
  const text = actor.machineId === null ? '' : stateText(actor.state);
  return text === '' ? actor.status : text;
}

function actorRow(actor: ActorInfo, selected: boolean, onSelect: (actorId: string) => void): HTMLElement {
  const isVolume = actor.kind === 'volume';
  const volumeId = typeof actor.context.id === 'string' ? actor.context.id : undefined;
  const root = typeof actor.context.root === 'string' ? actor.context.root : undefined;
  const label = isVolume && volumeId !== undefined ? volumeId : actor.id;
  const detail = isVolume ? undefined : detailLine(actor);
  const state = actorStateText(actor);
  // The label ellipsizes at its start (see app.css): ids share their prefix and differ at the end.
  const button = h('button', { type: 'button', title: tooltip(actor) },
    h('span', { class: 'actor-label', 'data-testid': 'actor-label' }, h('bdi', {}, label)),
    isVolume && root !== undefined ? h('span', { class: 'actor-root', 'data-testid': 'actor-root' }, h('bdi', {}, root)) : null,
    detail === undefined ? null : h('span', { class: 'actor-detail', 'data-testid': 'actor-detail' }, detail),
    h('span', { class: 'actor-state', 'data-state': state, 'data-status': actor.status }, state));
  button.addEventListener('click', () => onSelect(actor.id));
  return h('li', {
    'data-testid': 'actor',
    'data-actor-id': actor.id,
    'data-kind': actor.kind,
    'aria-selected': selected ? 'true' : 'false',
    class: `actor${selected ? ' selected' : ''}${actor.status === 'active' ? '' : ' finished'}`,
  }, button);
}

/**
 * The second line of a lock, waiter or client row: who holds the lock and how many wait, which
 * client a waiter queues for, a client's name. Read from the summarized context, so a field
 * the daemon did not send is simply left out.
 *
 * @example
 * detailLine(lockActor); // 'held by client:7 (make) · 2 waiting'
 */
export function detailLine(actor: ActorInfo): string | undefined {
  const context = actor.context;
  const parts: string[] = [];
  if (actor.kind === 'lock' || actor.kind === 'reboot') {
    const holder = context.holder;
    if (isObject(holder) && typeof holder.client === 'number') {
      const name = typeof holder.name === 'string' ? holder.name : undefined;
      parts.push(holder.client === 0 ? `held by ${name ?? 'the daemon'}` : `held by client:${holder.client}${name === undefined ? '' : ` (${name})`}`);
    }
    const queue = context.queue;
    const waiting = isObject(queue) && typeof queue.size === 'number' ? queue.size : undefined;
    if (waiting !== undefined && waiting > 0) parts.push(`${waiting} waiting`);
    const waiter = context.waiter;
    if (isObject(waiter) && typeof waiter.client === 'number') parts.push(`client:${waiter.client} waiting`);
  } else if (actor.kind === 'waiter' && typeof context.client === 'number') {
    parts.push(context.client === 0 ? 'for the daemon' : `for client:${context.client}`);
  } else if (actor.kind === 'client' && typeof context.name === 'string') {
    parts.push(context.name);
  }
  return parts.length === 0 ? undefined : parts.join(' · ');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function tooltip(actor: ActorInfo): string {
  const lines = [`${actor.id} (${actor.machineId ?? 'not a state machine'}, ${actor.status})`];
  if (actor.parent !== null) lines.push(`parent: ${actor.parent}`);
  for (const [key, value] of Object.entries(actor.context)) lines.push(`${key}: ${JSON.stringify(value)}`);
  return lines.join('\n');
}
