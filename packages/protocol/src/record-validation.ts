// Record-level validation of a produced batch, as Kafka's LogValidator does before it appends:
// the CRC only proves the bytes are what the producer sent, not that they parse. A batch whose
// records do not parse would be stored and then stall every consumer at it, so it is refused.
//
// It is on the produce hot path, so it walks the records with inline varint decoding over the
// bytes, allocating nothing per record; compressed batches are decompressed once, as Kafka must
// do too.

import { decompress } from './compression.js';
import { ErrorCode, KafkaError, type RecordError, RecordValidationError } from './errors.js';
import { type BatchHeader, batchHeaderBytes, CompressionType } from './record-batch-header.js';

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
}

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
 * Throws KafkaError CORRUPT_MESSAGE (records do not parse), INVALID_RECORD (they parse but break
 * the batch's own counts), or RecordValidationError INVALID_RECORD (records lack a required key).
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
  for (let index = 0; index < header.recordsCount; index++) {
    const length = walker.varint(data.length);
    if (length < 0 || length > walker.remaining)
      throw corrupt(`record ${index} has an impossible length ${length}`);
    const recordEnd = walker.position + length;
    walker.skip(1, recordEnd); // attributes
    walker.skipVarlong(recordEnd); // timestamp delta
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
  if (recordErrors !== undefined) throw recordValidationError(recordErrors);
}

/**
 * The refusal of a batch for `recordErrors`, worded as Kafka's LogValidator.processRecordErrors
 * words it (its InvalidRecordException message becomes the partition's error_message).
 */
function recordValidationError(recordErrors: readonly RecordError[]): RecordValidationError {
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
