// Builds valid RecordBatch v2 bytes for tests and the benchmark. Storage never decodes records, so
// the records section is opaque filler; the header and CRC-32C are real, which is all the log checks.

import {
  BatchField,
  batchHeaderBytes,
  batchLogOverheadBytes,
  computeBatchCrc,
  ErrorCode,
  readBatchHeader,
  writeInt64FromNumber,
} from '@gregor/protocol';
import type { LogReadResult } from '../partition-log.js';

export interface TestBatchSpec {
  /** Records the batch claims to hold: lastOffsetDelta is recordCount - 1. */
  readonly recordCount: number;
  /** Bytes of filler standing in for the records. */
  readonly fillerBytes: number;
  readonly maxTimestamp: number;
  /** Varies the filler so batches differ byte for byte. */
  readonly seed?: number;
  readonly baseOffset?: number;
  readonly partitionLeaderEpoch?: number;
}

export function buildTestBatch(spec: TestBatchSpec): Buffer {
  const sizeBytes = batchHeaderBytes + spec.fillerBytes;
  const buffer = Buffer.alloc(sizeBytes);
  writeInt64FromNumber(buffer, BatchField.baseOffset, spec.baseOffset ?? 0);
  buffer.writeInt32BE(sizeBytes - batchLogOverheadBytes, BatchField.batchLength);
  buffer.writeInt32BE(spec.partitionLeaderEpoch ?? 0, BatchField.partitionLeaderEpoch);
  buffer.writeInt8(2, BatchField.magic);
  buffer.writeInt16BE(0, BatchField.attributes);
  buffer.writeInt32BE(spec.recordCount - 1, BatchField.lastOffsetDelta);
  writeInt64FromNumber(buffer, BatchField.baseTimestamp, spec.maxTimestamp);
  writeInt64FromNumber(buffer, BatchField.maxTimestamp, spec.maxTimestamp);
  writeInt64FromNumber(buffer, BatchField.producerId, -1);
  buffer.writeInt16BE(-1, BatchField.producerEpoch);
  buffer.writeInt32BE(-1, BatchField.baseSequence);
  buffer.writeInt32BE(spec.recordCount, BatchField.recordsCount);
  let state = (spec.seed ?? 1) >>> 0 || 1;
  for (let i = batchHeaderBytes; i < sizeBytes; i++) {
    // xorshift32: cheap deterministic filler
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    buffer[i] = state & 0xff;
  }
  buffer.writeUInt32BE(computeBatchCrc(buffer, 0, sizeBytes), BatchField.crc);
  return buffer;
}

/** The base offset of each batch in `bytes`, in order. */
export function batchBaseOffsets(bytes: Buffer): number[] {
  const offsets: number[] = [];
  for (let at = 0; at < bytes.length; at += readBatchHeader(bytes, at).sizeBytes) {
    offsets.push(readBatchHeader(bytes, at).baseOffset);
  }
  return offsets;
}

/** The base offsets of the batches a read returned; throws if the read failed. */
export function readBaseOffsets(result: LogReadResult): number[] {
  if (result.errorCode !== ErrorCode.NONE) throw new Error(`read failed: ${result.errorCode}`);
  return batchBaseOffsets(result.records);
}
