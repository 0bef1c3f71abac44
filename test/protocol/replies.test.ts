import { describe, expect, it } from 'vitest';
import { BAD_MESSAGE_FRAME, MESSAGE_TOO_LARGE_FRAME, TOO_MANY_CLIENTS_FRAME, errorReply, okReply } from '../../src/protocol/replies.js';

describe('replies', () => {
  it('okReply echoes seq, offsets the id by 100 and carries result fields', () => {
    expect(okReply({ id: 1001, seq: 7 }, { token: 3 })).toEqual({ id: 1101, seq: 7, ret: 'OK', token: 3 });
    expect(okReply({ id: 1005, seq: 1 })).toEqual({ id: 1105, seq: 1, ret: 'OK' });
  });

  it('errorReply carries the code and extra fields', () => {
    expect(errorReply({ id: 1004, seq: 2 }, 'EBUSY', { busyVolume: 'path:/v' })).toEqual({ id: 1104, seq: 2, ret: 'EBUSY', busyVolume: 'path:/v' });
  });

  it('keeps id, seq and ret first on the wire and never lets fields override them', () => {
    const reply = okReply({ id: 1000, seq: 1 }, { ret: 'EPERM', id: 5, client: 2 });
    expect(JSON.stringify(reply)).toBe('{"id":1100,"seq":1,"ret":"OK","client":2}');
  });

  it('has the connection-level frames of SPEC §10', () => {
    expect(JSON.stringify(BAD_MESSAGE_FRAME)).toBe('{"id":0,"ret":"EBADMSG"}');
    expect(JSON.stringify(MESSAGE_TOO_LARGE_FRAME)).toBe('{"id":0,"ret":"EMSGSIZE"}');
    expect(JSON.stringify(TOO_MANY_CLIENTS_FRAME)).toBe('{"id":0,"ret":"EMFILE"}');
  });
});
