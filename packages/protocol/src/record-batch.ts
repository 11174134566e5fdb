// RecordBatch v2 encoding and decoding: the header (see record-batch-header.ts) plus the records.
//
// Record =>
//   length: varint               bytes after this field
//   attributes: int8             unused, 0
//   timestampDelta: varlong      record timestamp - batch baseTimestamp
//   offsetDelta: varint          record offset - batch baseOffset
//   key: varint length + bytes   -1 = null
//   value: varint length + bytes -1 = null
//   headerCount: varint
//   headers: [key: varint length + UTF-8 (never null), value: varint length + bytes (-1 = null)]
//
// With compression, the records section (everything after the 61-byte header) is compressed as a
// whole; recordsCount stays in the uncompressed header. Varints are zig-zag encoded.
//
// Decoding never trusts a length: each record is read through a Reader bounded by its length field,
// and must consume exactly that many bytes. Malformed data throws KafkaError(CORRUPT_MESSAGE).

import { compress, decompress, decompressedBytesMax } from './compression.js';
import { ErrorCode, KafkaError } from './errors.js';
import { DecodeError, Reader } from './reader.js';
import {
  BatchAttribute,
  BatchField,
  type BatchHeader,
  batchHeaderBytes,
  batchLogOverheadBytes,
  CompressionType,
  computeBatchCrc,
  currentMagic,
  noProducerEpoch,
  noProducerId,
  noSequence,
  readBatchHeader,
  TimestampType,
  validateBatch,
  writeInt64FromNumber,
} from './record-batch-header.js';

/** Kafka's RecordBatch.NO_TIMESTAMP: the base and max timestamp of a batch without records. */
export const noTimestamp = -1;
/** Kafka's RecordBatch.NO_PARTITION_LEADER_EPOCH: what producers send; the leader stamps its epoch. */
export const noPartitionLeaderEpoch = -1;
/** The smallest possible encoded record: a 1-byte length and six 1-byte fields. */
const recordBytesMin = 7;
/** The smallest possible encoded header: two 1-byte lengths (empty key, null value). */
const recordHeaderBytesMin = 2;

export interface RecordHeader {
  readonly key: string;
  readonly value: Buffer | null;
}

export interface RecordInput {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: readonly RecordHeader[];
  /** Milliseconds since the epoch (CreateTime), as the producer saw it. */
  readonly timestamp: number;
  /** Offset relative to the batch's base offset; defaults to the record's index in the batch. */
  readonly offsetDelta?: number;
}

export interface RecordBatchInput {
  readonly baseOffset?: number;
  readonly partitionLeaderEpoch?: number;
  readonly records: readonly RecordInput[];
  readonly compression?: CompressionType;
  readonly timestampType?: TimestampType;
  /** With LogAppendTime: the broker's append time, stored as maxTimestamp and read back as every record's timestamp. */
  readonly logAppendTime?: number;
  readonly producerId?: number;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  readonly isTransactional?: boolean;
  readonly isControl?: boolean;
  /**
   * Defaults to the last record's offsetDelta (0 without records). Compaction keeps the original value
   * when it drops records, so the batch still covers its whole offset range.
   */
  readonly lastOffsetDelta?: number;
}

export interface DecodedRecord {
  /** Absolute offset: baseOffset + offsetDelta. */
  readonly offset: number;
  /** Absolute timestamp: baseTimestamp + timestampDelta, or the batch's maxTimestamp under LogAppendTime. */
  readonly timestamp: number;
  readonly offsetDelta: number;
  readonly timestampDelta: number;
  readonly attributes: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: RecordHeader[];
}

export interface DecodedBatch {
  /** Where the batch starts in the buffer it was decoded from. */
  readonly position: number;
  readonly header: BatchHeader;
  readonly records: DecodedRecord[];
}

export interface DecodeBatchOptions {
  /** Checking the CRC is the default; dump tools turn it off to show what a damaged batch holds. */
  readonly verifyCrc?: boolean;
  readonly decompressedBytesMax?: number;
}

function invalidRecord(message: string): KafkaError {
  return new KafkaError(ErrorCode.INVALID_RECORD, message);
}

