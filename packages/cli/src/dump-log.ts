// `gregor dump-log`: prints what a segment file holds, like Kafka's kafka-dump-log.sh.
//
//   .log        one line per record batch (offsets, count, position, size, producer fields, codec,
//               CRC validity); --print-data adds one line per record.
//   .index      8-byte entries: int32 offset relative to the segment base, int32 position in .log
//   .timeindex  12-byte entries: int64 timestamp, int32 relative offset
//
// A damaged file is described, never crashed on: a batch with a bad CRC but a sane length is reported
// and skipped (the next batch starts where its length says); a torn tail or an impossible length stops
// the walk, because nothing after it can be located. Index files are preallocated and zero-filled, so
// (as Kafka's tool does) the dump stops at the first all-zero entry after the first entry.

import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import {
  BatchField,
  type BatchHeader,
  batchHeaderBytes,
  batchLogOverheadBytes,
  compressionNames,
  computeBatchCrc,
  currentMagic,
  type DecodedRecord,
  decodeRecordBatch,
  readBatchHeader,
  TimestampType,
} from '@gregor/protocol';

export interface TextOutput {
  write(text: string): unknown;
}

export interface DumpLogOptions {
  readonly printData: boolean;
}

export const DumpExitCode = { clean: 0, damaged: 1, usage: 2 } as const;

const offsetIndexEntryBytes = 8;
const timeIndexEntryBytes = 12;
/** Segment files are named by their base offset, zero-padded to 20 digits (`%020d`). */
const segmentNamePattern = /^\d{1,20}$/;
/** Keys and values longer than this are cut in --print-data output, so one record cannot flood a terminal. */
const printedBytesMax = 1024;

/** The base offset a segment file's name encodes, or null when the name is not `%020d.<ext>`. */
export function segmentBaseOffset(path: string): number | null {
  const stem = basename(path, extname(path));
  if (!segmentNamePattern.test(stem)) return null;
  const value = Number(stem);
  return Number.isSafeInteger(value) ? value : null;
}

function isPrintableText(text: string): boolean {
  for (const char of text) {
    const code = char.codePointAt(0)!;
    // A newline would split a record across output lines, so it counts as binary too.
    const control = (code < 0x20 && code !== 0x09) || code === 0x7f;
    if (control || code === 0xfffd) return false;
  }
  return true;
}

/** UTF-8 text when the bytes are printable UTF-8, else 0x-prefixed hex; null stays null. */
export function formatBytes(data: Buffer | null): string {
  if (data === null) return 'null';
  const shown = data.subarray(0, printedBytesMax);
  const suffix = data.length > printedBytesMax ? `...(${data.length} bytes)` : '';
  const text = shown.toString('utf8');
  const printable = Buffer.from(text, 'utf8').equals(shown) && isPrintableText(text);
  return (printable ? text : `0x${shown.toString('hex')}`) + suffix;
}

function sequenceAt(baseSequence: number, delta: number): number {
  // Sequences wrap at int32, as Kafka's DefaultRecordBatch.incrementSequence does.
  return baseSequence < 0 ? -1 : (baseSequence + delta) % 0x8000_0000;
}

function batchLine(header: BatchHeader, position: number, crcValid: boolean, computedCrc: number): string {
  const timestampName = header.timestampType === TimestampType.LogAppendTime ? 'LogAppendTime' : 'CreateTime';
  return [
    `baseOffset: ${header.baseOffset}`,
    `lastOffset: ${header.lastOffset}`,
    `count: ${header.recordsCount}`,
    `baseSequence: ${header.baseSequence}`,
    `lastSequence: ${sequenceAt(header.baseSequence, header.lastOffsetDelta)}`,
    `producerId: ${header.producerId}`,
    `producerEpoch: ${header.producerEpoch}`,
    `partitionLeaderEpoch: ${header.partitionLeaderEpoch}`,
    `isTransactional: ${header.isTransactional}`,
    `isControl: ${header.isControl}`,
    `position: ${position}`,
    `${timestampName}: ${header.maxTimestamp}`,
    `size: ${header.sizeBytes}`,
    `magic: ${header.magic}`,
    `compresscodec: ${compressionNames[header.compression] ?? `unknown(${header.compression})`}`,
    `crc: ${header.crc}`,
    `isvalid: ${crcValid}${crcValid ? '' : ` (computed crc: ${computedCrc})`}`,
  ].join(' ');
}

