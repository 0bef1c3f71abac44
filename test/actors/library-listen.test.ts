import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWarden, WardenError, type WardenHandle } from '../../src/index.js';
import { connect, type WardenClient } from '../../src/client/index.js';
import { shortTempDir } from '../adapters/socket-server.helpers.js';

/** `warden.listen` (SPEC §10, §12) on real Unix sockets in a short temp directory. */
describe('warden.listen', () => {
  let dir: string;
  let cleanup: () => void;
  let warden: WardenHandle;
  const clients: WardenClient[] = [];

  beforeEach(() => {
    ({ dir, cleanup } = shortTempDir());
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await warden?.stop();
    cleanup();
  });

  async function client(name: string): Promise<WardenClient> {
    const c = await connect({ socket: join(dir, 'c.sock'), name });
    clients.push(c);
    return c;
  }

  it('limits socket connections to maxClients without counting in-process clients', async () => {
    warden = createWarden({ roots: [], limits: { maxClients: 1 } });
    await warden.listen({ socket: join(dir, 'c.sock') });
    await warden.start();
    // An in-process caller is a client too (SPEC §1), but not a connection (SPEC §10).
    const reboot = await warden.lockReboot({ owner: 'shutdown' });
    const first = await client('first');
    expect(first.clientId).toBeGreaterThan(0);
    await expect(client('second')).rejects.toMatchObject({ code: 'EMFILE' });
    await first.close();
    await expect(client('third')).resolves.toMatchObject({ rights: 'control' });
    await reboot.release();
  });

  it('closes the control socket again when the status socket cannot be opened', async () => {
    writeFileSync(join(dir, 'file'), 'not a directory');
    warden = createWarden({ roots: [] });
    const err = await warden.listen({ socket: join(dir, 'c.sock'), statusSocket: join(dir, 'file', 's.sock') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WardenError);
    expect((err as WardenError).code).toBe('EINVAL');
    expect((err as WardenError).message).toContain(join(dir, 'file', 's.sock'));
    expect((err as WardenError).message).toMatch(/choose another --status-socket$/);
    expect(existsSync(join(dir, 'c.sock'))).toBe(false);
    await expect(client('late')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    // Nothing half-open stays behind: the same warden can listen again on good paths.
    await warden.listen({ socket: join(dir, 'c.sock'), statusSocket: join(dir, 's.sock') });
    await expect(client('again')).resolves.toMatchObject({ rights: 'control' });
  });

  it('refuses a status socket path longer than a Unix socket can be, keeping no files', async () => {
    warden = createWarden({ roots: [] });
    const long = join(dir, `${'s'.repeat(120)}.sock`);
    const err = await warden.listen({ socket: join(dir, 'c.sock'), statusSocket: long }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EINVAL' });
    expect((err as WardenError).message).toMatch(/longer than 107 bytes: choose a shorter --status-socket$/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
