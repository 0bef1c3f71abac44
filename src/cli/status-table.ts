/**
 * Renders a `status` result as a table a person can read in a narrow terminal: fixed short
 * columns keep their width, the volume id, the last rebuild and the stale/error note shrink to
 * fit, and the last rebuild is left out when even that is too wide.
 */
import type { StatusResult, VolumeStatus } from '../protocol/types.js';

const HEADERS = ['VOLUME', 'STATE', 'LOCK', 'WAITERS', 'TOKEN', 'FAILURES', 'LAST REBUILD', 'STALE/ERROR'] as const;
type Column = (typeof HEADERS)[number];
type Row = Record<Column, string>;

/**
 * Which columns give up width first in a narrow terminal, and how far: the note and the volume id
 * to a readable length, the last rebuild to its header, then the note, id and holder to a stub.
 */
const SHRINK_ORDER: ReadonlyArray<{ column: Column; min: number }> = [
  { column: 'STALE/ERROR', min: 24 },
  { column: 'VOLUME', min: 16 },
  { column: 'LAST REBUILD', min: 'LAST REBUILD'.length },
  { column: 'STALE/ERROR', min: 6 },
  { column: 'VOLUME', min: 8 },
  { column: 'LOCK', min: 6 },
];
/** Dropped rather than cut unreadably short when the minimums still do not fit. */
const OPTIONAL: Column = 'LAST REBUILD';

/**
 * The table, lines joined with `\n` (no trailing newline). `width` is the terminal width;
 * `undefined` (not a terminal) means no truncation. `now` (ms since epoch) dates the last rebuild.
 *
 * @example
 * process.stdout.write(renderStatus(await client.status(), process.stdout.columns) + '\n');
 * // VOLUME      STATE  LOCK  WAITERS  TOKEN  FAILURES  LAST REBUILD     STALE/ERROR
 * // path:/data  idle   -     0        4      0         ok 26ms 12s ago  -
 */
export function renderStatus(status: StatusResult, width?: number, now: number = Date.now()): string {
  const reboot = status.reboot.holder ? `held by ${holderText(status.reboot.holder)}` : status.reboot.state;
  const head = `daemon ${status.daemon.state} (pid ${status.daemon.pid}, version ${status.daemon.version}); reboot lock ${reboot}`;
  if (status.volumes.length === 0) return `${head}\nno volumes (a watched directory needs a .volwarden.json manifest)`;
  const rows = status.volumes.map((volume) => row(volume, now));
  const header = Object.fromEntries(HEADERS.map((h) => [h, h])) as Row;
  let columns: readonly Column[] = HEADERS;
  let widths = naturalWidths(columns, [header, ...rows]);
  if (width !== undefined && fit(columns, widths, width) > 0) {
    columns = HEADERS.filter((c) => c !== OPTIONAL);
    widths = naturalWidths(columns, [header, ...rows]);
    fit(columns, widths, width);
  }
  const format = (cells: Row) =>
    columns
      .map((column, i) => {
        const cell = clip(cells[column], widths.get(column)!, column === 'VOLUME');
        return i === columns.length - 1 ? cell : cell.padEnd(widths.get(column)!);
      })
      .join('  ')
      .trimEnd();
  return [head, format(header), ...rows.map(format)].join('\n');
}

function row(volume: VolumeStatus, now: number): Row {
  const { lock } = volume;
  const holder = lock.holder ? holderText(lock.holder) : lock.state === 'unlocked' ? '-' : lock.state;
  return {
    VOLUME: volume.id,
    STATE: volume.state,
    LOCK: holder,
    WAITERS: String(lock.waiters),
    TOKEN: String(lock.token),
    FAILURES: String(volume.failures),
    'LAST REBUILD': lastRebuild(volume, now),
    'STALE/ERROR': note(volume),
  };
}

function holderText(holder: { name: string; pid?: number; client: number }): string {
  return holder.pid !== undefined ? `${holder.name}/${holder.pid}` : `${holder.name}#${holder.client}`;
}

// `ok 26ms 12s ago`, `exit 3 1.4s 5m ago`: outcome first, so a cut cell still says it.
function lastRebuild(volume: VolumeStatus, now: number): string {
  const last = volume.lastRebuild;
  if (!last) return '-';
  const outcome = last.status === 0 ? 'ok' : `exit ${last.status}`;
  return `${outcome} ${duration(last.durationMs)} ${age(now - last.at)} ago`;
}

function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  return age(ms);
}

function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

function note(volume: VolumeStatus): string {
  if (volume.error) return volume.error;
  if (volume.stale && volume.stale.length > 0) return volume.stale.map((s) => `${s.name}: ${s.reason}`).join('; ');
  return '-';
}

function naturalWidths(columns: readonly Column[], rows: readonly Row[]): Map<Column, number> {
  return new Map(columns.map((c) => [c, Math.max(...rows.map((r) => r[c].length))]));
}

// Shrinks the flexible columns in order; returns how many characters are still too many.
function fit(columns: readonly Column[], widths: Map<Column, number>, width: number): number {
  let excess = [...widths.values()].reduce((a, b) => a + b, 0) + 2 * (columns.length - 1) - width;
  for (const { column, min } of SHRINK_ORDER) {
    if (excess <= 0) break;
    const current = widths.get(column);
    if (current === undefined) continue;
    const cut = Math.min(excess, Math.max(0, current - min));
    widths.set(column, current - cut);
    excess -= cut;
  }
  return Math.max(0, excess);
}

function clip(text: string, width: number, keepTail: boolean): string {
  if (text.length <= width) return text;
  if (width <= 1) return text.slice(0, width);
  return keepTail ? `…${text.slice(text.length - width + 1)}` : `${text.slice(0, width - 1)}…`;
}
