// The batches of a record set about to be appended, found before anything is written: a follower's
// set is validated here (length, magic, CRC of every batch); a leader's was validated by the broker's
// LogValidator, whose frames are only checked to tile the set exactly (Kafka's
// UnifiedLog.analyzeAndValidateRecords, done once). Then their offsets: a leader's batches get theirs
// (Kafka's LogValidator offset assignment), a follower's are checked to continue the log.

import { invariant } from '@gregor/ground';
import { ErrorCode, KafkaError, setBatchBaseOffsetAndEpoch, validateBatch } from '@gregor/protocol';
import { UnexpectedAppendOffsetError } from './errors.js';
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

export interface AppendResult {
  readonly baseOffset: number;
  readonly lastOffset: number;
  /** Clock time of the append (what LogAppendTime topics report). */
  readonly logAppendTimeMs: number;
  readonly logStartOffset: number;
}

export interface AppendOptions {
  /**
   * The caller validated the record set just before (framing, magic, CRC, max.message.bytes: the
   * broker's LogValidator) and has not changed its bytes since: these are its batches, in order, so
   * the set is not read again. They must tile the set exactly (checked from the frames alone).
   */
  readonly validatedBatches?: readonly ValidatedBatchFrame[];
}

/**
 * A leader append's offsets: its batches get consecutive offsets from `firstOffset` and the leader
 * epoch, rewritten IN PLACE in `records` (baseOffset and partitionLeaderEpoch are outside the CRC).
 * Returns the batches as the log indexes them.
 */
export function assignOffsets(
  records: Buffer,
  frames: readonly ValidatedBatchFrame[],
  firstOffset: number,
  leaderEpoch: number,
): BatchSummary[] {
  let nextOffset = firstOffset;
  return frames.map((frame): BatchSummary => {
    setBatchBaseOffsetAndEpoch(records, frame.position, nextOffset, leaderEpoch);
    const lastOffset = nextOffset + frame.lastOffsetDelta;
    const summary = {
      position: frame.position,
      sizeBytes: frame.sizeBytes,
      baseOffset: nextOffset,
      lastOffset,
      maxTimestamp: frame.maxTimestamp,
    };
    nextOffset = lastOffset + 1;
    return summary;
  });
}

/**
 * A follower's batches keep their offsets: the first must start at or after `logEndOffset` (a gap
 * between record sets is allowed, as in Kafka), the others continue it; otherwise
 * UnexpectedAppendOffsetError (replication must truncate first).
 */
export function checkFollowerOffsets(batches: readonly BatchSummary[], logEndOffset: number): void {
  let expected = logEndOffset;
  for (const [i, batch] of batches.entries()) {
    const ok = i === 0 ? batch.baseOffset >= expected : batch.baseOffset === expected;
    if (!ok) throw new UnexpectedAppendOffsetError(batch.baseOffset, expected);
    expected = batch.lastOffset + 1;
  }
}
