// Refuses a log directory that cannot hold a log before anything tries to create it: Node's
// recursive mkdir never returns under /proc (and the node would spin, deaf to SIGTERM), and a
// directory on sysfs or devtmpfs, or one that is a file or not writable, fails later and less
// clearly. The check walks up to the nearest existing ancestor and looks at the filesystem it is on.

import { accessSync, constants, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export class LogDirUnusableError extends Error {
  override readonly name = 'LogDirUnusableError';
  constructor(
    readonly dir: string,
    reason: string,
  ) {
    super(`log directory ${dir} cannot be used: ${reason}`);
  }
}

/** Kernel pseudo filesystems: what looks like files there is the kernel's state, not storage. */
const pseudoFilesystems: ReadonlySet<string> = new Set([
  'proc',
  'sysfs',
  'devtmpfs',
  'devpts',
  'cgroup',
  'cgroup2',
  'debugfs',
  'tracefs',
  'securityfs',
  'configfs',
  'pstore',
  'bpf',
  'efivarfs',
  'binfmt_misc',
  'mqueue',
  'autofs',
  'fusectl',
]);

interface Mount {
  readonly mountPoint: string;
  readonly fsType: string;
}

/** /proc/self/mountinfo: `id parent major:minor root mountpoint options [optional...] - fstype source superoptions`. */
export function parseMountInfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    if (fields.length < 5 || separator < 0 || separator + 1 >= fields.length) continue;
    // Octal escapes (\040 for a space) as the kernel writes them.
    const mountPoint = fields[4]!.replace(/\\([0-7]{3})/g, (_match, octal: string) =>
      String.fromCharCode(Number.parseInt(octal, 8)),
    );
    mounts.push({ mountPoint, fsType: fields[separator + 1]! });
  }
  return mounts;
}

/** The filesystem type `path` (an existing, resolved path) lives on, or undefined off Linux. */
function filesystemTypeOf(path: string, mountInfoText: string | undefined): string | undefined {
  if (mountInfoText === undefined) return undefined;
  let best: Mount | undefined;
  for (const mount of parseMountInfo(mountInfoText)) {
    const inside =
      path === mount.mountPoint ||
      mount.mountPoint === '/' ||
      path.startsWith(mount.mountPoint.endsWith('/') ? mount.mountPoint : `${mount.mountPoint}/`);
    // The last of equal mount points is the one on top.
    if (inside && (best === undefined || mount.mountPoint.length >= best.mountPoint.length)) best = mount;
  }
  return best?.fsType;
}

function readMountInfo(): string | undefined {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
}

/** Throws LogDirUnusableError naming `dir` and why; returns when Gregor may create and use it. */
export function checkLogDirUsable(dir: string, mountInfoText: string | undefined = readMountInfo()): void {
  let existing = resolve(dir);
  for (;;) {
    try {
      statSync(existing);
      break;
    } catch (error) {
      // ENOTDIR: a file stands where a directory should; the walk reaches it and refuses it below.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') {
        throw new LogDirUnusableError(dir, `cannot inspect ${existing}: ${(error as Error).message}`);
      }
      const parent = dirname(existing);
      if (parent === existing) throw new LogDirUnusableError(dir, 'no part of the path exists');
      existing = parent;
    }
  }
  const real = realpathSync(existing);
  const fsType = filesystemTypeOf(real, mountInfoText);
  if (fsType !== undefined && pseudoFilesystems.has(fsType)) {
    throw new LogDirUnusableError(dir, `${real} is on ${fsType}, a kernel pseudo filesystem, not storage`);
  }
  if (!statSync(real).isDirectory()) throw new LogDirUnusableError(dir, `${real} is not a directory`);
  try {
    accessSync(real, constants.W_OK | constants.X_OK);
  } catch {
    throw new LogDirUnusableError(dir, `${real} is not writable by this process`);
  }
}
