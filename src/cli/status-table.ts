/**
 * Renders a `status` result as a table a person can read in a narrow terminal: fixed short
 * columns keep their width, the volume id and the stale/error note shrink to fit.
 */
import type { StatusResult, VolumeStatus } from '../protocol/types.js';

const HEADERS = ['VOLUME', 'STATE', 'LOCK', 'WAITERS', 'TOKEN', 'FAILURES', 'STALE/ERROR'] as const;
/** Which columns give up width first in a narrow terminal, and how far: note, volume id, holder. */
const SHRINK_ORDER: ReadonlyArray<{ column: number; min: number }> = [
  { column: 6, min: 6 },
  { column: 0, min: 8 },
  { column: 2, min: 6 },
];

/**
 * The table, lines joined with `\n` (no trailing newline). `width` is the terminal width;
 * `undefined` (not a terminal) means no truncation.
 *
 * @example
 * process.stdout.write(renderStatus(await client.status(), process.stdout.columns) + '\n');
 */
export function renderStatus(status: StatusResult, width?: number): string {
  const reboot = status.reboot.holder ? `held by ${holderText(status.reboot.holder)}` : status.reboot.state;
  const head = `daemon ${status.daemon.state} (pid ${status.daemon.pid}, version ${status.daemon.version}); reboot lock ${reboot}`;
  if (status.volumes.length === 0) return `${head}\nno volumes (a watched directory needs a .volwarden.json manifest)`;
  const rows = status.volumes.map(row);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  if (width !== undefined) fit(widths, width);
  const format = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? clip(cell, widths[i]!, i === 0) : clip(cell, widths[i]!, i === 0).padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [head, format(HEADERS), ...rows.map(format)].join('\n');
}

function row(volume: VolumeStatus): string[] {
  const { lock } = volume;
  const holder = lock.holder ? holderText(lock.holder) : lock.state === 'unlocked' ? '-' : lock.state;
  return [volume.id, volume.state, holder, String(lock.waiters), String(lock.token), String(volume.failures), note(volume)];
}

function holderText(holder: { name: string; pid?: number; client: number }): string {
  return holder.pid !== undefined ? `${holder.name}/${holder.pid}` : `${holder.name}#${holder.client}`;
}

function note(volume: VolumeStatus): string {
  if (volume.error) return volume.error;
  if (volume.stale && volume.stale.length > 0) return volume.stale.map((s) => `${s.name}: ${s.reason}`).join('; ');
  return '-';
}

// Shrink the flexible columns (the volume id keeps its tail, the others are cut at the end).
function fit(widths: number[], width: number): void {
  let excess = widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1) - width;
  for (const { column, min } of SHRINK_ORDER) {
    if (excess <= 0) return;
    const cut = Math.min(excess, Math.max(0, widths[column]! - min));
    widths[column] = widths[column]! - cut;
    excess -= cut;
  }
}

function clip(text: string, width: number, keepTail: boolean): string {
  if (text.length <= width) return text;
  if (width <= 1) return text.slice(0, width);
  return keepTail ? `…${text.slice(text.length - width + 1)}` : `${text.slice(0, width - 1)}…`;
}
