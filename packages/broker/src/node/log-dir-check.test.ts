import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkLogDirUsable, LogDirUnusableError, parseMountInfo } from './log-dir-check.js';

const mountInfo = [
  '22 27 0:21 / /proc rw,relatime - proc proc rw',
  '23 27 0:22 / /sys rw,relatime - sysfs sysfs rw',
  '24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12335016k,mode=755',
  '25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw',
  '27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '40 27 0:40 / /mnt/with\\040space rw - xfs /dev/vdb rw',
].join('\n');

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function reasonFor(dir: string): string {
  try {
    checkLogDirUsable(dir, mountInfo);
  } catch (error) {
    if (error instanceof LogDirUnusableError) return error.message;
    throw error;
  }
  return 'usable';
}

describe('checkLogDirUsable', () => {
  it('reads mount points and filesystem types, optional fields and escapes included', () => {
    expect(parseMountInfo(mountInfo).map((mount) => [mount.mountPoint, mount.fsType])).toEqual([
      ['/proc', 'proc'],
      ['/sys', 'sysfs'],
      ['/dev', 'devtmpfs'],
      ['/dev/shm', 'tmpfs'],
      ['/', 'ext4'],
      ['/mnt/with space', 'xfs'],
    ]);
  });

  it.each([
    ['/proc/gregor-data', /\/proc is on proc, a kernel pseudo filesystem/],
    ['/proc/self/gregor/deeper', /is on proc/],
    ['/sys/gregor', /\/sys is on sysfs/],
    ['/dev/gregor-data', /\/dev is on devtmpfs/],
  ])('refuses %s, naming the directory and the filesystem', (dir, reason) => {
    const message = reasonFor(dir);
    expect(message).toContain(`log directory ${dir} cannot be used`);
    expect(message).toMatch(reason);
  });

  it('accepts a directory to be created under a writable one, and tmpfs under /dev', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gregor-log-dir-'));
    dirs.push(dir);
    expect(reasonFor(join(dir, 'not', 'yet', 'there'))).toBe('usable');
    expect(reasonFor(dir)).toBe('usable');
    expect(reasonFor('/dev/shm/gregor-data')).toBe('usable');
  });

  it('refuses a path whose nearest existing part is a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gregor-log-dir-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'file'), 'x');
    expect(reasonFor(join(dir, 'file', 'logs'))).toMatch(/file is not a directory/);
  });
});
