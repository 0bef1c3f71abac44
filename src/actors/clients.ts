import { createActor, type Actor } from 'xstate';
import { clientMachine } from '../machines/client.js';
import type { HolderView, Rights } from '../protocol/types.js';
import type { ActorEnv } from './env.js';

/** One live client: a socket connection or an in-process caller. */
export interface ClientRecord {
  readonly id: number;
  readonly rights: Rights;
  readonly actor: Actor<typeof clientMachine>;
  alive: boolean;
}

/**
 * The warden's clients, each its own actor held in a Map (not spawned under one parent:
 * xstate copies a parent's children map on every spawn, which is quadratic at 10k clients).
 */
export class ClientRegistry {
  private readonly clients = new Map<number, ClientRecord>();
  private nextId = 1;

  constructor(
    private readonly env: ActorEnv,
    /** Delivers a death to every lock, waiter, reboot lock and subscriber (SPEC §5 Death). */
    private readonly onDeath: (id: number) => void,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** Ids start at 1; 0 is the daemon itself as a lock holder. */
  allocateId(): number {
    return this.nextId++;
  }

  add(id: number, rights: Rights, via: 'socket' | 'library', name?: string, pid?: number): ClientRecord {
    const actor = createActor(clientMachine, {
      id: `client:${id}`,
      input: { id, rights, via, ...(name !== undefined ? { name } : {}), ...(pid !== undefined ? { pid } : {}) },
      clock: this.env.clock,
      inspect: this.env.inspect,
    });
    return this.register(id, rights, actor);
  }

  private register(id: number, rights: Rights, actor: Actor<typeof clientMachine>): ClientRecord {
    const record: ClientRecord = { id, rights, actor, alive: true };
    this.clients.set(id, record);
    actor.start();
    return record;
  }

  /**
   * A socket connection; with `idleTimeoutMs` (status socket) its actor emits `idleTimedOut`
   * once it has held no subscription and awaited no reply for that long.
   */
  addConnection(id: number, rights: Rights, idleTimeoutMs?: number): ClientRecord {
    const actor = createActor(clientMachine, {
      id: `client:${id}`,
      input: { id, rights, via: 'socket', ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}) },
      clock: this.env.clock,
      inspect: this.env.inspect,
    });
    return this.register(id, rights, actor);
  }

  get(id: number): ClientRecord | undefined {
    return this.clients.get(id);
  }

  hello(id: number, name?: string, pid?: number): void {
    this.clients.get(id)?.actor.send({ type: 'HELLO_RECEIVED', ...(name !== undefined ? { name } : {}), ...(pid !== undefined ? { pid } : {}) });
  }

  /** How this client appears as a lock holder or waiter. */
  holderView(id: number): HolderView {
    const context = this.clients.get(id)?.actor.getSnapshot().context;
    return { client: id, name: context?.name ?? `client-${id}`, ...(context?.pid !== undefined ? { pid: context.pid } : {}) };
  }

  died(id: number): void {
    const record = this.clients.get(id);
    if (!record || !record.alive) return;
    record.alive = false;
    this.clients.delete(id);
    this.onDeath(id);
    record.actor.send({ type: 'DISCONNECTED' });
  }

  all(): ClientRecord[] {
    return [...this.clients.values()];
  }
}
