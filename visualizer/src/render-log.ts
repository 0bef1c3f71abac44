import type { EventRecord } from '../../src/inspect/records.js';
import { h } from './dom.js';
import { eventName } from './event-label.js';
import { formatTime } from './format.js';

/** The log table draws at most this many rows, the newest. */
export const MAX_LOG_ROWS = 500;

/**
 * Redraws the event log table (time, event, source actor, target actor), newest last, and
 * keeps it scrolled to the bottom if the reader was already there. A source read from the
 * event's payload (the runtimes send from outside any actor) is drawn as such, with a tooltip
 * saying so. Returns how many rows it drew.
 *
 * @example
 * const shown = renderLog(scrollBox, filterLog(view.log, filter));
 */
export function renderLog(scroller: HTMLElement, rows: readonly EventRecord[]): number {
  const body = scroller.querySelector('tbody');
  if (body === null) return 0;
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 24;
  const shown = rows.slice(-MAX_LOG_ROWS);
  body.replaceChildren(...shown.map((row) => h('tr', {
    'data-testid': 'log-row',
    'data-type': row.type,
    'data-source': row.source ?? '',
    'data-target': row.target,
  },
  h('td', { class: 'time' }, formatTime(row.t)),
  h('td', { class: 'event', title: row.type }, eventName(row.type)),
  row.sourceFrom === 'payload'
    ? h('td', { class: 'source inferred', title: 'named in the event (sent from outside any actor)' }, row.source ?? '—')
    : h('td', { class: 'source' }, row.source ?? '—'),
  h('td', { class: 'target' }, row.target))));
  if (atBottom) scroller.scrollTop = scroller.scrollHeight;
  return shown.length;
}

/**
 * The log's count line, honest about what the table shows: `2051 events`, `last 500 of 2051
 * events`; filtered, `12 of 2051 events` or `last 500 of 800 matching, 2051 events`.
 *
 * @example
 * logCountText({ shown: 500, matching: 2051, total: 2051, filtered: false }); // 'last 500 of 2051 events'
 */
export function logCountText(counts: { shown: number; matching: number; total: number; filtered: boolean }): string {
  const { shown, matching, total, filtered } = counts;
  const events = `${total} event${total === 1 ? '' : 's'}`;
  if (!filtered) return shown < total ? `last ${shown} of ${events}` : events;
  return shown < matching ? `last ${shown} of ${matching} matching, ${events}` : `${matching} of ${events}`;
}
