/**
 * Renders a `status` result for a person: a table whose fixed short columns keep their width
 * while the volume id, the last rebuild and the stale/error note shrink to fit (the last rebuild
 * is left out when even that is too wide), and below ~60 columns, where no table fits, a stacked
 * layout of a few short lines per volume. No line is ever wider than the width given.
 */
import type { StatusResult, VolumeStatus } from '../protocol/types.js';
import { escapeControl, escapeStrings } from '../safe-text.js';

/** The client id of the daemon's own rebuilds as a lock holder (SPEC §4). */
const DAEMON_CLIENT = 0;

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
/** Below this width the table cannot hold its short columns readably: volumes are stacked instead. */
const STACK_BELOW = 60;
const INDENT = '  ';
const SEPARATOR = ' · ';
/** A long error or stale note wraps onto at most this many lines in the stacked layout, the last cut. */
const MAX_NOTE_LINES = 3;

/**
 * The table, lines joined with `\n` (no trailing newline). `width` is the terminal width;
 * `undefined` (not a terminal) means no truncation. `now` (ms since epoch) dates the last rebuild.
 * Under 60 columns, or when even the shortened table does not fit, each volume gets a few
 * stacked lines instead (see `renderStacked`).
 *
 * @example
 * process.stdout.write(renderStatus(await client.status(), process.stdout.columns) + '\n');
 * // VOLUME      STATE  LOCK  WAITERS  TOKEN  FAILURES  LAST REBUILD     STALE/ERROR
 * // path:/data  idle   -     0        4      0         ok 26ms 12s ago  -
 */
