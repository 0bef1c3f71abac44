import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * What `npm install -g volwarden` gives a machine: the packed tarball installed into a temp prefix,
 * run through the bin link npm creates (the path packaging/volwarden.service's ExecStart finds).
 */
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
const INSTALL_TIMEOUT_MS = 120_000;

// The outer `npm test` exports npm_config_* (prefix, cache, ...): the inner npm must not inherit them.
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.toLowerCase().startsWith('npm_')) env[key] = value;
  return env;
}

function npm(args: string[], cwd: string) {
  return run('npm', args, { cwd, env: npmEnv(), maxBuffer: 16 * 1024 * 1024, timeout: INSTALL_TIMEOUT_MS });
}

describe('npm pack and a global install', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vw-pack-'));
  const prefix = join(tmp, 'prefix');
  const bin = join(prefix, 'bin', 'volwarden');
  const installed = join(prefix, 'lib', 'node_modules', 'volwarden');
  let entries: string[] = [];

  beforeAll(async () => {
    if (!existsSync(join(REPO, 'dist', 'cli', 'main.js')) || !existsSync(join(REPO, 'visualizer', 'dist', 'index.html'))) {
      await npm(['run', 'build'], REPO);
    }
    // npm test built dist/ already; prepack would rebuild it under the other tests' feet.
    const { stdout } = await npm(['pack', '--ignore-scripts', '--pack-destination', tmp, '--json'], REPO);
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    entries = packed.files.map((f) => f.path);
    await npm(['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(tmp, packed.filename)], tmp);
  }, INSTALL_TIMEOUT_MS);

  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('packs the build, the visualizer, the systemd units and the example volume, and no sources or tests', () => {
    for (const file of [
      'dist/cli/main.js', 'dist/index.js', 'dist/index.d.ts', 'dist/client/index.js', 'dist/cli/sd-notify.js',
      'visualizer/dist/index.html', 'packaging/volwarden.service', 'packaging/volwarden-user.service',
      'packaging/config.example.json', 'examples/volume/.volwarden.json', 'README.md', 'package.json',
    ]) {
      expect(entries, file).toContain(file);
    }
    expect(entries.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
  });

  it('installs a volwarden binary whose help lists the daemon command', async () => {
    const { stdout } = await run(bin, ['--help']);
    expect(stdout).toMatch(/^\s+daemon \[options\]/m);
    expect(stdout).toMatch(/^\s+status \[options\]/m);
  });

  it('validates the example volume shipped in the package', async () => {
    const { stdout } = await run(bin, ['manifest', 'check', 'examples/volume'], { cwd: installed });
    expect(stdout.trim()).toMatch(/^ok\b/);
  });

  it('ships the units where the install instructions in them look', () => {
    expect(existsSync(join(installed, 'packaging', 'volwarden.service'))).toBe(true);
    expect(existsSync(join(installed, 'packaging', 'volwarden-user.service'))).toBe(true);
  });
});
