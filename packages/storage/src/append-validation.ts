// The batches of a record set about to be appended, found before anything is written: a follower's
// set is validated here (length, magic, CRC of every batch); a leader's was validated by the broker's
// LogValidator, whose frames are only checked to tile the set exactly (Kafka's
// UnifiedLog.analyzeAndValidateRecords, done once).

import { invariant } from '@gregor/ground';
import { ErrorCode, KafkaError, validateBatch } from '@gregor/protocol';
import type { BatchSummary } from './file-records.js';

/**
 * One batch of a leader's record set, as the caller's validation found it: where it lies in the set
 * and what the log needs to place and index it.
 */
export interface ValidatedBatchFrame {
  readonly position: number;
  readonly sizeBytes: number;
  /** lastOffset - baseOffset. */
  readonly lastOffsetDelta: number;
  readonly maxTimestamp: number;
}

/** Header summaries of every batch in `records`, validated (length, magic, CRC) before any write. */
export function validateRecords(records: Buffer, maxBatchBytes: number): BatchSummary[] {
  const batches: BatchSummary[] = [];
  let position = 0;
  while (position < records.length) {
    const header = validateBatch(records, position, records.length);
    if (header.sizeBytes > maxBatchBytes) {
      throw new KafkaError(
        ErrorCode.MESSAGE_TOO_LARGE,
        `record batch of ${header.sizeBytes} bytes exceeds max.message.bytes ${maxBatchBytes}`,
      );
    }
    batches.push({
      position,
      sizeBytes: header.sizeBytes,
      baseOffset: header.baseOffset,
      lastOffset: header.lastOffset,
      maxTimestamp: header.maxTimestamp,
    });
    position += header.sizeBytes;
  }
  if (batches.length === 0) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, 'record set holds no batch');
  return batches;
}

/** The frames of a leader append: the caller's, checked to tile the set, or found by validating it. */
export function leaderFrames(
  records: Buffer,
  maxBatchBytes: number,
  validated: readonly ValidatedBatchFrame[] | undefined,
): readonly ValidatedBatchFrame[] {
  if (validated === undefined) {
    return validateRecords(records, maxBatchBytes).map((batch) => ({
      position: batch.position,
      sizeBytes: batch.sizeBytes,
      lastOffsetDelta: batch.lastOffset - batch.baseOffset,
      maxTimestamp: batch.maxTimestamp,
    }));
  }
  let position = 0;
  for (const frame of validated) {
    invariant(
      frame.position === position && frame.sizeBytes > 0 && frame.lastOffsetDelta >= 0,
      () => `validated batches do not tile the record set at ${position}`,
    );
    position += frame.sizeBytes;
  }
  invariant(
    validated.length > 0 && position === records.length,
    () => `validated batches cover ${position} of ${records.length} bytes`,
  );
  return validated;
}
