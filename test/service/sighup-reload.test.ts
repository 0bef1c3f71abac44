import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Lease, type WardenClient } from '../../src/client/index.js';
import { shortTempDir } from '../adapters/socket-server.helpers.js';
import { assertBuilt, startCli, startDaemon, stopDaemon, type CliProcess } from '../cli/run-cli.js';
import { eventually, makeVolume } from '../integration/helpers.js';

assertBuilt();

/** `systemctl reload volwarden` (ExecReload sends SIGHUP): the daemon follows its config file (SPEC §13). */
describe('volwarden daemon on SIGHUP', () => {
  const tmp = shortTempDir();
  const a = makeVolume();
  const b = makeVolume();
  const socket = join(tmp.dir, 'c.sock');
  const config = join(tmp.dir, 'config.json');
  const idA = `path:${a.root}`;
  const idB = `path:${b.root}`;
  let daemon: CliProcess;
  let holder: WardenClient;
  let waiter: WardenClient;
  let lease: Lease;
  let queued: Promise<unknown>;

  const writeConfig = (body: Record<string, unknown>) =>
    writeFileSync(config, JSON.stringify({ socket, statusSocket: join(tmp.dir, 's.sock'), stateDir: join(tmp.dir, 'state'), settleMs: 50, ...body }));
  const logLines = () =>
    daemon.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; error?: string });
  const said = (msg: string) => logLines().filter((l) => l.msg === msg).length;

  /** Sends SIGHUP and resolves once the daemon has logged the outcome of this reload. */
  async function hangUp(outcome: string): Promise<void> {
    const before = said(outcome);
    daemon.child.kill('SIGHUP');
    await eventually(() => said(outcome), (n) => n > before || daemon.child.exitCode !== null);
    expect(daemon.child.exitCode).toBeNull();
  }

  const volumes = async () => (await holder.status()).volumes.map((v) => v.id).sort();

  beforeAll(async () => {
    writeConfig({ roots: [a.root] });
    daemon = await startDaemon(['--config', config]);
    holder = await connect({ socket, name: 'hup-holder' });
    waiter = await connect({ socket, name: 'hup-waiter' });
    await eventually(() => holder.status(idA), (s) => s.volumes[0]?.state === 'idle');
    lease = await holder.lockVolume(idA);
    queued = waiter.lockVolume(idA, { wait: true }).catch((err: unknown) => err);
    await eventually(() => holder.status(idA), (s) => s.volumes[0]?.lock.waiters === 1);
  });

  afterAll(async () => {
    await holder?.close();
    await waiter?.close();
    await stopDaemon(daemon);
    a.cleanup();
    b.cleanup();
    tmp.cleanup();
  });

  it('adds a root from the rewritten config and keeps the held lock, its holder and waiter', async () => {
    const before = (await holder.status(idA)).volumes[0]!;
    writeConfig({ roots: [a.root, b.root] });
    await hangUp('SIGHUP: config reloaded');
    expect(await volumes()).toEqual([idA, idB].sort());
    const after = (await holder.status(idA)).volumes[0]!;
    expect(after.lock).toEqual(before.lock);
    expect(after.lock).toMatchObject({ state: 'locked', holder: { name: 'hup-holder' }, waiters: 1 });
  });

  it('logs one error line for an invalid config and keeps running with the config it had', async () => {
    writeFileSync(config, JSON.stringify({ roots: [a.root], rootz: [b.root] }));
    await hangUp('SIGHUP: config invalid; keeping the running config');
    const errors = logLines().filter((l) => l.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0].error).toContain('rootz');
    expect(await volumes()).toEqual([idA, idB].sort());
    expect((await holder.status(idA)).volumes[0]!.lock).toMatchObject({ holder: { name: 'hup-holder' }, waiters: 1 });
  });

  it('drops a root that left the config: its holder loses the lock and its waiter gets ENOENT', async () => {
    writeConfig({ roots: [b.root] });
    await hangUp('SIGHUP: config reloaded');
    await eventually(volumes, (ids) => ids.length === 1);
    expect(await volumes()).toEqual([idB]);
    expect(await queued).toMatchObject({ code: 'ENOENT' });
    await expect(lease.release(0)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

/** SIGHUP also carries new rebuilder definitions and defaults to volumes that keep running. */
describe('volwarden daemon on SIGHUP with changed rebuilders', () => {
  const tmp = shortTempDir();
  const vol = makeVolume({
    manifest: { version: 1, caches: [{ name: 'out', output: 'cache/out.txt', sources: ['src'] }], rebuilder: 'rb' },
  });
  const socket = join(tmp.dir, 'c.sock');
  const config = join(tmp.dir, 'config.json');
  const id = `path:${vol.root}`;
  let daemon: CliProcess;
  let client: WardenClient;

  /** A rebuilder that records its name in cache/who.log, then builds. */
  const rebuilder = (name: string) => ({ command: ['sh', '-c', `echo ${name} >> cache/who.log; cat src/*.txt > cache/out.txt`] });
  const writeConfig = (body: Record<string, unknown>) =>
    writeFileSync(config, JSON.stringify({ roots: [vol.root], socket, statusSocket: join(tmp.dir, 's.sock'), stateDir: join(tmp.dir, 'state'), settleMs: 50, ...body }));
  const who = () => {
    try {
      return readFileSync(join(vol.root, 'cache', 'who.log'), 'utf8').trim().split('\n');
    } catch {
      return [];
    }
  };
  const reloads = () => daemon.stdout.split('\n').filter((l) => l.includes('"SIGHUP: config reloaded"')).length;
  async function hangUp(): Promise<void> {
    const before = reloads();
    daemon.child.kill('SIGHUP');
    await eventually(reloads, (n) => n > before);
  }

  beforeAll(async () => {
    writeConfig({ rebuilders: { rb: rebuilder('first') } });
    daemon = await startDaemon(['--config', config]);
    client = await connect({ socket, name: 'hup' });
    await eventually(() => client.status(id), (s) => s.volumes[0]?.state === 'idle' && s.volumes[0].lastRebuild !== null);
  });

  afterAll(async () => {
    await client?.close();
    await stopDaemon(daemon);
    vol.cleanup();
    tmp.cleanup();
  });

  it('runs the new command of a rebuilder on the next rebuild', async () => {
    expect(who()).toEqual(['first']);
    writeConfig({ rebuilders: { rb: rebuilder('second') } });
    await hangUp();
    writeFileSync(join(vol.root, 'src', 'a.txt'), 'changed after the reload\n');
    await eventually(who, (names) => names.length === 2);
    expect(who()).toEqual(['first', 'second']);
  });

  it('makes a volume invalid when its rebuilder leaves the config, keeping its lock, and valid again when it returns', async () => {
    // The rebuild of the test before may still hold the lock: queue behind it.
    const lease = await client.lockVolume(id, { wait: true });
    writeConfig({ rebuilders: { other: rebuilder('other') } });
    await hangUp();
    const invalid = await eventually(() => client.status(id), (s) => s.volumes[0]?.state === 'invalid');
    expect(invalid.volumes[0]!.error).toContain('rb');
    expect(invalid.volumes[0]!.lock).toMatchObject({ state: 'locked', holder: { name: 'hup' } });
    writeConfig({ rebuilders: { rb: rebuilder('third') } });
    await hangUp();
    await eventually(() => client.status(id), (s) => s.volumes[0]?.state === 'idle');
    await lease.release(0);
  });

  it('warns that a changed socket path needs a restart, and keeps answering on the old one', async () => {
    writeFileSync(config, JSON.stringify({ roots: [vol.root], socket: join(tmp.dir, 'moved.sock'), statusSocket: join(tmp.dir, 's.sock'), stateDir: join(tmp.dir, 'state'), rebuilders: { rb: rebuilder('third') } }));
    await hangUp();
    expect(daemon.stdout).toMatch(/SIGHUP: socket changed; restart the daemon to apply it/);
    expect((await client.status(id)).volumes[0]!.state).not.toBe('gone');
  });
});
