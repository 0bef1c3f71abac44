import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/schema.js';
import { WardenError } from '../../src/errors.js';

describe('daemon config schema', () => {
  it('accepts every key SPEC §13 lists', () => {
    const result = parseConfig(
      JSON.stringify({
        roots: ['/srv/a'], discoverMounts: true, socket: '/run/c.sock', statusSocket: '/run/s.sock', stateDir: '/var/lib/v',
        startupDelayMs: 0, settleMs: 5000, ackTimeoutMs: 2000, maxSubscribers: 8, maxWaiters: 10000, maxClients: 1024,
        maxQueuedEvents: 10000, maxFrameBytes: 65536, rebuilders: { docs: { command: ['/usr/bin/mkdocs'], timeoutSec: 60 } },
        inspect: { port: 8080 },
      }),
    );
    expect(result.ok).toBe(true);
  });

  it('lets a rebuilder name the user and group it runs as, by name or id, and refuses anything else', () => {
    const rebuilder = (extra: object) => parseConfig(JSON.stringify({ rebuilders: { docs: { command: ['/usr/bin/mkdocs'], ...extra } } }));
    expect(rebuilder({ user: 'builder', group: 'builders' }).ok).toBe(true);
    expect(rebuilder({ user: '65534', group: '65534' }).ok).toBe(true);
    expect(rebuilder({ user: '--reuid=0' })).toEqual({ ok: false, error: 'rebuilders.docs.user: must be a user or group name, or a numeric id' });
    expect(rebuilder({ group: 'a b' })).toEqual({ ok: false, error: 'rebuilders.docs.group: must be a user or group name, or a numeric id' });
  });

  it('names the JSON path of an unknown key, however deep', () => {
    expect(parseConfig('{"rootz": []}')).toEqual({ ok: false, error: 'rootz: unknown key' });
    expect(parseConfig('{"rebuilders": {"docs": {"command": ["x"], "timeoutSek": 1}}}')).toEqual({
      ok: false,
      error: 'rebuilders.docs.timeoutSek: unknown key',
    });
    expect(parseConfig('{"inspect": {"port": 1, "host": "0.0.0.0"}}')).toEqual({ ok: false, error: 'inspect.host: unknown key' });
  });

  it('names the JSON path of a mistyped value', () => {
    expect(parseConfig('{"settleMs": "5s"}')).toEqual({ ok: false, error: 'settleMs: must be a number' });
    expect(parseConfig('{"roots": ["/a", 3]}')).toEqual({ ok: false, error: 'roots[1]: must be a string' });
    expect(parseConfig('{"rebuilders": {"docs": {"command": []}}}')).toMatchObject({ ok: false, error: expect.stringMatching(/^rebuilders\.docs\.command: /) });
    expect(parseConfig('{nope')).toMatchObject({ ok: false, error: expect.stringMatching(/^\(root\): not valid JSON/) });
  });

  it('resolves relative paths against the config file directory', () => {
    const result = parseConfig('{"roots": ["vol"], "socket": "run/c.sock", "stateDir": "/abs"}', '/etc/volwarden');
    expect(result).toEqual({ ok: true, config: { roots: ['/etc/volwarden/vol'], socket: '/etc/volwarden/run/c.sock', stateDir: '/abs' } });
  });

  it('loadConfig throws an EINVAL WardenError that names the file and the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vw-cfg-'));
    try {
      const file = join(dir, 'config.json');
      writeFileSync(file, '{"maxClients": 0}');
      const err = await loadConfig(file).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WardenError);
      expect((err as WardenError).code).toBe('EINVAL');
      expect((err as WardenError).message).toBe(`config ${file}: maxClients: must be greater than 0`);
      await expect(loadConfig(join(dir, 'missing.json'))).rejects.toThrow(/no such file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
