import { describe, expect, it } from 'vitest';
import * as machines from '../../src/machines/index.js';

describe('volwarden/machines', () => {
  it('exports a pure machine for every actor of SPEC §2, each with a description', () => {
    const exported = {
      warden: machines.wardenMachine,
      volume: machines.volumeMachine,
      lock: machines.lockMachine,
      waiter: machines.waiterMachine,
      client: machines.clientMachine,
      rebootLock: machines.rebootLockMachine,
      subscriber: machines.subscriberMachine,
    };
    for (const [id, machine] of Object.entries(exported)) {
      expect(machine.id, id).toBe(id);
      expect(machine.root.description, id).toBeTruthy();
    }
  });
});
