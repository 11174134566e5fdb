// The RecordBatch v2 (magic 2) header, read without decoding the records.
//
// RecordBatch =>
//   baseOffset: int64            @0
//   batchLength: int32           @8   (bytes after this field: total size - 12)
//   partitionLeaderEpoch: int32  @12
//   magic: int8 (= 2)            @16
//   crc: uint32                  @17  (CRC-32C of attributes..end)
//   attributes: int16            @21  bits 0-2 compression, 3 timestamp type, 4 transactional, 5 control
//   lastOffsetDelta: int32       @23
//   baseTimestamp: int64         @27
//   maxTimestamp: int64          @35
//   producerId: int64            @43
//   producerEpoch: int16         @51
//   baseSequence: int32          @53
//   recordsCount: int32          @57
//   records                      @61
//
// The CRC starts at attributes, so a broker may rewrite baseOffset and partitionLeaderEpoch in
// place without recomputing it; that is how offsets are assigned on append.

import { crc32c } from '@node-rs/crc32';
import { ErrorCode, KafkaError } from './errors.js';

export const batchHeaderBytes = 61;
/** baseOffset + batchLength: the part of the header not counted by batchLength. */
export const batchLogOverheadBytes = 12;
export const currentMagic = 2;

export const BatchField = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordsCount: 57,
  records: 61,
} as const;

export const enum CompressionType {
  None = 0,
  Gzip = 1,
  Snappy = 2,
  Lz4 = 3,
  Zstd = 4,
}

export const compressionNames = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type CompressionName = (typeof compressionNames)[number];

export const enum TimestampType {
  CreateTime = 0,
  LogAppendTime = 1,
}

export const BatchAttribute = {
  compressionMask: 0x07,
  timestampTypeBit: 0x08,
  transactionalBit: 0x10,
  controlBit: 0x20,
  deleteHorizonBit: 0x40,
} as const;

export const noProducerId = -1;
export const noProducerEpoch = -1;
export const noSequence = -1;

export interface BatchHeader {
  readonly baseOffset: number;
  /** Total bytes of the batch on disk and on the wire (batchLength + 12). */
  readonly sizeBytes: number;
  readonly partitionLeaderEpoch: number;
  readonly magic: number;
  readonly crc: number;
  readonly attributes: number;
  readonly compression: CompressionType;
  readonly timestampType: TimestampType;
  readonly isTransactional: boolean;
  readonly isControl: boolean;
  readonly lastOffsetDelta: number;
  readonly lastOffset: number;
  readonly baseTimestamp: number;
  readonly maxTimestamp: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordsCount: number;
}

// Offsets, timestamps and producer ids are int64 on the wire but stay far below 2^53 in practice;
// Gregor carries them as numbers (fast, no BigInt on the hot path) and refuses values it cannot
// represent exactly rather than silently rounding them.

/** Reads a big-endian int64 as a number; values outside +-2^53 throw CORRUPT_MESSAGE. */
export function readInt64AsNumber(buffer: Buffer, position: number): number {
  const high = buffer.readInt32BE(position);
  const low = buffer.readUInt32BE(position + 4);
  const value = high * 0x1_0000_0000 + low;
  // Exact for every int64 whose high word is within +-2^21; checking the result (not only the high
  // word) also refuses -2^53, which writeInt64FromNumber would not accept back.
  if (!Number.isSafeInteger(value)) {
    throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `int64 at ${position} is beyond 2^53`);
  }
  return value;
}

/** Writes a safe-integer number as a big-endian int64. */
export function writeInt64FromNumber(buffer: Buffer, position: number, value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`int64 value ${value} is not a safe integer`);
  const low = value % 0x1_0000_0000;
  const high = (value - low) / 0x1_0000_0000;
  // For negative values, split so that low is unsigned.
  if (low < 0) {
    buffer.writeInt32BE(high - 1, position);
    buffer.writeUInt32BE(low + 0x1_0000_0000, position + 4);
  } else {
    buffer.writeInt32BE(high, position);
    buffer.writeUInt32BE(low, position + 4);
  }
}