function corrupt(message: string): KafkaError {
  return new KafkaError(ErrorCode.CORRUPT_MESSAGE, message);
}

/** Bytes taken by a zig-zag varint/varlong of a safe integer. */
function zigZagVarintBytes(value: number): number {
  if (value >= -0x4000_0000 && value < 0x4000_0000) {
    const unsigned = ((value << 1) ^ (value >> 31)) >>> 0;
    return unsigned < 0x80
      ? 1
      : unsigned < 0x4000
        ? 2
        : unsigned < 0x20_0000
          ? 3
          : unsigned < 0x1000_0000
            ? 4
            : 5;
  }
  let unsigned = value >= 0 ? value * 2 : -value * 2 - 1;
  let bytes = 1;
  while (unsigned >= 128) {
    unsigned = Math.floor(unsigned / 128);
    bytes++;
  }
  return bytes;
}

/**
 * Writes a safe integer zig-zag varint/varlong encoded at `position` of `target` (sized for it);
 * returns the position after it. The same bytes as Writer.varlong, without a Writer's bounds
 * checks and calls per field: the record loop of encodeRecordBatch writes into a buffer of the
 * exact size it measured.
 */
function putZigZagVarint(target: Buffer, position: number, value: number): number {
  if (value >= -0x4000_0000 && value < 0x4000_0000) {
    let unsigned = ((value << 1) ^ (value >> 31)) >>> 0;
    while (unsigned >= 0x80) {
      target[position++] = (unsigned & 0x7f) | 0x80;
      unsigned >>>= 7;
    }
    target[position++] = unsigned;
    return position;
  }
  // Beyond 30 bits (a timestamp years from the batch's first): as a 64-bit varlong.
  const signed = BigInt(value);
  let unsigned = BigInt.asUintN(64, (signed << 1n) ^ (signed >> 63n));
  while (unsigned >= 0x80n) {
    target[position++] = Number(unsigned & 0x7fn) | 0x80;
    unsigned >>= 7n;
  }
  target[position++] = Number(unsigned);
  return position;
}

/** Writes a record field's nullable bytes (zig-zag varint length, -1 for null, then the bytes). */
function putNullableBytes(target: Buffer, position: number, value: Uint8Array | null): number {
  if (value === null) {
    target[position] = 1; // zig-zag -1
    return position + 1;
  }
  const start = putZigZagVarint(target, position, value.length);
  target.set(value, start);
  return start + value.length;
}

/** A buffer of `bytes` from `allocate`, which must give exactly that many. */
function sizedBuffer(allocate: (bytes: number) => Buffer, bytes: number): Buffer {
  const buffer = allocate(bytes);
  if (buffer.length !== bytes)
    throw new Error(`record batch: asked for ${bytes} bytes, given ${buffer.length}`);
  return buffer;
}

function nullableBytesSize(value: Buffer | null): number {
  return value === null ? 1 : zigZagVarintBytes(value.length) + value.length;
}

function checkInt32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < -0x8000_0000 || value > 0x7fff_ffff) {
    throw invalidRecord(`${what} ${value} is not an int32`);
  }
}

function checkSafeInteger(value: number, what: string): void {
  if (!Number.isSafeInteger(value)) throw invalidRecord(`${what} ${value} is not a safe integer`);
}

export interface EncodeBatchOptions {
  /**
   * Gives the buffer the batch is written into, of exactly the bytes asked (by default a new one):
   * a producer that reuses its batches' buffers once they are answered passes its own.
   */
  readonly allocate?: (bytes: number) => Buffer;
}

