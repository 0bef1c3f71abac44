import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, assertBuilt, runCli, type CliResult } from '../cli/run-cli.js';
import { eventually, makeVolume, shortTmp } from './helpers.js';

/**
 * Issue 17 finding 2, black-box: a hostile local user who can write a socket directory (or made
 * the victim's default `/tmp/volwarden-UID` first) must get neither a daemon listening there nor
 * a victim client talking to their fake daemon. Other uids through `setpriv`, so root only.
 */
const FAKE_DAEMON = fileURLToPath(new URL('./fixtures/fake-daemon.mjs', import.meta.url));
const VICTIM = 65534;
const ATTACKER = 65533;
const isRoot = process.geteuid?.() === 0;
if (!isRoot) console.log('socket-dirs.test.ts: skipped: running other uids (setpriv) needs root');

interface Running {
  stdout: string;
  stderr: string;
  done: Promise<CliResult>;
  kill(): void;
}

// `argv` run as `uid` (gid the same, no supplementary groups), with exactly `env`.
function runAs(uid: number, argv: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn('setpriv', ['--reuid', String(uid), '--regid', String(uid), '--clear-groups', ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (t: string) => (out.stdout += t));
  child.stderr.setEncoding('utf8').on('data', (t: string) => (out.stderr += t));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, ...out })));
  return {
    get stdout() {
      return out.stdout;
    },
    get stderr() {
      return out.stderr;
    },
    done,
    kill: () => void child.kill('SIGTERM'),
  };
}

describe.skipIf(!isRoot)('socket directories another user can write', () => {
  const cleanups: Array<() => void | Promise<void>> = [];
  beforeAll(() => assertBuilt());
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /** A sticky, world-writable stand-in for /tmp (TMPDIR), so no test touches the real default paths. */
  function stickyTmp(): string {
    const base = shortTmp('vw-sd-');
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    const tmp = path.join(base, 'tmp');
    mkdirSync(tmp);
    chmodSync(base, 0o755);
    chmodSync(tmp, 0o1777);
    return tmp;
  }

  /** A volume and a state directory the victim (nobody) can read and write. */
  function victimVolume(): { root: string; stateDir: string } {
    const vol = makeVolume();
    cleanups.push(vol.cleanup);
    chmodSync(vol.root, 0o755);
    const stateBase = shortTmp('vw-sd-state-');
    cleanups.push(() => rmSync(stateBase, { recursive: true, force: true }));
    const stateDir = path.join(stateBase, 'state');
    mkdirSync(stateDir);
    chownSync(stateDir, VICTIM, VICTIM);
    chmodSync(path.dirname(stateDir), 0o755);
    return { root: vol.root, stateDir };
  }

  /** The attacker's fake daemon, as their own uid, listening at `socketPath`. */
  async function fakeDaemonAs(uid: number, socketPath: string): Promise<void> {
    const fake = runAs(uid, [process.execPath, FAKE_DAEMON, socketPath], { PATH: process.env.PATH });
    cleanups.push(async () => {
      fake.kill();
      await fake.done;
    });
    await eventually(() => fake.stdout, (text) => text.includes('listening'));
  }

  it('the daemon refuses a --socket in a world-writable directory: one line, exit 77', async () => {
    const vol = makeVolume();
    cleanups.push(vol.cleanup);
    const base = shortTmp('vw-sd-');
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    const open = path.join(base, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const result = await runCli(['daemon', '--watch', vol.root, '--socket', path.join(open, 'c.sock'), '--status-socket', path.join(base, 's.sock'), '--state-dir', path.join(base, 'state')]);
    expect(result.code).toBe(77);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`directory ${open} is writable by every user (mode 0777)`);
    expect(existsSync(path.join(open, 'c.sock'))).toBe(false);
  });

  it("the non-root default /tmp/volwarden-UID made first by another uid: the daemon refuses, the victim's lock never runs its command", async () => {
    const tmp = stickyTmp();
    const { root, stateDir } = victimVolume();
    const runtime = path.join(tmp, `volwarden-${VICTIM}`);
    // The attacker creates the victim's default directory and serves a fake daemon in it.
    await fakeDaemonAs(ATTACKER, path.join(runtime, 'private', 'control.sock'));
    expect(statSync(runtime).uid).toBe(ATTACKER);

    const env = { PATH: process.env.PATH, HOME: '/nonexistent', TMPDIR: tmp };
    const daemon = await runAs(VICTIM, [process.execPath, CLI, 'daemon', '--watch', root, '--state-dir', stateDir], env).done;
    expect(daemon.code).toBe(77);
    expect(daemon.stderr).toContain(`directory ${runtime} is owned by uid ${ATTACKER}`);

    const marker = path.join(stateDir, 'ran');
    const lock = await runAs(VICTIM, [process.execPath, CLI, 'lock', root, '--', 'sh', '-c', `echo "token $VOLWARDEN_TOKEN" > ${marker}`], env).done;
    expect(lock.code).toBe(77);
    expect(lock.stderr).toContain(`refusing to use socket ${path.join(runtime, 'private', 'control.sock')}`);
    expect(existsSync(marker)).toBe(false);
  });

  it('the same default, free: the daemon makes it its own (0755, private/ 0700) and serves there', async () => {
    const tmp = stickyTmp();
    const { root, stateDir } = victimVolume();
    const env = { PATH: process.env.PATH, HOME: '/nonexistent', TMPDIR: tmp };
    const daemon = runAs(VICTIM, [process.execPath, CLI, 'daemon', '--watch', root, '--state-dir', stateDir], env);
    cleanups.push(async () => {
      daemon.kill();
      await daemon.done;
    });
    await eventually(() => daemon.stderr, (text) => text.includes('control socket') || text.includes('volwarden:'));
    const runtime = path.join(tmp, `volwarden-${VICTIM}`);
    expect(statSync(runtime)).toMatchObject({ uid: VICTIM });
    expect(statSync(runtime).mode & 0o7777).toBe(0o755);
    expect(statSync(path.join(runtime, 'private')).mode & 0o7777).toBe(0o700);
    const status = await runAs(VICTIM, [process.execPath, CLI, 'status', '--json'], env).done;
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).volumes).toHaveLength(1);
  });

  it("a victim's lock refuses a fake daemon in a world-writable --socket directory", async () => {
    const vol = makeVolume();
    cleanups.push(vol.cleanup);
    const base = shortTmp('vw-sd-');
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    const open = path.join(base, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    chmodSync(base, 0o755);
    const socket = path.join(open, 'c.sock');
    await fakeDaemonAs(VICTIM, socket);
    const marker = path.join(base, 'ran');
    const lock = await runCli(['lock', '--socket', socket, vol.root, '--', 'sh', '-c', `echo "token $VOLWARDEN_TOKEN" > ${marker}`]);
    expect(lock.code).toBe(77);
    expect(lock.stderr).toContain(`directory ${open} is writable by every user`);
    expect(existsSync(marker)).toBe(false);
  });
});