/** Reads the header of the batch starting at `position`; does not check that the whole batch is present. */
export function readBatchHeader(buffer: Buffer, position = 0): BatchHeader {
  if (buffer.length - position < batchHeaderBytes) {
    throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `batch header needs ${batchHeaderBytes} bytes`);
  }
  const baseOffset = readInt64AsNumber(buffer, position + BatchField.baseOffset);
  const attributes = buffer.readInt16BE(position + BatchField.attributes);
  const lastOffsetDelta = buffer.readInt32BE(position + BatchField.lastOffsetDelta);
  return {
    baseOffset,
    sizeBytes: buffer.readInt32BE(position + BatchField.batchLength) + batchLogOverheadBytes,
    partitionLeaderEpoch: buffer.readInt32BE(position + BatchField.partitionLeaderEpoch),
    magic: buffer.readInt8(position + BatchField.magic),
    crc: buffer.readUInt32BE(position + BatchField.crc),
    attributes,
    compression: (attributes & BatchAttribute.compressionMask) as CompressionType,
    timestampType: (attributes & BatchAttribute.timestampTypeBit) !== 0 ? 1 : 0,
    isTransactional: (attributes & BatchAttribute.transactionalBit) !== 0,
    isControl: (attributes & BatchAttribute.controlBit) !== 0,
    lastOffsetDelta,
    lastOffset: baseOffset + lastOffsetDelta,
    baseTimestamp: readInt64AsNumber(buffer, position + BatchField.baseTimestamp),
    maxTimestamp: readInt64AsNumber(buffer, position + BatchField.maxTimestamp),
    producerId: readInt64AsNumber(buffer, position + BatchField.producerId),
    producerEpoch: buffer.readInt16BE(position + BatchField.producerEpoch),
    baseSequence: buffer.readInt32BE(position + BatchField.baseSequence),
    recordsCount: buffer.readInt32BE(position + BatchField.recordsCount),
  };
}

/** CRC-32C over attributes..end of the batch at `position` with total size `sizeBytes`. */
export function computeBatchCrc(buffer: Buffer, position: number, sizeBytes: number): number {
  return crc32c(buffer.subarray(position + BatchField.attributes, position + sizeBytes)) >>> 0;
}

/** Size of the batch at `position` if its length field is plausible and complete within the buffer, else -1. */
export function completeBatchSize(buffer: Buffer, position: number): number {
  if (buffer.length - position < batchLogOverheadBytes) return -1;
  const size = buffer.readInt32BE(position + BatchField.batchLength) + batchLogOverheadBytes;
  if (size < batchHeaderBytes || size > buffer.length - position) return -1;
  return size;
}

/**
 * Checks one batch: length fits the buffer, magic is 2, CRC matches, counts are sane.
 * Throws KafkaError(CORRUPT_MESSAGE) naming what is wrong. Returns the header.
 */
export function validateBatch(buffer: Buffer, position = 0, end = buffer.length): BatchHeader {
  const available = end - position;
  if (available < batchHeaderBytes) {
    throw new KafkaError(
      ErrorCode.CORRUPT_MESSAGE,
      `record batch truncated: ${available} byte(s), a header needs ${batchHeaderBytes}`,
    );
  }
  const header = readBatchHeader(buffer, position);
  if (header.sizeBytes < batchHeaderBytes) {
    throw new KafkaError(
      ErrorCode.CORRUPT_MESSAGE,
      `record batch length ${header.sizeBytes} is below the header size`,
    );
  }
  if (header.sizeBytes > available) {
    throw new KafkaError(
      ErrorCode.CORRUPT_MESSAGE,
      `record batch truncated: length says ${header.sizeBytes} byte(s), ${available} present`,
    );
  }
  if (header.magic !== currentMagic) {
    throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `unsupported record batch magic ${header.magic}`);
  }
  const crc = computeBatchCrc(buffer, position, header.sizeBytes);
  if (crc !== header.crc) {
    throw new KafkaError(
      ErrorCode.CORRUPT_MESSAGE,
      `record batch CRC mismatch: stored ${header.crc.toString(16)}, computed ${crc.toString(16)}`,
    );
  }
  if (header.lastOffsetDelta < 0 || header.recordsCount < 0) {
    throw new KafkaError(
      ErrorCode.CORRUPT_MESSAGE,
      `record batch has negative lastOffsetDelta ${header.lastOffsetDelta} or record count ${header.recordsCount}`,
    );
  }
  if (header.compression > CompressionType.Zstd) {
    throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `unknown compression codec ${header.compression}`);
  }
  return header;
}

/** Assigns offsets on append: rewrites baseOffset and partitionLeaderEpoch in place (outside the CRC). */
export function setBatchBaseOffsetAndEpoch(
  buffer: Buffer,
  position: number,
  baseOffset: number,
  partitionLeaderEpoch: number,
): void {
  writeInt64FromNumber(buffer, position + BatchField.baseOffset, baseOffset);
  buffer.writeInt32BE(partitionLeaderEpoch, position + BatchField.partitionLeaderEpoch);
}