export function renderStatus(raw: StatusResult, width?: number, now: number = Date.now()): string {
  // Ids, roots, names and reasons come from whoever can name a file or say hello: never raw to a terminal.
  const status = escapeStrings(raw);
  const head = headLine(status, width);
  if (status.volumes.length === 0) return [head, ...wrap('no volumes (a watched directory needs a .volwarden.json manifest)', width)].join('\n');
  if (width !== undefined && width < STACK_BELOW) return renderStacked(status, width, now);
  const rows = status.volumes.map((volume) => row(volume, now));
  const header = Object.fromEntries(HEADERS.map((h) => [h, h])) as Row;
  let columns: readonly Column[] = HEADERS;
  let widths = naturalWidths(columns, [header, ...rows]);
  if (width !== undefined && fit(columns, widths, width) > 0) {
    columns = HEADERS.filter((c) => c !== OPTIONAL);
    widths = naturalWidths(columns, [header, ...rows]);
    // A long state name (`rebuilding`) can still leave the table too wide: stack rather than wrap.
    if (fit(columns, widths, width) > 0) return renderStacked(status, width, now);
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

/**
 * The narrow-terminal layout: the short header, then per volume its id on one line and its
 * state, lock, waiters, token and failures packed below it, indented, followed by the last
 * rebuild and the first problem. Every line fits `width`; the id is cut from the left.
 *
 * @example
 * renderStacked(await client.status(), 40);
 * // daemon running · pid 812 · reboot free
 * // path:/srv/data
 * //   idle · unlocked · 0 waiting · token 7
 * //   0 failures · last ok 26ms 12s ago
 */
export function renderStacked(raw: StatusResult, width: number, now: number = Date.now()): string {
  const status = escapeStrings(raw);
  const lines = [headLine(status, width)];
  if (status.volumes.length === 0) lines.push(...wrap('no volumes (a watched directory needs a .volwarden.json manifest)', width));
  for (const volume of status.volumes) {
    lines.push(clip(volume.id, width, true));
    const { lock } = volume;
    const holder = lock.holder ? `locked by ${holderText(lock.holder)}` : lock.state;
    const last = volume.lastRebuild ? `last ${lastRebuild(volume, now)}` : 'never rebuilt';
    const facts = [volume.state, holder, `${lock.waiters} waiting`, `token ${lock.token}`, `${volume.failures} ${volume.failures === 1 ? 'failure' : 'failures'}`, last];
    lines.push(...pack(facts, width));
    const problem = note(volume);
    if (problem !== '-') lines.push(...noteLines(`${volume.error ? 'error' : 'stale'}: ${problem}`, width));
  }
  return lines.join('\n');
}

/**
 * How long until an age the table shows (`12s ago`, `5m ago`) reads differently, in ms; `undefined`
 * when no volume shows one. Lets a live view redraw its ages exactly when they change, from the
 * status it already has.
 *
 * @example
 * setTimeout(repaint, msUntilAgesChange(status, Date.now()) ?? 60_000);
 */
export function msUntilAgesChange(status: StatusResult, now: number = Date.now()): number | undefined {
  let soonest: number | undefined;
  for (const volume of status.volumes) {
    if (!volume.lastRebuild) continue;
    const elapsed = Math.max(0, now - volume.lastRebuild.at);
    const { ms: unit } = ageUnit(elapsed);
    const next = unit - (elapsed % unit);
    soonest = soonest === undefined ? next : Math.min(soonest, next);
  }
  return soonest;
}

// The wide header when it fits; else the same facts, shorter: the version goes first, then the
// pid, then words; the reboot lock stays to the last, as a reboot script is what waits on it.
function headLine(status: StatusResult, width: number | undefined): string {
  const { daemon, reboot } = status;
  const rebootText = reboot.holder ? `held by ${holderText(reboot.holder)}` : reboot.state;
  const candidates = [
    `daemon ${daemon.state} (pid ${daemon.pid}, version ${daemon.version}); reboot lock ${rebootText}`,
    `daemon ${daemon.state} · pid ${daemon.pid} · reboot ${rebootText}`,
    `daemon ${daemon.state} · reboot ${rebootText}`,
    `${daemon.state} · reboot ${rebootText}`,
  ];
  if (width === undefined) return candidates[0]!;
  return candidates.find((line) => line.length <= width) ?? clip(candidates[candidates.length - 1]!, width, false);
}

// Joins short facts with ` · ` into indented lines no wider than `width`, a fact never split.
function pack(facts: readonly string[], width: number): string[] {
  const room = Math.max(1, width - INDENT.length);
  const lines: string[] = [];
  let line = '';
  for (const fact of facts) {
    const piece = clip(fact, room, false);
    if (line === '') line = piece;
    else if (line.length + SEPARATOR.length + piece.length <= room) line += `${SEPARATOR}${piece}`;
    else {
      lines.push(line);
      line = piece;
    }
  }
  if (line !== '') lines.push(line);
  return lines.map((l) => `${INDENT}${l}`.slice(0, width));
}

// The first problem, wrapped under its volume; a cut one ends in `…` so it reads as cut.
function noteLines(text: string, width: number): string[] {
  const lines = wrap(text, width, INDENT, INDENT + INDENT);
  if (lines.length <= MAX_NOTE_LINES) return lines;
  const kept = lines.slice(0, MAX_NOTE_LINES);
  const last = kept[MAX_NOTE_LINES - 1]!;
  kept[MAX_NOTE_LINES - 1] = last.length < width ? `${last}…` : `${last.slice(0, width - 1)}…`;
  return kept;
}

// Word-wraps prose to `width` (no limit when undefined), later lines indented deeper so they
// read as one note; a word longer than a line is cut.
function wrap(text: string, width: number | undefined, indent = '', hanging = indent): string[] {
  if (width === undefined) return [`${indent}${text}`];
  const lines: string[] = [];
  let line = '';
  const room = () => Math.max(1, width - (lines.length === 0 ? indent : hanging).length);
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    const piece = clip(word, room(), false);
    if (line === '') line = piece;
    else if (line.length + 1 + piece.length <= room()) line += ` ${piece}`;
    else {
      lines.push(line);
      line = clip(word, room(), false);
    }
  }
  if (line !== '') lines.push(line);
  return lines.map((l, i) => `${i === 0 ? indent : hanging}${l}`.slice(0, width));
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
  return formatHolder(holder);
}

/**
 * A lock or reboot lock holder for a person: `name/pid`, with a `?` after a pid the client only
 * claimed in its `hello` (the daemon cannot verify it: Node has no SO_PEERCRED); the daemon's own
 * rebuilds (client 0) hold as `volwarden` with the daemon's real pid. Control characters escaped.
 *
 * @example
 * formatHolder({ client: 3, name: 'backup', pid: 4242 });   // 'backup/4242?'
 * formatHolder({ client: 0, name: 'volwarden', pid: 812 }); // 'volwarden/812'
 */
export function formatHolder(holder: { name: string; pid?: number; client: number }): string {
  const name = escapeControl(holder.name);
  if (holder.pid === undefined) return `${name}#${holder.client}`;
  return holder.client === DAEMON_CLIENT ? `${name}/${holder.pid}` : `${name}/${holder.pid}?`;
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

/** The unit an age of `ms` is shown in; `msUntilAgesChange` ticks with the same units. */
function ageUnit(ms: number): { ms: number; suffix: string } {
  if (ms < 60_000) return { ms: 1000, suffix: 's' };
  if (ms < 3_600_000) return { ms: 60_000, suffix: 'm' };
  if (ms < 48 * 3_600_000) return { ms: 3_600_000, suffix: 'h' };
  return { ms: 86_400_000, suffix: 'd' };
}

function age(ms: number): string {
  const elapsed = Math.max(0, ms);
  const unit = ageUnit(elapsed);
  return `${Math.floor(elapsed / unit.ms)}${unit.suffix}`;
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
