/**
 * What `manifest check` and `init` do (SPEC §3, §11): validate a manifest exactly as the daemon
 * would, or write a starter one. Loaded lazily: it pulls in the manifest schema.
 */
import { chmod, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createNodeFs } from '../adapters/fs.js';
import { loadConfig } from '../config/schema.js';
import { loadManifest } from '../manifest/load.js';
import { MANIFEST_FILE } from '../manifest/schema.js';
import { CliError, EXIT } from './exit-codes.js';

/** What `init` writes: valid as is, so `manifest check` passes before any edit. */
export const STARTER_MANIFEST = {
  version: 1,
  caches: [{ name: 'index', output: 'cache/index.txt', sources: ['src'] }],
  watch: [],
  command: ['./build-cache.sh'],
  lockMode: 'daemon',
  timeoutSec: 600,
};

// Without a config no rebuilder name can be checked, so every name passes (and the output says so).
class AnyRebuilder extends Set<string> {
  override has(): boolean {
    return true;
  }
}

/**
 * Validates `root`'s manifest; throws a `CliError` (65 invalid, 66 missing) with the JSON path.
 *
 * @example
 * const { text } = await checkManifest('/srv/data', undefined);   // 'ok: 2 caches'
 */
export async function checkManifest(root: string, configFile: string | undefined): Promise<{ caches: number; text: string }> {
  const config = configFile === undefined ? undefined : await loadConfig(configFile);
  const rebuilders = config ? new Set(Object.keys(config.rebuilders ?? {})) : new AnyRebuilder();
  const load = await loadManifest(createNodeFs(), root, {
    daemonUid: process.getuid?.() ?? 0,
    rebuilders,
    inProcessRebuild: false,
    rebuilderCommands: new Map(Object.entries(config?.rebuilders ?? {}).map(([name, spec]) => [name, spec.command])),
  });
  const file = path.join(root, MANIFEST_FILE);
  if (load.kind === 'missing') throw new CliError(EXIT.NOINPUT, `${file}: no manifest; create one with \`volwarden init ${root}\``);
  if (load.kind === 'invalid') throw new CliError(EXIT.DATAERR, `${file}: ${load.error}`);
  const n = load.manifest.caches.length;
  const unchecked = !config && load.manifest.rebuilder !== undefined ? ` (rebuilder "${load.manifest.rebuilder}" not checked: pass --config)` : '';
  return { caches: n, text: `ok: ${n} ${n === 1 ? 'cache' : 'caches'}${unchecked}` };
}

/**
 * Writes the starter manifest into `root` (mode 0644); exit 64 if one exists, 66 if no such dir.
 *
 * @example
 * const file = await writeStarter('/srv/data');
 */
export async function writeStarter(root: string): Promise<string> {
  const dirStat = await stat(root).catch(() => null);
  if (!dirStat?.isDirectory()) throw new CliError(EXIT.NOINPUT, `${root} is not a directory; create it first`);
  const file = path.join(root, MANIFEST_FILE);
  try {
    await writeFile(file, `${JSON.stringify(STARTER_MANIFEST, null, 2)}\n`, { flag: 'wx', mode: 0o644 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new CliError(EXIT.USAGE, `${file} already exists; edit it, or remove it first to start over`);
    }
    throw err;
  }
  // The umask may have taken bits away; an inline command needs exactly owner-write (SPEC §9).
  await chmod(file, 0o644);
  return file;
}
