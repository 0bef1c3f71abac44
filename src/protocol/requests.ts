/**
 * Validation of incoming requests (SPEC §10). A request is `{id, seq, ...args}` on one line;
 * this turns it into a typed {@link Request} or into the exact reply the client must get.
 * Unknown extra keys are tolerated so newer clients can talk to older daemons.
 */
import { z } from 'zod';
import { EVENT_TYPES } from './events.js';
import { errorReply, type Reply } from './replies.js';
import { REPLY_OFFSET, ROUTINES, STATUS_RIGHTS_ROUTINES, type Rights, type RoutineName } from './types.js';

const int = () => z.number().int();
const volume = () => z.string().min(1).max(8192);
/** Node fires longer timers at once (TimeoutOverflowWarning): a huge `timeoutMs` would mean "now". */
const MAX_TIMER_MS = 2_147_483_647;

/** Argument schemas, one per routine: the single source of truth for what each accepts. */
export const REQUEST_SCHEMAS = {
  hello: z.object({ name: z.string().max(256).optional(), pid: int().optional() }),
  lock_volume: z.object({ volume: volume(), wait: z.boolean().default(false), timeoutMs: int().nonnegative().max(MAX_TIMER_MS).optional() }),
  unlock_volume: z.object({ volume: volume(), status: int().default(0), token: int().optional() }),
  lock_cancel: z.object({ volume: volume() }),
  lock_reboot: z.object({ wait: z.boolean().default(false) }),
  unlock_reboot: z.object({}),
  status: z.object({ volume: volume().optional() }),
  ack: z.object({ sub: int(), seq: int() }),
  subscribe: z.object({ volume: volume().default('*'), events: z.array(z.enum(EVENT_TYPES)).optional() }),
  unsubscribe: z.object({ sub: int() }),
  can_unmount: z.object({ volume: volume() }),
  check: z.object({ volume: volume() }),
  retry: z.object({ volume: volume() }),
  // Relay of the inspection stream (volwarden visualize): no arguments.
  inspect: z.object({}),
} satisfies Record<RoutineName, z.ZodType>;

/** The parsed arguments of one routine, defaults applied. */
export type RequestArgs<R extends RoutineName> = z.output<(typeof REQUEST_SCHEMAS)[R]>;

/** A validated request; switch on `routine` to get typed `args`. */
export type Request = {
  [R in RoutineName]: { routine: R; id: (typeof ROUTINES)[R]; seq: number; args: RequestArgs<R> };
}[RoutineName];

/** What {@link decodeRequest} returns: a request to dispatch, or the reply to send instead. */
export type DecodeResult = ({ ok: true } & Request) | { ok: false; reply: Reply };

const ROUTINE_BY_ID: ReadonlyMap<number, RoutineName> = new Map(
  (Object.entries(ROUTINES) as [RoutineName, number][]).map(([name, id]) => [id, name]),
);

/**
 * Validates one decoded line. Unknown integer `id` → `BAD_ID`; a routine the connection's
 * `rights` do not allow → `EPERM` (SPEC §5 checks rights first, before any argument); bad `id`,
 * `seq` or arguments → `EINVAL` with a one-line `error` naming the field. All keep the connection.
 *
 * @example
 * const decoded = decodeRequest({ id: 1001, seq: 7, volume: 'path:/data', wait: true });
 * if (!decoded.ok) conn.send(decoded.reply);
 * else if (decoded.routine === 'lock_volume') lock(decoded.args.volume, decoded.args.wait);
 */
export function decodeRequest(msg: Record<string, unknown>, rights: Rights = 'control'): DecodeResult {
  const { id, seq } = msg;
  const seqField = isInteger(seq) ? { seq } : {};
  if (!isInteger(id)) {
    return { ok: false, reply: { id: 0, ...seqField, ret: 'EINVAL', error: 'id: expected an integer routine id' } };
  }
  const routine = ROUTINE_BY_ID.get(id);
  if (routine === undefined) return { ok: false, reply: { id: id + REPLY_OFFSET, ...seqField, ret: 'BAD_ID' } };
  if (!isInteger(seq)) {
    return { ok: false, reply: { id: id + REPLY_OFFSET, ret: 'EINVAL', error: 'seq: expected an integer' } };
  }
  if (rights === 'status' && !STATUS_RIGHTS_ROUTINES.has(routine)) {
    return { ok: false, reply: errorReply({ id, seq }, 'EPERM', { error: `${routine} needs the control socket` }) };
  }
  const parsed = REQUEST_SCHEMAS[routine].safeParse(msg);
  if (!parsed.success) {
    return { ok: false, reply: errorReply({ id, seq }, 'EINVAL', { error: describeIssue(parsed.error.issues[0]) }) };
  }
  return { ok: true, routine, id, seq, args: parsed.data } as { ok: true } & Request;
}

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

// One line a person can act on: `timeoutMs: expected int, received number`.
function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (issue === undefined) return 'invalid arguments';
  const path = issue.path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc === '' ? String(key) : `${acc}.${String(key)}`),
    '',
  );
  const message = issue.message.replace(/^Invalid input: /, '').replace(/received undefined$/, 'but it is missing');
  return `${path || 'arguments'}: ${message}`;
}
