// Record-level validation of a produced batch, as Kafka's LogValidator does before it appends:
// the CRC only proves the bytes are what the producer sent, not that they parse. A batch whose
// records do not parse would be stored and then stall every consumer at it, so it is refused.
//
// It is on the produce hot path, so it walks the records with inline varint decoding over the
// bytes, allocating nothing per record; compressed batches are decompressed once, as Kafka must
// do too.

import { decompress } from './compression.js';
import { ErrorCode, KafkaError, type RecordError, RecordValidationError } from './errors.js';
import { type BatchHeader, batchHeaderBytes, CompressionType, TimestampType } from './record-batch-header.js';

function corrupt(message: string): KafkaError {
  return new KafkaError(ErrorCode.CORRUPT_MESSAGE, `records do not parse: ${message}`);
}

/** A cursor over the records region; every read is checked against `end`. */
class RecordWalker {
  position = 0;
  constructor(
    private readonly bytes: Buffer,
    private readonly end: number,
  ) {}

  /** Zig-zag varint (32-bit). */
  varint(limit: number): number {
    let raw = 0;
    let shift = 0;
    for (;;) {
      if (this.position >= limit) throw corrupt(`varint runs past its record at ${this.position}`);
      const byte = this.bytes[this.position++]!;
      raw |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7;
      if (shift > 28) throw corrupt(`varint longer than 5 bytes at ${this.position}`);
    }
    return (raw >>> 1) ^ -(raw & 1);
  }

  /**
   * A zig-zag varlong (the timestamp delta) as a number: exact within +-2^53, beyond that off by
   * rounding only (the sign is always right), which no timestamp bound can tell apart.
   */
  varlong(limit: number): number {
    // Up to four bytes (a delta within +-2^27 ms, which is what producers write) in int32 bit
    // arithmetic, the way varint does; longer ones by multiplication.
    let raw = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (this.position >= limit) throw corrupt(`varlong runs past its record at ${this.position}`);
      const byte = this.bytes[this.position++]!;
      raw |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return (raw >>> 1) ^ -(raw & 1);
    }
    const negative = (raw & 1) === 1;
    let multiplier = 2 ** 28;
    for (let i = 4; i < 10; i++) {
      if (this.position >= limit) throw corrupt(`varlong runs past its record at ${this.position}`);
      const byte = this.bytes[this.position++]!;
      raw += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) {
        const half = Math.floor(raw / 2);
        return negative ? -half - 1 : half;
      }
      multiplier *= 128;
    }
    throw corrupt(`varlong longer than 10 bytes at ${this.position}`);
  }

  /** Skips a zig-zag varlong (the timestamp delta); only its extent matters here. */
  skipVarlong(limit: number): void {
    for (let i = 0; i < 10; i++) {
      if (this.position >= limit) throw corrupt(`varlong runs past its record at ${this.position}`);
      if ((this.bytes[this.position++]! & 0x80) === 0) return;
    }
    throw corrupt(`varlong longer than 10 bytes at ${this.position}`);
  }

  skip(byteCount: number, limit: number): void {
    if (byteCount < 0 || this.position + byteCount > limit)
      throw corrupt(`a field runs past its record at ${this.position}`);
    this.position += byteCount;
  }

  get remaining(): number {
    return this.end - this.position;
  }
}

export interface ProducedRecordsValidationOptions {
  /** Whether every record needs a key (a compacted topic). */
  readonly requireKeys?: boolean;
  /** The partition written, as `topic-partition`, for the messages of record errors. */
  readonly topicPartition?: string;
  /**
   * A CreateTime topic's bounds on record timestamps around the broker's clock (KIP-937); absent
   * for a LogAppendTime topic, whose timestamps the append overwrites.
   */
  readonly createTimeBounds?: CreateTimeBounds;
}

/**
 * `message.timestamp.before.max.ms` / `after.max.ms` at `nowMs` (the caller's clock): a record
 * stamped before `nowMs - beforeMaxMs` or after `nowMs + afterMaxMs` is INVALID_TIMESTAMP. A bound
 * of Number.MAX_SAFE_INTEGER (Kafka's Long.MAX_VALUE as storage carries it) is no bound.
 */
