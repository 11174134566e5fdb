// A produced record set checked, made into what the topic stores, and described once (Kafka's
// LogValidator and the LogAppendInfo it returns): the append, the producer-state checks and the
// Produce response all use that description instead of walking the bytes again.
//
// One pass, batch by batch: the batch is validated (length, magic 2, CRC-32C, max.message.bytes,
// and every record parses with offset deltas 0..n-1, as Kafka's LogValidator insists; on a compacted
// topic a record without a key is INVALID_RECORD, with the index of every keyless record as a
// KIP-467 record error, so that the client can tell them from the rest of the batch; on a CreateTime
// topic a record stamped more than message.timestamp.before.max.ms before `nowMs` or
// message.timestamp.after.max.ms after it is INVALID_TIMESTAMP, named the same way), stored in
// the topic's compression.type (a batch the producer compressed otherwise is decoded and encoded again in that codec, keeping its offsets,
// timestamps, producer id, epoch and sequence), and, for a LogAppendTime topic, stamped: the append
// time becomes its maxTimestamp and the timestamp-type bit is set. Both fields are inside the CRC, so
// the CRC is recomputed for those batches only; a CreateTime batch is stored exactly as the producer
// sent it, apart from the base offset and leader epoch (outside the CRC), which the log assigns. A
// bad batch anywhere refuses the whole set before anything is stored.
//
// A client's batch marked LogAppendTime on a CreateTime topic is not refused (Kafka's LogValidator
// does not look at the bit): the topic's type wins, as Kafka's `setMaxTimestamp(timestampType, max)`
// decides. Its records read as the batch's maxTimestamp (so that is what the timestamp bounds check
// and what stays the maxTimestamp), the bit is cleared and the CRC recomputed (in place, as the
// LogAppendTime stamp is); from then on its records read as baseTimestamp + their deltas, as they
// do in Kafka. Recompressed, its records keep the timestamps they read as (the maxTimestamp), as
// Kafka's rebuilt batch does.
//
// Control batches (transaction markers) come only from a transaction coordinator (origin
// 'coordinator'); a client's is INVALID_RECORD, as in Kafka. They are stored as written (never
// recompressed), and their marker type is read here once for the producer state.

import {
  BatchAttribute,
  BatchField,
  type BatchHeader,
  CompressionType,
  computeBatchCrc,
  decodeRecordBatch,
  ErrorCode,
  encodeRecordBatch,
  isCommitMarkerBatch,
  KafkaError,
  markerBatchCoordinatorEpoch,
  TimestampType,
  validateBatch,
  validateProducedRecords,
  writeInt64FromNumber,
} from '@gregor/protocol';
import type { CompressionTypeName, LogConfig, ValidatedBatchFrame } from '@gregor/storage';
import { isCompacted } from '@gregor/storage';
import type { ProducerBatchHeader } from './producer-state.js';

const storedCodecs: Readonly<Record<Exclude<CompressionTypeName, 'producer'>, CompressionType>> = {
  uncompressed: CompressionType.None,
  gzip: CompressionType.Gzip,
  snappy: CompressionType.Snappy,
  lz4: CompressionType.Lz4,
  zstd: CompressionType.Zstd,
};

/** One batch as it will be stored: where it lies in the set, and its producer fields. */
export interface ValidatedBatch extends ValidatedBatchFrame, ProducerBatchHeader {
  readonly recordCount: number;
  /** For a transaction marker, whether it commits; null for any other batch. */
  readonly markerCommits: boolean | null;
  /** For a transaction marker, the coordinator epoch it carries; -1 for any other batch. */
  readonly markerCoordinatorEpoch: number;
}

/** Who wrote a record set: a producing client, or a transaction coordinator writing markers. */
export type AppendOrigin = 'client' | 'coordinator';

/** What validation found (Kafka's LogAppendInfo), for everything after it. */
export interface LogAppendInfo {
  /** The record set as stored: recompressed and stamped where the topic asks for it. */
  readonly records: Buffer;
  readonly batches: readonly ValidatedBatch[];
  readonly recordCount: number;
  /** The append time under LogAppendTime, -1 under CreateTime. */
  readonly logAppendTimeMs: number;
  /**
   * Whether any batch carries an idempotent producer's id or is a transaction marker (and so needs
   * the producer checks and the producer state).
   */
  readonly hasProducerState: boolean;
}

export interface RecordSetValidationOptions {
  readonly origin?: AppendOrigin;
  /** The partition written, as `topic-partition`, for the messages of record errors. */
  readonly topicPartition?: string;
}

/**
 * Validates `records` for a topic with `config` at broker time `nowMs` (the caller's clock), stores
 * them in its codec and stamps them with `nowMs` when it keeps LogAppendTime. Throws KafkaError
 * CORRUPT_MESSAGE, INVALID_RECORD or MESSAGE_TOO_LARGE, or RecordValidationError listing the refused
 * records (INVALID_RECORD: keyless ones on a compacted topic; INVALID_TIMESTAMP: ones stamped out
 * of the CreateTime bounds); the caller turns it into an error code. Stamping writes into `records`.
 */
