import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { simulatedClock } from '../../src/adapters/clock.js';
import { DEFAULT_LIMITS, silentLogger, type ActorEnv } from '../../src/actors/env.js';
import { LocalLockBackend } from '../../src/actors/lock-runtime.js';
import { WardenError } from '../../src/errors.js';

// Property test (SPEC §5): random interleavings of lock / unlock / lock_cancel / time / client death /
// volume gone against a real LocalLockBackend on a simulated clock. A small reference model says what
// every answer must be; the §5 invariants are checked after every step.
// Reproduce a failure with FC_SEED=<seed printed by fast-check> (and its `path`).

const SEED = Number(process.env.FC_SEED ?? 0x5e_c5);
const SLOTS = 4;
const MAX_WAITERS = 3;

type Command =
  | { kind: 'lock'; slot: number; wait: boolean; timeoutMs?: number }
  | { kind: 'unlock'; slot: number; status: number; token: 'none' | 'current' | 'stale' }
  | { kind: 'cancel'; slot: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'die'; slot: number }
  | { kind: 'gone' };

const slot = fc.integer({ min: 0, max: SLOTS - 1 });
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('lock' as const), slot, wait: fc.boolean(), timeoutMs: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }) }, { requiredKeys: ['kind', 'slot', 'wait'] }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('unlock' as const), slot, status: fc.constantFrom(0, 1), token: fc.constantFrom('none' as const, 'current' as const, 'stale' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), slot }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 60 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('die' as const), slot }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'gone' as const }) },
);