export interface CreateTimeBounds {
  readonly nowMs: number;
  readonly beforeMaxMs: number;
  readonly afterMaxMs: number;
}

/** Kafka's RecordBatch.NO_TIMESTAMP: a record without a timestamp is never out of bounds. */
const noTimestamp = -1;
/** Kafka's Long.MAX_VALUE, as storage's log config carries it (its neverLong). */
const unboundedMs = Number.MAX_SAFE_INTEGER;
const javaLongMax = 2n ** 63n - 1n;

/**
 * Checks every record of the batch at `position` (whose header was already validated): lengths
 * and varints parse and fill the batch exactly, the record count matches, and offset deltas run
 * 0, 1, 2, ... up to lastOffsetDelta, as producers write them.
 * With `requireKeys` (a compacted topic: the cleaner keeps the latest record per key), a record
 * without a key is INVALID_RECORD too, as Kafka's LogValidator answers; checked in the same walk, so
 * the batch is decompressed once. Like Kafka, the walk goes on past a keyless record and the
 * batch is refused with every keyless record's index (KIP-467 record errors: a client can tell
 * those records from the rest of the batch); a record that does not parse still refuses the batch
 * as CORRUPT_MESSAGE, without record errors.
 * With `createTimeBounds`, a record whose timestamp lies outside them is refused the same way, as
 * INVALID_TIMESTAMP (Kafka's LogValidator.validateTimestamp; a keyless record on a compacted topic
 * is named for its key only, as Kafka checks the key first). A batch with any timestamp error is
 * INVALID_TIMESTAMP, one with only key errors INVALID_RECORD.
 * Throws KafkaError CORRUPT_MESSAGE (records do not parse), INVALID_RECORD (they parse but break
 * the batch's own counts), or RecordValidationError INVALID_RECORD (records lack a required key) or
 * INVALID_TIMESTAMP (records stamped out of bounds).
 */
export function validateProducedRecords(
  buffer: Buffer,
  position: number,
  header: BatchHeader,
  options: ProducedRecordsValidationOptions = {},
): void {
  if (header.recordsCount <= 0) {
    throw new KafkaError(ErrorCode.INVALID_RECORD, 'a produced batch must hold at least one record');
  }
  if (header.lastOffsetDelta !== header.recordsCount - 1) {
    throw new KafkaError(
      ErrorCode.INVALID_RECORD,
      `lastOffsetDelta ${header.lastOffsetDelta} does not match ${header.recordsCount} record(s)`,
    );
  }
  const region = buffer.subarray(position + batchHeaderBytes, position + header.sizeBytes);
  const data = header.compression === CompressionType.None ? region : decompress(header.compression, region);
  const walker = new RecordWalker(data, data.length);
  /** Records refused for themselves; allocated only when there is one (the hot path has none). */
  let recordErrors: RecordError[] | undefined;
  let timestampErrors = false;
  const bounds = options.createTimeBounds;
  const nowMs = bounds?.nowMs ?? 0;
  const beforeMaxMs = bounds?.beforeMaxMs ?? unboundedMs;
  const afterMaxMs = bounds?.afterMaxMs ?? unboundedMs;
  const checkBefore = beforeMaxMs < unboundedMs;
  const checkAfter = afterMaxMs < unboundedMs;
  const checkTimestamps = checkBefore || checkAfter;
  for (let index = 0; index < header.recordsCount; index++) {
    const length = walker.varint(data.length);
    if (length < 0 || length > walker.remaining)
      throw corrupt(`record ${index} has an impossible length ${length}`);
    const recordEnd = walker.position + length;
    walker.skip(1, recordEnd); // attributes
    let timestamp = noTimestamp;
    if (checkTimestamps) {
      const delta = walker.varlong(recordEnd);
      // A batch marked LogAppendTime reads as the batch's maxTimestamp for every record (Kafka's
      // DefaultRecord.readFrom), also when a client sent it to a CreateTime topic.
      timestamp =
        header.timestampType === TimestampType.LogAppendTime
          ? header.maxTimestamp
          : header.baseTimestamp + delta;
    } else walker.skipVarlong(recordEnd);
    const offsetDelta = walker.varint(recordEnd);
    if (offsetDelta !== index) {
      throw new KafkaError(ErrorCode.INVALID_RECORD, `record ${index} has offset delta ${offsetDelta}`);
    }
    const keyLength = walker.varint(recordEnd);
    if (keyLength < -1) throw corrupt(`record ${index} has key length ${keyLength}`);
    if (keyLength === -1 && options.requireKeys === true && !header.isControl) {
      recordErrors ??= [];
      recordErrors.push({
        batchIndex: index,
        message: `Compacted topic cannot accept message without key in topic partition ${options.topicPartition ?? 'unknown'}.`,
      });
    } else if (
      timestamp !== noTimestamp &&
      ((checkBefore && nowMs - timestamp > beforeMaxMs) || (checkAfter && timestamp - nowMs > afterMaxMs))
    ) {
      recordErrors ??= [];
      recordErrors.push({
        batchIndex: index,
        message: timestampOutOfRangeMessage(timestamp, header.baseOffset + index, bounds!),
      });
      timestampErrors = true;
    }
    walker.skip(Math.max(0, keyLength), recordEnd);
    const valueLength = walker.varint(recordEnd);
    if (valueLength < -1) throw corrupt(`record ${index} has value length ${valueLength}`);
    walker.skip(Math.max(0, valueLength), recordEnd);
    const headerCount = walker.varint(recordEnd);
    if (headerCount < 0) throw corrupt(`record ${index} has ${headerCount} headers`);
    for (let h = 0; h < headerCount; h++) {
      walker.skip(walker.varint(recordEnd), recordEnd); // header key: a string, never null
      const headerValueLength = walker.varint(recordEnd);
      if (headerValueLength < -1)
        throw corrupt(`record ${index} has header value length ${headerValueLength}`);
      walker.skip(Math.max(0, headerValueLength), recordEnd);
    }
    if (walker.position !== recordEnd) {
      throw corrupt(
        `record ${index} declares ${length} bytes but its fields end ${recordEnd - walker.position} byte(s) early`,
      );
    }
  }
  if (walker.remaining !== 0) throw corrupt(`${walker.remaining} byte(s) after the last record`);
  if (recordErrors !== undefined) throw recordValidationError(recordErrors, timestampErrors);
}

