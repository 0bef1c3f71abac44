/**
 * One line per notification for `volwarden subscribe` (SPEC §11):
 * `HH:MM:SS.mmm n volume type key=value...`, or the event itself as NDJSON.
 */
import type { WardenEvent } from '../protocol/events.js';
import { escapeControl, safeJson } from '../safe-text.js';
import { formatHolder } from './status-table.js';

const FIXED = new Set(['type', 'volume', 'ts', 'n']);

/**
 * The human line for an event, in local time.
 *
 * @example
 * formatEvent({ type: 'lock.released', volume: 'path:/d', ts, n: 7, holder, status: 0 });
 * // '14:03:07.221 7 path:/d lock.released holder=backup/4242? status=0'  (`?`: a pid the client claimed)
 */
export function formatEvent(event: WardenEvent): string {
  const fields = Object.entries(event)
    .filter(([key]) => !FIXED.has(key))
    .map(([key, value]) => `${escapeControl(key)}=${formatValue(value)}`);
  // File names and holder names are anyone's to choose: nothing reaches the terminal raw.
  return [clock(event.ts), String(event.n), escapeControl(String(event.volume)), escapeControl(String(event.type)), ...fields].join(' ');
}

/** The event as one NDJSON line (no trailing newline), with terminal controls escaped. */
export function formatEventJson(event: WardenEvent): string {
  return safeJson(event);
}

function formatValue(value: unknown): string {
  if (Array.isArray(value)) return value.map((v) => formatValue(v)).join(',');
  if (value !== null && typeof value === 'object' && 'name' in value) {
    const holder = value as { name: string; pid?: number; client?: number };
    return formatHolder({ ...holder, name: String(holder.name), client: holder.client ?? -1 });
  }
  // Quoted as JSON when it has spaces, quotes or controls, so one value never reads as two.
  if (typeof value === 'string') return /[\s"]/.test(value) || value === '' || escapeControl(value) !== value ? safeJson(value) : value;
  return safeJson(value);
}

function clock(ts: number): string {
  const d = new Date(ts);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}
