import type { EventRecord } from '../../src/inspect/records.js';
import { h } from './dom.js';
import { eventName } from './event-label.js';
import { formatTime } from './format.js';

const MAX_ROWS = 500;

/**
 * Redraws the event log table (time, event, source actor, target actor), newest last, and
 * keeps it scrolled to the bottom if the reader was already there.
 *
 * @example
 * renderLog(scrollBox, filterLog(view.log, filter));
 */
export function renderLog(scroller: HTMLElement, rows: readonly EventRecord[]): void {
  const body = scroller.querySelector('tbody');
  if (body === null) return;
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 24;
  const shown = rows.slice(-MAX_ROWS);
  body.replaceChildren(...shown.map((row) => h('tr', {
    'data-testid': 'log-row',
    'data-type': row.type,
    'data-source': row.source ?? '',
    'data-target': row.target,
  },
  h('td', { class: 'time' }, formatTime(row.t)),
  h('td', { class: 'event', title: row.type }, eventName(row.type)),
  h('td', { class: 'source' }, row.source ?? '—'),
  h('td', { class: 'target' }, row.target))));
  if (atBottom) scroller.scrollTop = scroller.scrollHeight;
}
