import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/schema.js';
import { CLI } from '../cli/run-cli.js';

/** The shipped systemd units and example config (packaging/). */
const PACKAGING = new URL('../../packaging/', import.meta.url);
const SYSTEM_UNIT = readFileSync(new URL('volwarden.service', PACKAGING), 'utf8');
const USER_UNIT = readFileSync(new URL('volwarden-user.service', PACKAGING), 'utf8');
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const run = promisify(execFile);

/** The `Key=value` lines of one section, comments dropped (later assignments win, as in systemd). */
function section(unit: string, name: string): Map<string, string> {
  const body = unit.split(/^\[/m).find((s) => s.startsWith(`${name}]`)) ?? '';
  const keys = new Map<string, string>();
  for (const line of body.split('\n').slice(1)) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) keys.set(m[1], m[2]);
  }
  return keys;
}

describe('packaging/volwarden.service', () => {
  const service = section(SYSTEM_UNIT, 'Service');

  it('reports readiness through a child systemd-notify and reloads on SIGHUP', () => {
    expect(service.get('Type')).toBe('notify');
    expect(service.get('NotifyAccess')).toBe('all');
    expect(service.get('ExecStart')).toBe('/usr/bin/env volwarden daemon --config /etc/volwarden/config.json');
    expect(service.get('ExecReload')).toMatch(/^(\/bin\/)?kill -HUP \$MAINPID$/);
  });

  it('gives the daemon time to stop its helpers and restarts it only on failure', () => {
    expect(service.get('KillMode')).toBe('mixed');
    expect(Number(service.get('TimeoutStopSec'))).toBeGreaterThan(10);
    expect(service.get('Restart')).toBe('on-failure');
  });

  it('lets systemd create the root default socket and state directories', () => {
    expect(service.get('RuntimeDirectory')).toBe('volwarden');
    expect(service.get('StateDirectory')).toBe('volwarden');
  });

  it('is hardened without taking write access to volumes away from helpers', () => {
    expect(service.get('ProtectSystem')).toBe('full');
    for (const key of ['PrivateTmp', 'NoNewPrivileges', 'ProtectKernelTunables', 'ProtectControlGroups', 'RestrictSUIDSGID', 'LockPersonality']) {
      expect(service.get(key), key).toBe('yes');
    }
    // Volume ids come from /dev/disk/by-uuid; a volume may live under /home.
    expect(service.get('PrivateDevices')).toBeUndefined();
    expect(service.get('ProtectHome') ?? 'no').toBe('no');
  });
});

describe('packaging/volwarden-user.service', () => {
  const service = section(USER_UNIT, 'Service');

  it('uses the XDG runtime and state directories the CLI defaults to for a non-root user', () => {
    expect(service.get('Type')).toBe('notify');
    expect(service.get('NotifyAccess')).toBe('all');
    const exec = service.get('ExecStart') ?? '';
    expect(exec).toContain('--socket %t/volwarden/private/control.sock');
    expect(exec).toContain('--status-socket %t/volwarden/status.sock');
    expect(exec).toContain('--state-dir %S/volwarden');
    expect(section(USER_UNIT, 'Install').get('WantedBy')).toBe('default.target');
  });
});

describe('packaging/config.example.json', () => {
  it('is a valid daemon config (SPEC §13)', () => {
    const parsed = parseConfig(readFileSync(new URL('config.example.json', PACKAGING), 'utf8'), '/etc/volwarden');
    expect(parsed).toMatchObject({ ok: true, config: { discoverMounts: true } });
  });
});

describe('systemd-analyze verify', () => {
  const available = existsSync(SYSTEMD_ANALYZE);
  if (!available) console.warn(`skipping systemd-analyze verify: ${SYSTEMD_ANALYZE} is not installed`);
  const tmp = mkdtempSync(join(tmpdir(), 'vw-units-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  // verify reports unknown keys at info level and still exits 0: at that level any output is a failure.
  async function verify(file: string, user: boolean): Promise<string> {
    const env: NodeJS.ProcessEnv = { ...process.env, SYSTEMD_LOG_LEVEL: 'info', SYSTEMD_LOG_TARGET: 'console' };
    if (user) {
      // A user manager needs a runtime directory (%t) and a home.
      env.XDG_RUNTIME_DIR = join(tmp, 'runtime');
      env.HOME = tmp;
      mkdirSync(env.XDG_RUNTIME_DIR, { recursive: true, mode: 0o700 });
    }
    const { stdout, stderr } = await run(SYSTEMD_ANALYZE, [...(user ? ['--user'] : []), 'verify', file], { env });
    return `${stdout}${stderr}`.trim();
  }

  it.skipIf(!available)('accepts the system unit as shipped', async () => {
    expect(await verify(new URL('volwarden.service', PACKAGING).pathname, false)).toBe('');
  });

  it.skipIf(!available)('accepts the user unit as shipped', async () => {
    expect(await verify(new URL('volwarden-user.service', PACKAGING).pathname, true)).toBe('');
  });

  // verify checks that ExecStart's binary exists: point it at the built CLI, as a custom install would.
  it.skipIf(!available)('accepts the system unit with ExecStart pointing at an absolute node and CLI path', async () => {
    const launcher = join(tmp, 'volwarden');
    writeFileSync(launcher, `#!/bin/sh\nexec ${process.execPath} ${CLI} "$@"\n`);
    chmodSync(launcher, 0o755);
    const unit = join(tmp, 'volwarden.service');
    writeFileSync(unit, SYSTEM_UNIT.replace(/^ExecStart=\/usr\/bin\/env volwarden /m, `ExecStart=${launcher} `));
    expect(readFileSync(unit, 'utf8')).toContain(`ExecStart=${launcher} daemon`);
    expect(await verify(unit, false)).toBe('');
  });

  it.skipIf(!available)('reports a misspelt key in either unit, so the checks above would catch one', async () => {
    mkdirSync(join(tmp, 'typo'));
    const system = join(tmp, 'typo', 'volwarden.service');
    const user = join(tmp, 'typo', 'volwarden-user.service');
    writeFileSync(system, SYSTEM_UNIT.replace(/^NotifyAccess=all$/m, 'NotifyAcces=all'));
    writeFileSync(user, USER_UNIT.replace(/^NotifyAccess=all$/m, 'NotifyAcces=all'));
    expect(await verify(system, false)).toContain("Unknown key 'NotifyAcces'");
    expect(await verify(user, true)).toContain("Unknown key 'NotifyAcces'");
  });
});