/** Encodes a complete RecordBatch v2: header with batchLength and CRC-32C, records, compression. */
export function encodeRecordBatch(batch: RecordBatchInput, options?: EncodeBatchOptions): Buffer {
  const allocate = options?.allocate ?? Buffer.allocUnsafe;
  const records = batch.records;
  const compression = batch.compression ?? CompressionType.None;
  const timestampType = batch.timestampType ?? TimestampType.CreateTime;
  const baseOffset = batch.baseOffset ?? 0;
  checkSafeInteger(baseOffset, 'baseOffset');

  const baseTimestamp = records.length > 0 ? records[0]!.timestamp : noTimestamp;
  let maxTimestamp = noTimestamp;
  // Two passes: the first checks every record and sizes it, so the second writes into one buffer of
  // the exact size. Uncompressed, that buffer is the batch itself (header space first): the record
  // bytes are copied once, with no growing writer and no copy of the records into the batch.
  const uncompressed = compression === CompressionType.None;
  const recordSizes = new Array<number>(records.length);
  // Only records with headers need their keys' UTF-8 bytes kept for the second pass.
  let headerKeysByRecord: (Buffer[] | undefined)[] | undefined;
  let recordsBytes = 0;
  let previousOffsetDelta = -1;
  for (let index = 0; index < records.length; index++) {
    const record = records[index]!;
    checkSafeInteger(record.timestamp, 'record timestamp');
    const offsetDelta = record.offsetDelta ?? index;
    checkInt32(offsetDelta, 'offsetDelta');
    if (offsetDelta <= previousOffsetDelta) {
      throw invalidRecord(`offsetDelta ${offsetDelta} does not increase (previous ${previousOffsetDelta})`);
    }
    previousOffsetDelta = offsetDelta;
    if (record.timestamp > maxTimestamp) maxTimestamp = record.timestamp;
    const timestampDelta = record.timestamp - baseTimestamp;
    checkSafeInteger(timestampDelta, 'timestampDelta');
    const headers = record.headers;
    const headerCount = headers?.length ?? 0;
    let recordBytes =
      1 +
      zigZagVarintBytes(timestampDelta) +
      zigZagVarintBytes(offsetDelta) +
      nullableBytesSize(record.key) +
      nullableBytesSize(record.value) +
      zigZagVarintBytes(headerCount);
    if (headerCount > 0) {
      const headerKeys = headers!.map((header) => Buffer.from(header.key, 'utf8'));
      headerKeysByRecord ??= new Array<Buffer[] | undefined>(records.length);
      headerKeysByRecord[index] = headerKeys;
      for (let h = 0; h < headerCount; h++) {
        recordBytes += nullableBytesSize(headerKeys[h]!) + nullableBytesSize(headers![h]!.value);
      }
    }
    checkInt32(recordBytes, 'record size');
    recordSizes[index] = recordBytes;
    recordsBytes += zigZagVarintBytes(recordBytes) + recordBytes;
  }
  // Uncompressed, the records are written straight into the batch (header space first); compressed,
  // into a buffer of their own that is compressed into the batch.
  const recordsStart = uncompressed ? batchHeaderBytes : 0;
  const body = uncompressed
    ? sizedBuffer(allocate, batchHeaderBytes + recordsBytes)
    : Buffer.allocUnsafe(recordsBytes);
  let position = recordsStart;
  for (let index = 0; index < records.length; index++) {
    const record = records[index]!;
    position = putZigZagVarint(body, position, recordSizes[index]!);
    body[position++] = 0; // attributes
    position = putZigZagVarint(body, position, record.timestamp - baseTimestamp);
    position = putZigZagVarint(body, position, record.offsetDelta ?? index);
    position = putNullableBytes(body, position, record.key);
    position = putNullableBytes(body, position, record.value);
    const headerKeys = headerKeysByRecord?.[index];
    if (headerKeys === undefined) {
      body[position++] = 0; // no headers
    } else {
      const headers = record.headers!;
      position = putZigZagVarint(body, position, headerKeys.length);
      for (let h = 0; h < headerKeys.length; h++) {
        position = putNullableBytes(body, position, headerKeys[h]!);
        position = putNullableBytes(body, position, headers[h]!.value);
      }
    }
  }
  // The sizes of the first pass are what the second wrote: a mismatch is a bug in this function.
  if (position !== recordsStart + recordsBytes) {
    throw new Error(`record batch: wrote ${position - recordsStart} record bytes, sized ${recordsBytes}`);
  }
  if (timestampType === TimestampType.LogAppendTime && batch.logAppendTime !== undefined) {
    maxTimestamp = batch.logAppendTime;
  }
  checkSafeInteger(maxTimestamp, 'maxTimestamp');

  const recordsSection = uncompressed ? undefined : compress(compression, body);
  const sizeBytes = uncompressed ? body.length : batchHeaderBytes + recordsSection!.length;
  checkInt32(sizeBytes - batchLogOverheadBytes, 'batchLength');
  const lastOffsetDelta = batch.lastOffsetDelta ?? (records.length > 0 ? previousOffsetDelta : 0);
  checkInt32(lastOffsetDelta, 'lastOffsetDelta');
  const attributes =
    compression |
    (timestampType === TimestampType.LogAppendTime ? BatchAttribute.timestampTypeBit : 0) |
    (batch.isTransactional ? BatchAttribute.transactionalBit : 0) |
    (batch.isControl ? BatchAttribute.controlBit : 0);

  const out = uncompressed ? body : sizedBuffer(allocate, sizeBytes);
  writeInt64FromNumber(out, BatchField.baseOffset, baseOffset);
  out.writeInt32BE(sizeBytes - batchLogOverheadBytes, BatchField.batchLength);
  out.writeInt32BE(batch.partitionLeaderEpoch ?? noPartitionLeaderEpoch, BatchField.partitionLeaderEpoch);
  out.writeInt8(currentMagic, BatchField.magic);
  out.writeInt16BE(attributes, BatchField.attributes);
  out.writeInt32BE(lastOffsetDelta, BatchField.lastOffsetDelta);
  writeInt64FromNumber(out, BatchField.baseTimestamp, baseTimestamp);
  writeInt64FromNumber(out, BatchField.maxTimestamp, maxTimestamp);
  writeInt64FromNumber(out, BatchField.producerId, batch.producerId ?? noProducerId);
  out.writeInt16BE(batch.producerEpoch ?? noProducerEpoch, BatchField.producerEpoch);
  out.writeInt32BE(batch.baseSequence ?? noSequence, BatchField.baseSequence);
  out.writeInt32BE(records.length, BatchField.recordsCount);
  recordsSection?.copy(out, BatchField.records);
  // The CRC covers attributes..end, so it is computed last, over the final bytes.
  out.writeUInt32BE(computeBatchCrc(out, 0, sizeBytes), BatchField.crc);
  return out;
}

