import type { ActorInfo, InspectRecord, MachineDefinition } from '../../src/inspect/records.js';
import { applyRecord, cloneView, emptyView, type ViewState } from './view-state.js';

/** A parsed `--record` trace: the definitions header and every record after it, in order. */
export interface Trace {
  machines: MachineDefinition[];
  /** The header is step 0; `records[i]` is applied at step `i + 1`. */
  records: InspectRecord[];
}

/**
 * Either a trace or one sentence saying what is wrong and on which line. A trace whose last
 * line was cut off comes back usable, with `note` saying what was left out.
 */
export type TraceResult = { ok: true; trace: Trace; note?: string } | { ok: false; error: string; line?: number };

/**
 * Parses a JSONL trace written by `volwarden daemon --record`. It never throws: a malformed or
 * foreign file comes back as `{ ok: false, error }` naming the line, for the page to show
 * instead of going blank. A last line cut off mid-write (the daemon was killed, or the file
 * copied while it was being written) only loses that line: the records before it load, with a `note`.
 *
 * @example
 * const result = readTrace(await file.text());
 * if (!result.ok) showError(result.error);
 * else if (result.note !== undefined) showNote(result.note);
 */
export function readTrace(text: string): TraceResult {
  const lines = text.split('\n');
  const endsWithNewline = text.endsWith('\n');
  let header: MachineDefinition[] | undefined;
  let note: string | undefined;
  const records: InspectRecord[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const raw = (lines[i] ?? '').trim();
    if (raw === '') continue;
    const lineNo = i + 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      const isLast = i === lines.length - 1 || (i === lines.length - 2 && lines[lines.length - 1] === '');
      if (isLast && !endsWithNewline) {
        if (header === undefined) return fail(lineNo, `line ${lineNo} is cut off: the trace looks truncated (was the daemon still writing it?)`);
        note = `the last line (${lineNo}) is cut off, as when the daemon is killed or the file is copied while it is written: showing the ${records.length} record(s) before it`;
        break;
      }
      return fail(lineNo, `line ${lineNo} is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
    }
    const problem = checkRecord(parsed);
    if (problem !== undefined) return fail(lineNo, `line ${lineNo}: ${problem}`);
    const record = parsed as InspectRecord;
    if (header === undefined) {
      if (record.kind !== 'machines') {
        return fail(lineNo, `line ${lineNo} is not a volwarden trace header: a trace starts with the machine definitions ({"kind":"machines",...}); record one with \`volwarden daemon --record FILE.jsonl\``);
      }
      header = record.machines;
      continue;
    }
    records.push(record);
  }
  if (header === undefined) {
    return { ok: false, error: 'the file is empty: a trace starts with a line of machine definitions' };
  }
  return note === undefined ? { ok: true, trace: { machines: header, records } } : { ok: true, trace: { machines: header, records }, note };
}

/**
 * Steps through a trace, giving the page's view at any step. Views are rebuilt from the nearest
 * checkpoint, so stepping back and forth through a long trace stays fast without keeping a
 * full copy of the view for every step.
 *
 * @example
 * const replay = new TraceReplay(trace);
 * replay.viewAt(replay.lastStep);
 */
export class TraceReplay {
  /**
   * The first step with any actor in view (`lastStep` when there is none), where the page opens
   * a trace: step 0 holds only the definitions, and a daemon's actors appear a few records in.
   */
  readonly firstActorStep: number;
  private readonly checkpoints: ViewState[] = [];

  constructor(readonly trace: Trace, private readonly every = 250) {
    const view = emptyView();
    applyRecord(view, { kind: 'machines', t: trace.records[0]?.t ?? 0, machines: trace.machines });
    view.t = null;
    this.checkpoints.push(cloneView(view));
    let firstActorStep: number | undefined;
    trace.records.forEach((record, index) => {
      applyRecord(view, record);
      if (firstActorStep === undefined && Object.keys(view.actors).length > 0) firstActorStep = index + 1;
      if ((index + 1) % every === 0) {
        this.checkpoints.push(cloneView(view));
      }
    });
    this.firstActorStep = firstActorStep ?? trace.records.length;
  }

  /** Steps run from 0 (header only) to `lastStep` (every record applied). */
  get lastStep(): number {
    return this.trace.records.length;
  }

  /** The view after the first `step` records. */
  viewAt(step: number): ViewState {
    const clamped = Math.max(0, Math.min(this.lastStep, Math.floor(step)));
    const index = Math.floor(clamped / this.every);
    const view = cloneView(this.checkpoints[index] ?? emptyView());
    for (let i = index * this.every; i < clamped; i += 1) {
      const record = this.trace.records[i];
      if (record !== undefined) applyRecord(view, record);
    }
    return view;
  }

  /** The record applied to reach `step` (none for step 0). */
  recordAt(step: number): InspectRecord | undefined {
    return step < 1 ? undefined : this.trace.records[step - 1];
  }
}

function fail(line: number, error: string): TraceResult {
  return { ok: false, error, line };
}

// Shallow shape checks: enough that the views never meet a value of the wrong type.
function checkRecord(value: unknown): string | undefined {
  if (!isObject(value) || typeof value.kind !== 'string') return 'not a trace record (expected a JSON object with a "kind")';
  if (typeof value.t !== 'number' || !Number.isFinite(value.t)) return `the ${value.kind} record has no time ("t")`;
  switch (value.kind) {
    case 'machines':
      return Array.isArray(value.machines) && value.machines.every(isMachine) ? undefined : 'the machine definitions are malformed';
    case 'machine':
      return isMachine(value.machine) ? undefined : 'the machine definition is malformed';
    case 'actors':
      if (!Array.isArray(value.actors) || !value.actors.every(isActor)) return 'the actor list is malformed';
      if (value.log !== undefined && (!Array.isArray(value.log) || !value.log.every(isEvent))) return 'the event log is malformed';
      return undefined;
    case 'actor':
      return isActor(value.actor) ? undefined : 'the actor is malformed';
    case 'removed':
      return typeof value.sessionId === 'string' && typeof value.id === 'string' ? undefined : 'the removed actor is malformed';
    case 'dropped':
      return typeof value.count === 'number' && typeof value.reason === 'string' ? undefined : 'the dropped note is malformed';
    case 'event':
      return isEvent(value) ? undefined : 'the event is malformed';
    default:
      return `unknown record kind "${value.kind}"`;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isMachine(value: unknown): value is MachineDefinition {
  return isObject(value) && typeof value.id === 'string' && isState(value.root);
}

function isState(value: unknown): boolean {
  return isObject(value) && typeof value.key === 'string' && typeof value.path === 'string'
    && typeof value.type === 'string' && Array.isArray(value.transitions) && Array.isArray(value.states)
    && value.transitions.every((t) => isObject(t) && typeof t.event === 'string' && Array.isArray(t.targets))
    && value.states.every(isState);
}

function isActor(value: unknown): value is ActorInfo {
  return isObject(value) && typeof value.sessionId === 'string' && typeof value.id === 'string'
    && typeof value.kind === 'string' && typeof value.status === 'string' && isObject(value.context);
}

function isEvent(value: unknown): boolean {
  return isObject(value) && typeof value.type === 'string' && typeof value.target === 'string'
    && (value.source === null || typeof value.source === 'string') && typeof value.t === 'number';
}
