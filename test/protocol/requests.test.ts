import { describe, expect, it } from 'vitest';
import { decodeRequest } from '../../src/protocol/requests.js';

function rejected(msg: Record<string, unknown>) {
  const decoded = decodeRequest(msg);
  if (decoded.ok) throw new Error(`expected a rejection, got ${JSON.stringify(decoded)}`);
  return decoded.reply;
}

function accepted(msg: Record<string, unknown>) {
  const decoded = decodeRequest(msg);
  if (!decoded.ok) throw new Error(`expected acceptance, got ${JSON.stringify(decoded.reply)}`);
  return decoded;
}

describe('decodeRequest', () => {
  describe('framing fields', () => {
    it('answers BAD_ID for an unknown integer id and echoes seq', () => {
      expect(rejected({ id: 1999, seq: 4 })).toEqual({ id: 2099, seq: 4, ret: 'BAD_ID' });
      expect(rejected({ id: 2000, seq: 5 })).toEqual({ id: 2100, seq: 5, ret: 'BAD_ID' });
    });

    it('answers EINVAL with id 0 when the id is missing or not an integer', () => {
      for (const id of [undefined, '1000', 1000.5, null, NaN]) {
        const reply = rejected({ id, seq: 1 });
        expect(reply).toMatchObject({ id: 0, seq: 1, ret: 'EINVAL' });
        expect(reply.error).toMatch(/^id: /);
      }
    });

    it('answers EINVAL naming seq when seq is missing or mistyped', () => {
      for (const seq of [undefined, '1', 1.5]) {
        const reply = rejected({ id: 1006, seq });
        expect(reply).toEqual({ id: 1106, ret: 'EINVAL', error: 'seq: expected an integer' });
      }
    });

    it('tolerates unknown extra keys', () => {
      expect(accepted({ id: 1011, seq: 1, volume: 'path:/v', future: { x: 1 } }).args).toEqual({ volume: 'path:/v' });
    });
  });

  describe('each routine', () => {
    it('hello takes an optional name of at most 256 characters and an integer pid', () => {
      expect(accepted({ id: 1000, seq: 1 })).toEqual({ ok: true, routine: 'hello', id: 1000, seq: 1, args: {} });
      expect(accepted({ id: 1000, seq: 1, name: 'kextcache', pid: 42 }).args).toEqual({ name: 'kextcache', pid: 42 });
      expect(rejected({ id: 1000, seq: 1, name: 'x'.repeat(257) })).toMatchObject({ id: 1100, seq: 1, ret: 'EINVAL' });
      expect(rejected({ id: 1000, seq: 1, pid: '42' }).error).toMatch(/^pid: /);
    });

    it('lock_volume requires a volume and defaults wait to false', () => {
      expect(accepted({ id: 1001, seq: 2, volume: 'path:/v' })).toEqual({
        ok: true, routine: 'lock_volume', id: 1001, seq: 2, args: { volume: 'path:/v', wait: false },
      });
      expect(accepted({ id: 1001, seq: 2, volume: '/v', wait: true, timeoutMs: 0 }).args).toEqual({ volume: '/v', wait: true, timeoutMs: 0 });
      expect(rejected({ id: 1001, seq: 2 })).toEqual({ id: 1101, seq: 2, ret: 'EINVAL', error: 'volume: expected string, but it is missing' });
      expect(rejected({ id: 1001, seq: 2, volume: '/v', wait: 'yes' }).error).toMatch(/^wait: /);
      expect(rejected({ id: 1001, seq: 2, volume: '/v', timeoutMs: -1 }).error).toMatch(/^timeoutMs: /);
      expect(rejected({ id: 1001, seq: 2, volume: '/v', timeoutMs: 1.5 }).error).toMatch(/^timeoutMs: /);
    });

    it('unlock_volume defaults status to 0 and takes an integer token', () => {
      expect(accepted({ id: 1002, seq: 3, volume: '/v' }).args).toEqual({ volume: '/v', status: 0 });
      expect(accepted({ id: 1002, seq: 3, volume: '/v', status: 2, token: 9 }).args).toEqual({ volume: '/v', status: 2, token: 9 });
      expect(rejected({ id: 1002, seq: 3, volume: '/v', token: 'nine' }).error).toMatch(/^token: /);
      expect(rejected({ id: 1002, seq: 3, volume: '/v', status: true }).error).toMatch(/^status: /);
    });

    it('lock_cancel, can_unmount, check and retry require a volume', () => {
      for (const [id, routine] of [[1003, 'lock_cancel'], [1010, 'can_unmount'], [1011, 'check'], [1012, 'retry']] as const) {
        expect(accepted({ id, seq: 1, volume: 'uuid:abc' })).toMatchObject({ routine, args: { volume: 'uuid:abc' } });
        expect(rejected({ id, seq: 1 })).toMatchObject({ id: id + 100, seq: 1, ret: 'EINVAL' });
        expect(rejected({ id, seq: 1, volume: '' }).error).toMatch(/^volume: /);
      }
    });

    it('lock_reboot defaults wait to false', () => {
      expect(accepted({ id: 1004, seq: 1 })).toMatchObject({ routine: 'lock_reboot', args: { wait: false } });
      expect(accepted({ id: 1004, seq: 1, wait: true }).args).toEqual({ wait: true });
      expect(rejected({ id: 1004, seq: 1, wait: 1 }).error).toMatch(/^wait: /);
    });

    it('unlock_reboot takes no arguments', () => {
      expect(accepted({ id: 1005, seq: 1 })).toEqual({ ok: true, routine: 'unlock_reboot', id: 1005, seq: 1, args: {} });
    });

    it('status takes an optional volume', () => {
      expect(accepted({ id: 1006, seq: 1 }).args).toEqual({});
      expect(accepted({ id: 1006, seq: 1, volume: '/v' }).args).toEqual({ volume: '/v' });
      expect(rejected({ id: 1006, seq: 1, volume: 3 }).error).toMatch(/^volume: /);
    });

    it('ack carries the subscription and the notification seq', () => {
      expect(accepted({ id: 1007, sub: 3, seq: 12 })).toEqual({ ok: true, routine: 'ack', id: 1007, seq: 12, args: { sub: 3, seq: 12 } });
      expect(rejected({ id: 1007, seq: 12 })).toMatchObject({ id: 1107, seq: 12, ret: 'EINVAL' });
    });

    it('subscribe defaults volume to "*" and accepts only known event types', () => {
      expect(accepted({ id: 1008, seq: 1 }).args).toEqual({ volume: '*' });
      expect(accepted({ id: 1008, seq: 1, volume: '/v', events: ['lock.granted', 'volume.gone'] }).args).toEqual({
        volume: '/v', events: ['lock.granted', 'volume.gone'],
      });
      expect(rejected({ id: 1008, seq: 1, events: ['lock.granted', 'lock.stolen'] }).error).toMatch(/^events\[1\]: /);
      expect(rejected({ id: 1008, seq: 1, events: 'lock.granted' }).error).toMatch(/^events: /);
    });

    it('unsubscribe requires an integer sub', () => {
      expect(accepted({ id: 1009, seq: 1, sub: 2 }).args).toEqual({ sub: 2 });
      expect(rejected({ id: 1009, seq: 1 }).error).toMatch(/^sub: /);
    });
  });

  it('narrows args by routine', () => {
    const decoded = decodeRequest({ id: 1001, seq: 1, volume: '/v' });
    if (decoded.ok && decoded.routine === 'lock_volume') {
      const wait: boolean = decoded.args.wait;
      expect(wait).toBe(false);
    } else throw new Error('expected lock_volume');
  });
});
