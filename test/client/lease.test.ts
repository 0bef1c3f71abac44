import { describe, expect, it } from 'vitest';
import { createLease } from '../../src/client/lease.js';
import type { ClientConnection } from '../../src/client/connection.js';
import { WardenError, type ErrorCode } from '../../src/errors.js';

/** A connection whose `unlock_volume` replies the test scripts one by one ('OK' or an error name). */
function scriptedConnection(replies: Array<'OK' | ErrorCode>) {
  let hangUp!: () => void;
  const closed = new Promise<void>((resolve) => (hangUp = resolve));
  const sent: Record<string, unknown>[] = [];
  const conn: ClientConnection = {
    clientId: 1,
    rights: 'control',
    version: 'test',
    closed,
    async request(_routine, args = {}) {
      sent.push(args as Record<string, unknown>);
      const ret = replies.shift() ?? 'OK';
      if (ret === 'ECONNRESET') hangUp();
      if (ret !== 'OK') throw new WardenError(ret);
      return { ret };
    },
    send() {},
    onNotification: () => () => {},
    close: async () => hangUp(),
  };
  return { conn, sent, hangUp };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'OK',
    (e: unknown) => (e instanceof WardenError ? e.code : `not a WardenError: ${String(e)}`),
  );
}

const unsettled = Symbol('unsettled');
async function settledValue<T>(promise: Promise<T>): Promise<T | typeof unsettled> {
  return Promise.race([promise, new Promise<typeof unsettled>((r) => setTimeout(() => r(unsettled), 20))]);
}

describe('client lease', () => {
  it('can still be released after the daemon rejects a release with EINVAL', async () => {
    const { conn, sent } = scriptedConnection(['EINVAL', 'OK']);
    const lease = createLease(conn, 'path:/v', 5);
    expect(await codeOf(lease.release(1.5))).toBe('EINVAL');
    expect(await codeOf(lease.release(0))).toBe('OK');
    expect(sent.map((a) => a.status)).toEqual([1.5, 0]);
    expect(await codeOf(lease.release(0))).toBe('ENOLCK');
    expect(sent).toHaveLength(2);
  });

  it('still settles lost when the connection drops during a failed release', async () => {
    const { conn } = scriptedConnection(['ECONNRESET']);
    const lease = createLease(conn, 'path:/v', 5);
    expect(await codeOf(lease.release(0))).toBe('ECONNRESET');
    const reason = await settledValue(lease.lost);
    expect(reason).toBeInstanceOf(WardenError);
    expect((reason as WardenError).code).toBe('ECONNRESET');
  });

  it('settles lost with ENOENT when release finds the volume gone, and is used up', async () => {
    const { conn, sent } = scriptedConnection(['ENOENT']);
    const lease = createLease(conn, 'path:/v', 5);
    expect(await codeOf(lease.release(0))).toBe('ENOENT');
    const reason = await settledValue(lease.lost);
    expect((reason as WardenError).code).toBe('ENOENT');
    expect(await codeOf(lease.release(0))).toBe('ENOLCK');
    expect(sent).toHaveLength(1);
  });

  it('is used up when the daemon says this client is no longer the holder', async () => {
    const { conn, sent } = scriptedConnection(['EPERM']);
    const lease = createLease(conn, 'path:/v', 5);
    expect(await codeOf(lease.release(0))).toBe('EPERM');
    expect(await codeOf(lease.release(0))).toBe('ENOLCK');
    expect(sent).toHaveLength(1);
  });

  it('never settles lost after a successful release, even when the connection closes later', async () => {
    const { conn, hangUp } = scriptedConnection(['OK']);
    const lease = createLease(conn, 'path:/v', 5);
    await lease.release(0);
    hangUp();
    expect(await settledValue(lease.lost)).toBe(unsettled);
  });

  it('sends one unlock at a time, so a second release sees the first one succeed', async () => {
    const { conn, sent } = scriptedConnection(['OK', 'OK']);
    const lease = createLease(conn, 'path:/v', 5);
    const [first, second] = await Promise.all([codeOf(lease.release(0)), codeOf(lease.release(1))]);
    expect([first, second]).toEqual(['OK', 'ENOLCK']);
    expect(sent).toHaveLength(1);
  });
});
