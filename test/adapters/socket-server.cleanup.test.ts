import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { listenUnix } from '../../src/adapters/socket-server.js';
import { WardenError } from '../../src/errors.js';
import { connectRaw, shortTempDir } from './socket-server.helpers.js';

// A failure after the bind (here: the socket's chmod) is hard to cause for real; fake just that call.
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...real,
    chmod: async (path: string, mode: number) => {
      if (String(path).endsWith('broken.sock')) throw Object.assign(new Error(`EIO: i/o error, chmod '${path}'`), { code: 'EIO' });
      return real.chmod(path, mode);
    },
  };
});

describe('listenUnix after a failed bind step', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => {
    ({ dir, cleanup } = shortTempDir());
  });
  afterEach(() => cleanup());

  it('stops listening, removes the socket file and rejects with a WardenError', async () => {
    const path = join(dir, 'broken.sock');
    const handlers = { onConnection: () => true, onMessage: () => {}, onClose: () => {} };
    const error = await listenUnix({ path, rights: 'control', socketMode: 0o600, dirMode: 0o700, allocateId: () => 1, onError: () => {} }, handlers).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WardenError);
    expect((error as WardenError).message).toContain(path);
    expect(((error as WardenError).cause as NodeJS.ErrnoException).code).toBe('EIO');
    expect(existsSync(path)).toBe(false);
    await expect(connectRaw(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
