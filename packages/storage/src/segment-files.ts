// File names of a partition directory, as Kafka lays them out:
//   00000000000000001234.log        record batches back to back
//   00000000000000001234.index      offset index
//   00000000000000001234.timeindex  time index
// named by the segment's base offset, zero-padded to 20 digits. `.deleted` is appended to a file that
// is being removed, so a crash between rename and unlink leaves a name the next open recognises; a
// deleted partition's directory gets `.<suffix>-delete` the same way.

export const logFileSuffix = '.log';
export const indexFileSuffix = '.index';
export const timeIndexFileSuffix = '.timeindex';
export const deletedFileSuffix = '.deleted';
/**
 * Suffixes of Kafka's in-progress files, removed on open. A `<base>.log.swap` is finished first
 * (log-cleaner-swap.ts completes the interrupted swap); any `.swap` left after that is removed.
 */
export const leftoverFileSuffixes = [deletedFileSuffix, '.cleaned', '.swap', '.tmp'] as const;

const offsetDigits = 20;

export function segmentFileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(offsetDigits, '0') + suffix;
}

/** Base offset of a segment file name with `suffix`, or undefined when the name is not one. */
export function parseSegmentFileName(name: string, suffix: string): number | undefined {
  if (!name.endsWith(suffix)) return undefined;
  const digits = name.slice(0, name.length - suffix.length);
  if (digits.length !== offsetDigits || !/^\d+$/.test(digits)) return undefined;
  const baseOffset = Number(digits);
  return Number.isSafeInteger(baseOffset) ? baseOffset : undefined;
}

/** `<topic>-<partition>` → its parts; topics may contain '-', so split at the last one. */
export function parsePartitionDirName(name: string): { topic: string; partition: number } | undefined {
  const match = /^(.+)-(\d+)$/.exec(name);
  if (match === null) return undefined;
  const partition = Number(match[2]);
  if (!Number.isSafeInteger(partition) || partition > 0x7fff_ffff) return undefined;
  return { topic: match[1]!, partition };
}

/** Ending of a deleted partition's directory, `<topic>-<partition>.<suffix>-delete` (Kafka's). */
const deletedDirEnding = '-delete';

export function deletedDirSuffix(suffix: string): string {
  return `.${suffix}${deletedDirEnding}`;
}

/** A partition directory renamed for deletion, which open removes instead of loading. */
export function isDeletedDirName(name: string): boolean {
  return name.endsWith(deletedDirEnding) && name.includes('.');
}

/**
 * Ending of a future replica's directory, `<topic>-<partition>.<uniqueId>-future` (Kafka's): the
 * copy AlterReplicaLogDirs makes in the target log dir. Open resumes its copy (log-manager.ts).
 */
const futureDirEnding = '-future';

export function futureDirSuffix(uniqueId: string): string {
  return `.${uniqueId}${futureDirEnding}`;
}

export function isFutureDirName(name: string): boolean {
  return name.endsWith(futureDirEnding) && name.includes('.');
}

/** The partition directory name and unique id of a `-future` directory, or undefined. */
export function parseFutureDirName(name: string): { partitionDir: string; uniqueId: string } | undefined {
  if (!isFutureDirName(name)) return undefined;
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return undefined;
  return { partitionDir: name.slice(0, dot), uniqueId: name.slice(dot + 1, -futureDirEnding.length) };
}

/**
 * Ending of a partition directory in the middle of a future replica's swap,
 * `<topic>-<partition>.<uniqueId>-moved`: the old copy, renamed just before the future one takes
 * the partition's name. Open removes it when the partition's directory exists in another log dir
 * (the swap finished) and gives it its name back otherwise (it did not).
 */
const movedDirEnding = '-moved';

export function movedDirSuffix(uniqueId: string): string {
  return `.${uniqueId}${movedDirEnding}`;
}

/** The partition directory name of a `-moved` directory, or undefined when `name` is not one. */
export function partitionDirOfMoved(name: string): string | undefined {
  if (!name.endsWith(movedDirEnding)) return undefined;
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : undefined;
}