function recordLine(record: DecodedRecord, header: BatchHeader): string {
  const timestampName = header.timestampType === TimestampType.LogAppendTime ? 'LogAppendTime' : 'CreateTime';
  const headers = record.headers.map((h) => `${h.key}=${formatBytes(h.value)}`).join(', ');
  return [
    `| offset: ${record.offset}`,
    `${timestampName}: ${record.timestamp}`,
    `keySize: ${record.key?.length ?? -1}`,
    `valueSize: ${record.value?.length ?? -1}`,
    `sequence: ${sequenceAt(header.baseSequence, record.offsetDelta)}`,
    `headerKeys: [${record.headers.map((h) => h.key).join(', ')}]`,
    `key: ${formatBytes(record.key)}`,
    `payload: ${formatBytes(record.value)}`,
    `headers: [${headers}]`,
  ].join(' ');
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Dumps a `.log` segment. Returns true when damage was found. */
export function dumpLogSegment(data: Buffer, options: DumpLogOptions, out: TextOutput): boolean {
  let damaged = false;
  let position = 0;
  let batchCount = 0;
  while (position < data.length) {
    const remainingBytes = data.length - position;
    if (remainingBytes < batchLogOverheadBytes) {
      out.write(
        `truncated batch at position ${position}: ${remainingBytes} trailing byte(s), fewer than the ${batchLogOverheadBytes}-byte offset and length\n`,
      );
      return true;
    }
    const sizeBytes = data.readInt32BE(position + BatchField.batchLength) + batchLogOverheadBytes;
    if (sizeBytes < batchHeaderBytes) {
      out.write(
        `corrupt batch at position ${position}: length field says ${sizeBytes} byte(s), below the ${batchHeaderBytes}-byte header; cannot locate later batches\n`,
      );
      return true;
    }
    if (sizeBytes > remainingBytes) {
      out.write(
        `truncated batch at position ${position}: length field says ${sizeBytes} byte(s), only ${remainingBytes} present\n`,
      );
      return true;
    }
    const next = position + sizeBytes;
    batchCount++;
    let header: BatchHeader;
    try {
      header = readBatchHeader(data, position);
    } catch (error) {
      out.write(`corrupt batch at position ${position}: unreadable header: ${describe(error)}\n`);
      damaged = true;
      position = next;
      continue;
    }
    if (header.magic !== currentMagic) {
      out.write(
        `corrupt batch at position ${position}: magic ${header.magic}, only magic 2 batches are supported\n`,
      );
      damaged = true;
      position = next;
      continue;
    }
    const computedCrc = computeBatchCrc(data, position, sizeBytes);
    const crcValid = computedCrc === header.crc;
    out.write(`${batchLine(header, position, crcValid, computedCrc)}\n`);
    if (!crcValid) {
      out.write(
        `corrupt batch at position ${position}: CRC mismatch (stored ${header.crc}, computed ${computedCrc})\n`,
      );
      damaged = true;
    }
    // Records are decoded even without --print-data: a malformed record is damage worth reporting.
    // A batch whose CRC already failed is still shown with --print-data, best effort.
    if (crcValid || options.printData) {
      try {
        const batch = decodeRecordBatch(data.subarray(0, next), position, { verifyCrc: false });
        if (options.printData)
          for (const record of batch.records) out.write(`${recordLine(record, header)}\n`);
      } catch (error) {
        out.write(`corrupt batch at position ${position}: ${describe(error)}\n`);
        damaged = true;
      }
    }
    position = next;
  }
  if (batchCount === 0) out.write('no batches\n');
  return damaged;
}

interface IndexEntry {
  readonly text: string;
  readonly offset: number;
  /** The position (.index) or timestamp (.timeindex) the entry maps its offset to. */
  readonly target: number;
}

interface IndexLayout {
  readonly entryBytes: number;
  readonly targetName: string;
  readonly readEntry: (data: Buffer, at: number, baseOffset: number) => IndexEntry;
}

const offsetIndexLayout: IndexLayout = {
  entryBytes: offsetIndexEntryBytes,
  targetName: 'position',
  readEntry: (data, at, baseOffset) => {
    const offset = baseOffset + data.readInt32BE(at);
    const position = data.readInt32BE(at + 4);
    return { text: `offset: ${offset} position: ${position}`, offset, target: position };
  },
};

const timeIndexLayout: IndexLayout = {
  entryBytes: timeIndexEntryBytes,
  targetName: 'timestamp',
  readEntry: (data, at, baseOffset) => {
    const timestamp = Number(data.readBigInt64BE(at));
    const offset = baseOffset + data.readInt32BE(at + 8);
    return { text: `timestamp: ${timestamp} offset: ${offset}`, offset, target: timestamp };
  },
};

/** Dumps an `.index` or `.timeindex` file. Returns true when damage was found. */
function dumpIndex(data: Buffer, layout: IndexLayout, baseOffset: number, out: TextOutput): boolean {
  let damaged = false;
  let previous: IndexEntry | null = null;
  const wholeEntries = Math.floor(data.length / layout.entryBytes);
  for (let index = 0; index < wholeEntries; index++) {
    const at = index * layout.entryBytes;
    if (index > 0 && data.subarray(at, at + layout.entryBytes).every((byte) => byte === 0)) {
      out.write(`zero-filled (preallocated) entries from position ${at}: end of index\n`);
      return damaged;
    }
    const entry = layout.readEntry(data, at, baseOffset);
    out.write(`${entry.text}\n`);
    // Both kinds of index are sorted: offsets and their positions/timestamps never go backwards.
    if (previous !== null && (entry.offset < previous.offset || entry.target < previous.target)) {
      const field = entry.offset < previous.offset ? 'offset' : layout.targetName;
      out.write(`corrupt index entry ${index} at position ${at}: ${field} goes backwards\n`);
      damaged = true;
    }
    previous = entry;
  }
  const trailingBytes = data.length - wholeEntries * layout.entryBytes;
  if (trailingBytes > 0) {
    out.write(
      `truncated index entry at position ${wholeEntries * layout.entryBytes}: ${trailingBytes} byte(s), entries are ${layout.entryBytes}\n`,
    );
    damaged = true;
  }
  return damaged;
}

/**
 * Dumps one segment file to `out` and returns the exit code: 0 clean, 1 damage found, 2 when the file
 * cannot be read or its type is unknown. Messages about the invocation go to `err`.
 */
export function dumpLogFile(path: string, options: DumpLogOptions, out: TextOutput, err: TextOutput): number {
  const extension = extname(path);
  if (extension !== '.log' && extension !== '.index' && extension !== '.timeindex') {
    err.write(
      `gregor dump-log: ${path}: unsupported file type '${extension}' (expected .log, .index or .timeindex)\n`,
    );
    return DumpExitCode.usage;
  }
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (error) {
    err.write(`gregor dump-log: cannot read ${path}: ${describe(error)}\n`);
    return DumpExitCode.usage;
  }
  let baseOffset = segmentBaseOffset(path);
  out.write(`Dumping ${path}\n`);
  if (baseOffset === null) {
    err.write(`gregor dump-log: ${path}: name is not a %020d base offset; showing offsets relative to 0\n`);
    baseOffset = 0;
  }
  out.write(`Log starting offset: ${baseOffset}\n`);
  let damaged: boolean;
  if (extension === '.log') damaged = dumpLogSegment(data, options, out);
  else
    damaged = dumpIndex(data, extension === '.index' ? offsetIndexLayout : timeIndexLayout, baseOffset, out);
  return damaged ? DumpExitCode.damaged : DumpExitCode.clean;
}

export const dumpLogUsage = `Usage: gregor dump-log <file>... [--print-data]

Prints the record batches of a .log segment, or the entries of a .index / .timeindex file.
  --print-data   also print every record (offset, timestamp, key, value, headers)
Exit code: 0 clean, 1 damage found, 2 usage error.
`;

/** `gregor dump-log` argument handling; returns the process exit code. */
export function runDumpLog(args: readonly string[], out: TextOutput, err: TextOutput): number {
  const files: string[] = [];
  let printData = false;
  for (const arg of args) {
    if (arg === '--print-data') printData = true;
    else if (arg === '--help' || arg === '-h') {
      out.write(dumpLogUsage);
      return DumpExitCode.clean;
    } else if (arg.startsWith('-')) {
      err.write(`gregor dump-log: unknown option '${arg}'\n${dumpLogUsage}`);
      return DumpExitCode.usage;
    } else files.push(arg);
  }
  if (files.length === 0) {
    err.write(`gregor dump-log: no file given\n${dumpLogUsage}`);
    return DumpExitCode.usage;
  }
  let exitCode: number = DumpExitCode.clean;
  for (const file of files) exitCode = Math.max(exitCode, dumpLogFile(file, { printData }, out, err));
  return exitCode;
}
