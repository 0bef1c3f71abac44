import { describe, expect, it } from 'vitest';
import type { MountEntry } from '../../src/adapters/types.js';
import { normalizeRoot, volumeIdFor } from '../../src/adapters/volume-id.js';
import { WardenError } from '../../src/errors.js';

const mount = (mountPoint: string, uuid?: string): MountEntry => ({
  mountPoint, fsType: 'ext4', source: '/dev/sdb1', readOnly: false, ...(uuid ? { uuid } : {}),
});

describe('volumeIdFor', () => {
  it('uses the file system UUID when the root is itself a mount point', () => {
    expect(volumeIdFor('/media/usb', [mount('/'), mount('/media/usb', '1234-ABCD')])).toBe('uuid:1234-ABCD');
    expect(volumeIdFor('/media/usb/', [mount('/media/usb', '1234-ABCD')])).toBe('uuid:1234-ABCD');
  });

  it('uses the normalised path for a directory below a mount point', () => {
    expect(volumeIdFor('/media/usb/docs', [mount('/media/usb', '1234-ABCD')])).toBe('path:/media/usb/docs');
    expect(volumeIdFor('/srv//data/./x/../', [])).toBe('path:/srv/data');
  });

  it('uses the path for a mount point without a UUID, and the topmost of stacked mounts', () => {
    expect(volumeIdFor('/mnt', [mount('/mnt')])).toBe('path:/mnt');
    expect(volumeIdFor('/mnt', [mount('/mnt', 'lower'), mount('/mnt', 'upper')])).toBe('uuid:upper');
    expect(volumeIdFor('/mnt', [mount('/mnt', 'lower'), mount('/mnt')])).toBe('path:/mnt');
  });

  it('refuses a relative root with EINVAL', () => {
    expect(() => normalizeRoot('data')).toThrow(WardenError);
    expect(() => volumeIdFor('data', [])).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(normalizeRoot('/')).toBe('/');
  });
});