/**
 * Kafka's record error for a timestamp out of bounds. Its `offset` is the record's as the producer
 * sent it (base offset, 0 from a producer, plus its delta), and the range is computed in Java's
 * long arithmetic: with a bound of Long.MAX_VALUE Kafka prints the wrapped sum, and so does this.
 */
function timestampOutOfRangeMessage(timestamp: number, offset: number, bounds: CreateTimeBounds): string {
  const now = BigInt(bounds.nowMs);
  const javaLong = (ms: number) => (ms >= unboundedMs ? javaLongMax : BigInt(ms));
  const low = BigInt.asIntN(64, now - javaLong(bounds.beforeMaxMs));
  const high = BigInt.asIntN(64, now + javaLong(bounds.afterMaxMs));
  return `Timestamp ${timestamp} of message with offset ${offset} is out of range. The timestamp should be within [${low}, ${high}]`;
}

/**
 * The refusal of a batch for `recordErrors`, worded as Kafka's LogValidator.processRecordErrors
 * words it (its exception's message becomes the partition's error_message): INVALID_TIMESTAMP when
 * any record is out of bounds, else INVALID_RECORD.
 */
function recordValidationError(
  recordErrors: readonly RecordError[],
  timestampErrors: boolean,
): RecordValidationError {
  if (timestampErrors) {
    return new RecordValidationError(
      ErrorCode.INVALID_TIMESTAMP,
      'One or more records have been rejected due to invalid timestamp',
      recordErrors,
    );
  }
  const shown = recordErrors
    .slice(0, 3)
    .map((error) => `RecordError(batchIndex=${error.batchIndex}, message='${error.message}')`);
  return new RecordValidationError(
    ErrorCode.INVALID_RECORD,
    `One or more records have been rejected due to ${recordErrors.length} record errors in total, ` +
      `and only showing the first three errors at most: [${shown.join(', ')}]`,
    recordErrors,
  );
}