export function validateProducedRecordSet(
  records: Buffer,
  config: LogConfig,
  nowMs: number,
  { origin = 'client', topicPartition }: RecordSetValidationOptions = {},
): LogAppendInfo {
  if (records.length === 0) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, 'empty record set');
  const maxMessageBytes = config.maxMessageBytes;
  const requireKeys = isCompacted(config);
  const codec = config.compressionType === 'producer' ? undefined : storedCodecs[config.compressionType];
  const logAppendTimeMs = config.messageTimestampType === 'LogAppendTime' ? nowMs : -1;
  // A LogAppendTime topic overwrites the producer's timestamps: there is nothing to bound.
  const createTimeBounds =
    logAppendTimeMs >= 0
      ? undefined
      : {
          nowMs,
          beforeMaxMs: config.messageTimestampBeforeMaxMs,
          afterMaxMs: config.messageTimestampAfterMaxMs,
        };
  const batches: ValidatedBatch[] = [];
  /** Set once a batch was re-encoded: every batch as stored, in order. */
  let stored: Buffer[] | undefined;
  let storedPosition = 0;
  let recordCount = 0;
  let hasProducerState = false;
  let position = 0;
  while (position < records.length) {
    const header = validateBatch(records, position, records.length);
    if (header.sizeBytes > maxMessageBytes) {
      throw new KafkaError(
        ErrorCode.MESSAGE_TOO_LARGE,
        `record batch of ${header.sizeBytes} bytes exceeds max.message.bytes ${maxMessageBytes}`,
      );
    }
    // The cleaner keeps the last record per key: on a compacted topic a keyless one is
    // INVALID_RECORD, as in Kafka (checked in the same walk as the records themselves). As in
    // Kafka, record errors refuse the set at the first batch that has any, with indexes into it.
    validateProducedRecords(records, position, header, { requireKeys, topicPartition, createTimeBounds });
    if (header.isControl && origin === 'client') {
      throw new KafkaError(ErrorCode.INVALID_RECORD, 'clients may not write control batches');
    }
    const markerCommits = header.isControl ? isCommitMarkerBatch(records, position) : null;
    const markerCoordinatorEpoch = header.isControl ? markerBatchCoordinatorEpoch(records, position) : -1;
    let bytes = records.subarray(position, position + header.sizeBytes);
    if (codec !== undefined && header.compression !== codec && !header.isControl) {
      bytes = reencode(bytes, header, codec, config.compressionType, maxMessageBytes);
      stored ??= batches.map((batch) => records.subarray(batch.position, batch.position + batch.sizeBytes));
    }
    if (logAppendTimeMs >= 0) stampLogAppendTime(bytes, logAppendTimeMs);
    else if ((bytes.readInt16BE(BatchField.attributes) & BatchAttribute.timestampTypeBit) !== 0) {
      stampCreateTime(bytes);
    }
    stored?.push(bytes);
    const batch: ValidatedBatch = {
      position: storedPosition,
      sizeBytes: bytes.length,
      lastOffsetDelta: header.lastOffsetDelta,
      maxTimestamp: logAppendTimeMs >= 0 ? logAppendTimeMs : header.maxTimestamp,
      recordCount: header.recordsCount,
      producerId: header.producerId,
      producerEpoch: header.producerEpoch,
      baseSequence: header.baseSequence,
      isTransactional: header.isTransactional,
      isControl: header.isControl,
      markerCommits,
      markerCoordinatorEpoch,
    };
    batches.push(batch);
    recordCount += header.recordsCount;
    if (header.producerId >= 0) hasProducerState = true;
    storedPosition += bytes.length;
    position += header.sizeBytes;
  }
  return {
    records: stored === undefined ? records : Buffer.concat(stored, storedPosition),
    batches,
    recordCount,
    logAppendTimeMs,
    hasProducerState,
  };
}

/** Rewrites the (validated) batch in `bytes` to LogAppendTime `appendTimeMs`, in place. */
function stampLogAppendTime(bytes: Buffer, appendTimeMs: number): void {
  const attributes = bytes.readInt16BE(BatchField.attributes) | BatchAttribute.timestampTypeBit;
  bytes.writeInt16BE(attributes, BatchField.attributes);
  writeInt64FromNumber(bytes, BatchField.maxTimestamp, appendTimeMs);
  bytes.writeUInt32BE(computeBatchCrc(bytes, 0, bytes.length), BatchField.crc);
}

/** Clears the LogAppendTime bit of the batch in `bytes` (its maxTimestamp stays), in place. */
function stampCreateTime(bytes: Buffer): void {
  const attributes = bytes.readInt16BE(BatchField.attributes) & ~BatchAttribute.timestampTypeBit;
  bytes.writeInt16BE(attributes, BatchField.attributes);
  bytes.writeUInt32BE(computeBatchCrc(bytes, 0, bytes.length), BatchField.crc);
}

/** The batch encoded again in `codec`; MESSAGE_TOO_LARGE when that makes it too large, as in Kafka. */
function reencode(
  original: Buffer,
  header: BatchHeader,
  codec: CompressionType,
  codecName: CompressionTypeName,
  maxMessageBytes: number,
): Buffer {
  const decoded = decodeRecordBatch(original, 0, { verifyCrc: false });
  const reencoded = encodeRecordBatch({
    baseOffset: header.baseOffset,
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    records: decoded.records.map((record) => ({
      key: record.key,
      value: record.value,
      headers: record.headers,
      timestamp: record.timestamp,
      offsetDelta: record.offsetDelta,
    })),
    compression: codec,
    // CreateTime with the timestamps the records read as; a LogAppendTime topic stamps it afterwards.
    timestampType: TimestampType.CreateTime,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    isTransactional: header.isTransactional,
    isControl: header.isControl,
    lastOffsetDelta: header.lastOffsetDelta,
  });
  if (reencoded.length > maxMessageBytes) {
    throw new KafkaError(
      ErrorCode.MESSAGE_TOO_LARGE,
      `record batch of ${reencoded.length} bytes in ${codecName} exceeds max.message.bytes ${maxMessageBytes}`,
    );
  }
  return reencoded;
}
