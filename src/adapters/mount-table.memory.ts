/**
 * The in-memory twin of the mount table: tests mount, unmount, remount and move file systems
 * and every watcher hears about it at once (synchronously), so no polling is simulated.
 */
import type { MountAdapter, MountEntry, WatchHandle } from './types.js';

/**
 * A `MountAdapter` whose table the test edits.
 *
 * @example
 * const mounts = new MemoryMountTable([{ mountPoint: '/', fsType: 'ext4', source: '/dev/vda', readOnly: false }]);
 * mounts.mount({ mountPoint: '/media/usb', fsType: 'vfat', source: '/dev/sdb1', readOnly: false, uuid: '1234-ABCD' });
 * mounts.unmount('/media/usb'); // watchers are called before this returns
 */
export class MemoryMountTable implements MountAdapter {
  private entries: MountEntry[];
  private readonly listeners = new Set<() => void>();

  constructor(initial: MountEntry[] = []) {
    this.entries = initial.map((entry) => ({ ...entry }));
  }

  async list(): Promise<MountEntry[]> {
    return this.snapshot();
  }

  /** The current table, synchronously (copies). */
  snapshot(): MountEntry[] {
    return this.entries.map((entry) => ({ ...entry }));
  }

  watch(onChange: () => void): WatchHandle {
    // A fresh wrapper per call, so watching twice with one callback yields two subscriptions.
    const listener = (): void => onChange();
    this.listeners.add(listener);
    return {
      close: async () => {
        this.listeners.delete(listener);
      },
    };
  }

  /** Mounts on top of whatever is at `entry.mountPoint` (mounts stack, as in the kernel). */
  mount(entry: MountEntry): void {
    this.entries.push({ ...entry });
    this.notify();
  }

  /** Removes the topmost mount at `mountPoint`; returns false (and tells nobody) when there is none. */
  unmount(mountPoint: string): boolean {
    const index = this.topmost(mountPoint);
    if (index < 0) return false;
    this.entries.splice(index, 1);
    this.notify();
    return true;
  }

  /** Changes the topmost mount at `mountPoint` (e.g. `{ readOnly: true }` for `mount -o remount,ro`). */
  remount(mountPoint: string, patch: Partial<Omit<MountEntry, 'mountPoint'>>): boolean {
    const index = this.topmost(mountPoint);
    if (index < 0) return false;
    this.entries[index] = { ...this.entries[index], ...patch, mountPoint };
    this.notify();
    return true;
  }

  /** `mount --move`: the topmost mount at `from` and every mount beneath it move to `to`. */
  move(from: string, to: string): boolean {
    const index = this.topmost(from);
    if (index < 0) return false;
    this.entries = this.entries.map((entry, i) => {
      if (i === index) return { ...entry, mountPoint: to };
      if (i > index && isBelow(entry.mountPoint, from)) return { ...entry, mountPoint: to + entry.mountPoint.slice(from.length) };
      return entry;
    });
    this.notify();
    return true;
  }

  private topmost(mountPoint: string): number {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (this.entries[i].mountPoint === mountPoint) return i;
    }
    return -1;
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

function isBelow(path: string, dir: string): boolean {
  return dir === '/' ? path !== '/' : path.startsWith(`${dir}/`);
}