interface Request {
  id: number;
  client: number;
  /** Set once the promise settles: 'OK' or the error code. */
  answer?: string;
  token?: number;
  /** Its client died while it waited: it must never be answered. */
  orphaned?: boolean;
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs one interleaving and checks every answer against the reference model and the invariants. */
async function run(commands: Command[]): Promise<void> {
  const clock = simulatedClock();
  const env: ActorEnv = { clock, inspect: undefined, limits: { ...DEFAULT_LIMITS, maxWaiters: MAX_WAITERS }, log: silentLogger };
  const persisted: number[] = [];
  const observed: Array<{ type: 'granted' | 'released' | 'died'; client: number; token?: number }> = [];
  const backend = new LocalLockBackend(
    env,
    'path:/v',
    10,
    {
      granted: (holder, token) => observed.push({ type: 'granted', client: holder.client, token }),
      released: (holder) => observed.push({ type: 'released', client: holder.client }),
      holderDied: (holder) => observed.push({ type: 'died', client: holder.client }),
    },
    (token) => persisted.push(token),
  );

  // The reference model.
  const ids = Array.from({ length: SLOTS }, (_, i) => i + 1);
  let nextClient = SLOTS + 1;
  let holder = null as { client: number; token: number } | null;
  let queue: Array<{ request: Request; deadline: number | null }> = [];
  let token = 10;
  let gone = false;
  const requests: Request[] = [];
  const expected = new Map<number, string>();
  const expectedTokens = new Map<number, number>();

  const handoff = () => {
    const next = queue.shift();
    holder = next ? { client: next.request.client, token: ++token } : null;
    if (next) {
      expected.set(next.request.id, 'OK');
      expectedTokens.set(next.request.id, token);
    }
  };

  for (const command of commands) {
    const observedBefore = observed.length;
    const diedClient = command.kind === 'die' ? ids[command.slot]! : null;
    switch (command.kind) {
      case 'lock': {
        const client = ids[command.slot]!;
        const request: Request = { id: requests.length, client };
        requests.push(request);
        let code: string | null = null;
        if (gone) code = 'ENOENT';
        else if (holder?.client === client) code = 'EDEADLK';
        else if (queue.some((q) => q.request.client === client)) code = 'EALREADY';
        else if (holder && !command.wait) code = 'EBUSY';
        else if (holder && queue.length >= MAX_WAITERS) code = 'ENOBUFS';
        if (code) expected.set(request.id, code);
        else if (!holder) {
          holder = { client, token: ++token };
          expected.set(request.id, 'OK');
          expectedTokens.set(request.id, token);
        } else queue.push({ request, deadline: command.timeoutMs === undefined ? null : clock.now() + command.timeoutMs });

        const options = { wait: command.wait, ...(command.timeoutMs !== undefined ? { timeoutMs: command.timeoutMs } : {}) };
        backend.request({ client, name: `c${client}` }, options).then(
          (grant) => {
            // The token was persisted before the grant was answered.
            expect(persisted).toContain(grant.token);
            expect(request.answer).toBeUndefined();
            Object.assign(request, { answer: 'OK', token: grant.token });
          },
          (err: unknown) => {
            expect(request.answer).toBeUndefined();
            request.answer = err instanceof WardenError ? err.code : String(err);
          },
        );
        break;
      }
      case 'unlock': {
        const client = ids[command.slot]!;
        const given = command.token === 'none' ? undefined : command.token === 'current' ? token : token - 1;
        let code = 'OK';
        if (gone) code = 'ENOENT';
        else if (!holder) code = 'ENOLCK';
        else if (holder.client !== client || (given !== undefined && given !== holder.token)) code = 'EPERM';
        else handoff();
        let actual = 'OK';
        try {
          backend.unlock(client, command.status, given);
        } catch (err) {
          actual = err instanceof WardenError ? err.code : String(err);
        }
        expect(actual).toBe(code);
        break;
      }
      case 'cancel': {
        const client = ids[command.slot]!;
        const cancelled = queue.filter((q) => q.request.client === client);
        for (const q of cancelled) expected.set(q.request.id, 'ECANCELED');
        queue = queue.filter((q) => q.request.client !== client);
        backend.cancel(client);
        break;
      }
      case 'advance': {
        const now = clock.now() + command.ms;
        if (!gone) {
          for (const q of queue) if (q.deadline !== null && q.deadline <= now) expected.set(q.request.id, 'ETIMEDOUT');
          queue = queue.filter((q) => q.deadline === null || q.deadline > now);
        }
        clock.advance(command.ms);
        break;
      }
      case 'die': {
        const client = ids[command.slot]!;
        // A client's id is never reused: the slot gets a new client.
        ids[command.slot] = nextClient++;
        if (!gone) {
          for (const q of queue) if (q.request.client === client) q.request.orphaned = true;
          queue = queue.filter((q) => q.request.client !== client);
          if (holder?.client === client) handoff();
        }
        backend.clientDied(client);
        break;
      }
      case 'gone': {
        if (!gone) for (const q of queue) expected.set(q.request.id, 'ENOENT');
        queue = [];
        gone = true;
        backend.gone();
        break;
      }
    }
    await flush();

    // Every answer is the one the model expects, and nobody else has been answered.
    for (const request of requests) {
      if (request.orphaned) expect(request.answer, `request ${request.id} of a dead client`).toBeUndefined();
      else expect(request.answer, `request ${request.id}`).toBe(expected.get(request.id));
      if (expectedTokens.has(request.id)) expect(request.token).toBe(expectedTokens.get(request.id));
    }
    // At most one holder, and the lock agrees with the model on holder, waiters and token.
    const view = backend.view();
    expect(view.state).toBe(gone ? 'dead' : holder ? 'locked' : 'unlocked');
    if (!gone) {
      expect(view.holder?.client).toBe(holder?.client);
      expect(view.waiters).toBe(queue.length);
    }
    expect(view.token).toBe(token);
    // Grants carry consecutive tokens, each persisted; holders alternate with their release or death.
    const step = observed.slice(observedBefore);
    let last: number | null = null;
    for (const e of observed) {
      if (e.type === 'granted') {
        expect(last).toBeNull();
        last = e.client;
      } else {
        expect(e.client).toBe(last);
        last = null;
      }
    }
    if (!gone) expect(last).toBe(holder?.client ?? null);
    const grants = observed.filter((e) => e.type === 'granted').map((e) => e.token);
    expect(grants).toEqual(grants.map((_, i) => 11 + i));
    expect(persisted).toEqual(grants);
    // No lock outlives its holder's death.
    if (diedClient !== null && !gone) {
      expect(backend.holder()?.client).not.toBe(diedClient);
      expect(step.some((e) => e.type === 'granted' && e.client === diedClient)).toBe(false);
    }
  }

  // At the end, the volume goes: every request not orphaned by its client's death has exactly one answer.
  backend.gone();
  await flush();
  for (const request of requests) {
    if (request.orphaned) expect(request.answer).toBeUndefined();
    else expect(request.answer).toBeDefined();
  }
}

describe('LocalLockBackend (property)', () => {
  it('keeps the SPEC §5 invariants over random interleavings', async () => {
    await fc.assert(fc.asyncProperty(fc.array(commandArb, { maxLength: 60 }), run), { numRuns: 200, seed: SEED });
  });

  it('keeps them over long interleavings with a busy queue', async () => {
    const busy = fc.array(
      fc.oneof(commandArb, fc.record({ kind: fc.constant('lock' as const), slot, wait: fc.constant(true) })),
      { minLength: 80, maxLength: 150 },
    );
    await fc.assert(fc.asyncProperty(busy, run), { numRuns: 20, seed: SEED + 1 });
  });
});
