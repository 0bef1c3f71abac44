/**
 * Counts the inotify watches this process holds, for the startup log line of SPEC §3 ("watch
 * budget"): Linux lists each watch as an `inotify wd:` line in the fd's /proc fdinfo.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

/**
 * The number of inotify watches held by this process, or `null` where /proc cannot tell.
 *
 * @example
 * log.info({ watches: await countInotifyWatches(), limit: await inotifyWatchLimit() }, 'watch budget');
 */
export async function countInotifyWatches(): Promise<number | null> {
  let fds: string[];
  try {
    fds = await readdir('/proc/self/fd');
  } catch {
    return null;
  }
  let watches = 0;
  for (const fd of fds) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target !== 'anon_inode:inotify') continue;
    const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8').catch(() => '');
    watches += info.split('\n').filter((line) => line.startsWith('inotify wd:')).length;
  }
  return watches;
}