function readRecord(reader: Reader, header: BatchHeader, index: number): DecodedRecord {
  const recordBytes = reader.varint();
  if (recordBytes < recordBytesMin - 1 || recordBytes > reader.remaining) {
    throw corrupt(`record ${index}: length ${recordBytes} with ${reader.remaining} byte(s) left`);
  }
  const recordEnd = reader.offset + recordBytes;
  // Bounded to this record: a forged inner length cannot read into the next record.
  const fields = new Reader(reader.buffer, reader.offset, recordEnd);
  const attributes = fields.int8();
  const timestampDelta = fields.varlongNumber();
  const offsetDelta = fields.varint();
  const key = fields.varintBytes();
  const value = fields.varintBytes();
  const headerCount = fields.varint();
  if (headerCount < 0 || headerCount * recordHeaderBytesMin > fields.remaining) {
    throw corrupt(`record ${index}: header count ${headerCount} with ${fields.remaining} byte(s) left`);
  }
  const headers: RecordHeader[] = new Array(headerCount);
  for (let h = 0; h < headerCount; h++) {
    const headerKey = fields.varintBytes();
    if (headerKey === null) throw corrupt(`record ${index}: header ${h} has a null key`);
    headers[h] = { key: headerKey.toString('utf8'), value: fields.varintBytes() };
  }
  if (fields.offset !== recordEnd) {
    throw corrupt(
      `record ${index}: length says ${recordBytes} byte(s), fields end ${recordEnd - fields.offset} early`,
    );
  }
  reader.offset = recordEnd;

  const offset = header.baseOffset + offsetDelta;
  const timestamp =
    header.timestampType === TimestampType.LogAppendTime
      ? header.maxTimestamp
      : header.baseTimestamp + timestampDelta;
  if (!Number.isSafeInteger(timestamp)) throw corrupt(`record ${index}: timestamp beyond 2^53`);
  return { offset, timestamp, offsetDelta, timestampDelta, attributes, key, value, headers };
}

