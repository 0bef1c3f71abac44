import { describe, expect, it } from 'vitest';
import { defaultControlSocket, defaultPaths } from '../../src/config/paths.js';

describe('default paths', () => {
  it('puts root under /run/volwarden and /var/lib/volwarden', () => {
    expect(defaultPaths({ uid: 0, env: { XDG_RUNTIME_DIR: '/run/user/0' } })).toEqual({
      socket: '/run/volwarden/private/control.sock',
      statusSocket: '/run/volwarden/status.sock',
      stateDir: '/var/lib/volwarden',
    });
  });

  it('puts other users under XDG_RUNTIME_DIR and XDG_STATE_HOME', () => {
    expect(defaultPaths({ uid: 1000, env: { XDG_RUNTIME_DIR: '/run/user/1000', XDG_STATE_HOME: '/home/u/st' }, homedir: '/home/u' })).toEqual({
      socket: '/run/user/1000/volwarden/private/control.sock',
      statusSocket: '/run/user/1000/volwarden/status.sock',
      stateDir: '/home/u/st/volwarden',
    });
  });

  it('falls back to ~/.local/state and a per-user /tmp directory without XDG variables', () => {
    const paths = defaultPaths({ uid: 1000, env: {}, homedir: '/home/u' });
    expect(paths.stateDir).toBe('/home/u/.local/state/volwarden');
    expect(paths.socket).toMatch(/\/volwarden-1000\/private\/control\.sock$/);
  });

  it('prefers VOLWARDEN_SOCKET for clients, as the daemon sets it for helpers', () => {
    expect(defaultControlSocket({ uid: 1000, env: { VOLWARDEN_SOCKET: '/x/c.sock', XDG_RUNTIME_DIR: '/r' } })).toBe('/x/c.sock');
    expect(defaultControlSocket({ uid: 1000, env: { XDG_RUNTIME_DIR: '/r' } })).toBe('/r/volwarden/private/control.sock');
  });
});
