// Checks a produced record set before anything is written, stores it in the topic's
// compression.type, and stamps LogAppendTime.
//
// Every batch is validated first (length, magic 2, CRC-32C, max.message.bytes, and every record
// parses with offset deltas 0..n-1, as Kafka's LogValidator insists), so a bad batch
// anywhere refuses the whole set and nothing is stored. Only then, for a LogAppendTime topic, each
// batch gets the append time as its maxTimestamp and the timestamp-type attribute bit. Both fields
// are inside the CRC, so the CRC is recomputed for those batches only (as Kafka's LogValidator
// does); a CreateTime batch is stored exactly as the producer sent it, apart from the base offset
// and leader epoch, which sit outside the CRC.
//
// compression.type other than `producer` names the codec batches are stored in: a batch the
// producer compressed otherwise is decoded and encoded again in that codec (Kafka's LogValidator
// does the same), keeping its offsets, timestamps, producer id, epoch and sequence.

import {
  BatchAttribute,
  BatchField,
  CompressionType,
  computeBatchCrc,
  decodeRecordBatch,
  ErrorCode,
  encodeRecordBatch,
  KafkaError,
  readBatchHeader,
  validateBatch,
  validateProducedRecords,
  writeInt64FromNumber,
} from '@gregor/protocol';
import type { CompressionTypeName } from '@gregor/storage';

const storedCodecs: Readonly<Record<Exclude<CompressionTypeName, 'producer'>, CompressionType>> = {
  uncompressed: CompressionType.None,
  gzip: CompressionType.Gzip,
  snappy: CompressionType.Snappy,
  lz4: CompressionType.Lz4,
  zstd: CompressionType.Zstd,
};

export interface RecordSetSummary {
  readonly batchCount: number;
  readonly recordCount: number;
}

/** Throws KafkaError CORRUPT_MESSAGE or MESSAGE_TOO_LARGE; the caller turns it into an error code. */
export function validateRecordSet(
  records: Buffer,
  maxMessageBytes: number,
  options: { readonly requireKeys?: boolean } = {},
): RecordSetSummary {
  if (records.length === 0) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, 'empty record set');
  let position = 0;
  let batchCount = 0;
  let recordCount = 0;
  while (position < records.length) {
    const header = validateBatch(records, position, records.length);
    if (header.sizeBytes > maxMessageBytes) {
      throw new KafkaError(
        ErrorCode.MESSAGE_TOO_LARGE,
        `record batch of ${header.sizeBytes} bytes exceeds max.message.bytes ${maxMessageBytes}`,
      );
    }
    validateProducedRecords(records, position, header, options);
    batchCount += 1;
    recordCount += header.recordsCount;
    position += header.sizeBytes;
  }
  return { batchCount, recordCount };
}

/** Rewrites every batch of an already validated record set to LogAppendTime `appendTimeMs`, in place. */
export function stampLogAppendTime(records: Buffer, appendTimeMs: number): void {
  let position = 0;
  while (position < records.length) {
    // Already validated by validateRecordSet: only the header is needed, not a second CRC pass.
    const header = readBatchHeader(records, position);
    const attributes =
      records.readInt16BE(position + BatchField.attributes) | BatchAttribute.timestampTypeBit;
    records.writeInt16BE(attributes, position + BatchField.attributes);
    writeInt64FromNumber(records, position + BatchField.maxTimestamp, appendTimeMs);
    records.writeUInt32BE(computeBatchCrc(records, position, header.sizeBytes), position + BatchField.crc);
    position += header.sizeBytes;
  }
}

/**
 * The record set as the topic stores it: unchanged under `producer` or when every batch already
 * uses the topic's codec (no copy), otherwise a new buffer with the other batches re-encoded. Runs
 * on a validated set; a re-encoded batch above `maxMessageBytes` is MESSAGE_TOO_LARGE, as in Kafka.
 */
export function recompressRecordSet(
  records: Buffer,
  compressionType: CompressionTypeName,
  maxMessageBytes: number,
): Buffer {
  if (compressionType === 'producer') return records;
  const codec = storedCodecs[compressionType];
  const batches: Buffer[] = [];
  let changed = false;
  let position = 0;
  while (position < records.length) {
    const header = readBatchHeader(records, position);
    const original = records.subarray(position, position + header.sizeBytes);
    position += header.sizeBytes;
    if (header.compression === codec) {
      batches.push(original);
      continue;
    }
    changed = true;
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
      timestampType: header.timestampType,
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
        `record batch of ${reencoded.length} bytes in ${compressionType} exceeds max.message.bytes ${maxMessageBytes}`,
      );
    }
    batches.push(reencoded);
  }
  return changed ? Buffer.concat(batches) : records;
}