/**
 * Decodes the batch at `position`: validates it (length, magic, CRC unless turned off), decompresses
 * the records and decodes them. Throws KafkaError(CORRUPT_MESSAGE) on any malformed input.
 */
export function decodeRecordBatch(
  buffer: Buffer,
  position = 0,
  options: DecodeBatchOptions = {},
): DecodedBatch {
  const header = options.verifyCrc === false ? checkFrame(buffer, position) : validateBatch(buffer, position);
  const recordsSection = buffer.subarray(position + batchHeaderBytes, position + header.sizeBytes);
  const data =
    header.compression === CompressionType.None
      ? recordsSection
      : decompress(header.compression, recordsSection, options.decompressedBytesMax ?? decompressedBytesMax);
  if (header.recordsCount * recordBytesMin > data.length) {
    throw corrupt(`record count ${header.recordsCount} cannot fit in ${data.length} byte(s) of records`);
  }
  const reader = new Reader(data);
  const records: DecodedRecord[] = new Array(header.recordsCount);
  try {
    for (let index = 0; index < header.recordsCount; index++)
      records[index] = readRecord(reader, header, index);
  } catch (error) {
    if (error instanceof DecodeError)
      throw corrupt(`malformed record in batch at ${position}: ${error.message}`);
    throw error;
  }
  if (reader.remaining !== 0) {
    throw corrupt(`${reader.remaining} byte(s) after the last of ${header.recordsCount} record(s)`);
  }
  return { position, header, records };
}

/** validateBatch without the CRC: the checks that make the batch safe to walk. */
function checkFrame(buffer: Buffer, position: number): BatchHeader {
  if (buffer.length - position < batchHeaderBytes) {
    throw corrupt(
      `record batch truncated: ${buffer.length - position} byte(s), a header needs ${batchHeaderBytes}`,
    );
  }
  const header = readBatchHeader(buffer, position);
  if (header.sizeBytes < batchHeaderBytes || header.sizeBytes > buffer.length - position) {
    throw corrupt(`record batch length ${header.sizeBytes} does not fit ${buffer.length - position} byte(s)`);
  }
  if (header.magic !== currentMagic) throw corrupt(`unsupported record batch magic ${header.magic}`);
  if (header.recordsCount < 0) throw corrupt(`negative record count ${header.recordsCount}`);
  if (header.compression > CompressionType.Zstd)
    throw corrupt(`unknown compression codec ${header.compression}`);
  return header;
}

/**
 * Where the batch at `position` ends, or -1 when the buffer stops inside it (a fetch response or a
 * torn log tail). A length below the header size is corruption, not truncation, and throws.
 */
export function batchEnd(buffer: Buffer, position: number): number {
  if (buffer.length - position < batchLogOverheadBytes) return -1;
  const sizeBytes = buffer.readInt32BE(position + BatchField.batchLength) + batchLogOverheadBytes;
  if (sizeBytes < batchHeaderBytes) {
    throw corrupt(
      `record batch at ${position} has length ${sizeBytes}, below the ${batchHeaderBytes}-byte header`,
    );
  }
  return sizeBytes > buffer.length - position ? -1 : position + sizeBytes;
}

/** Validated headers of consecutive batches (no record decoding); stops quietly at an incomplete tail. */
export function* iterateBatchHeaders(
  buffer: Buffer,
  position = 0,
): Generator<{ position: number; header: BatchHeader }> {
  while (position < buffer.length) {
    const end = batchEnd(buffer, position);
    if (end < 0) return;
    yield { position, header: validateBatch(buffer, position, end) };
    position = end;
  }
}

/** Decoded consecutive batches; stops quietly at an incomplete trailing batch, throws on a corrupt one. */
export function* iterateBatches(
  buffer: Buffer,
  position = 0,
  options: DecodeBatchOptions = {},
): Generator<DecodedBatch> {
  while (position < buffer.length) {
    const end = batchEnd(buffer, position);
    if (end < 0) return;
    yield decodeRecordBatch(buffer.subarray(0, end), position, options);
    position = end;
  }
}
