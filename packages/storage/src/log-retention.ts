// Which segments retention deletes (Kafka's UnifiedLog.deleteOldSegments with its
// deleteLogStartOffsetBreachedSegments, deleteRetentionMsBreachedSegments and
// deleteRetentionSizeBreachedSegments): decided here without I/O, deleted by PartitionLog.

import type { LogConfig } from './log-config.js';
import type { LogSegment } from './log-segment.js';

export interface RetentionOptions {
  /** Delete only segments that end at or below this offset (the partition's high watermark). */
  readonly highWatermark?: number;
}

/**
 * How many of the oldest segments go: never the active one, nor one that does not end at or below
 * the high watermark; first those wholly below the log start offset (whatever the cleanup policy),
 * then, with "delete" in cleanup.policy, those whose largest timestamp is older than now -
 * retention.ms, then while the log stays at or above retention.bytes without them (Kafka's rule).
 */
export function retentionDeleteCount(
  segments: readonly LogSegment[],
  config: LogConfig,
  logStartOffset: number,
  nowMs: number,
  options: RetentionOptions,
): number {
  const { retentionMs, retentionBytes } = config;
  // Only segments wholly below the high watermark: data a replica may still need (or that a
  // new leader could still lose) is never deleted by retention, as in Kafka.
  const highWatermark = options.highWatermark ?? Number.POSITIVE_INFINITY;
  const candidates = segments
    .slice(0, -1)
    .filter((_segment, index) => segments[index + 1]!.baseOffset <= highWatermark);
  // Kafka's deleteLogStartOffsetBreachedSegments, whatever the cleanup policy: a segment whose
  // records all lie below the log start offset (DeleteRecords moved it) holds nothing readable.
  let deleteCount = 0;
  while (deleteCount < candidates.length && segments[deleteCount + 1]!.baseOffset <= logStartOffset) {
    deleteCount += 1;
  }
  // Kafka: a compact-only topic has no time or size retention; its size is the cleaner's business.
  if (!config.cleanupPolicy.includes('delete')) return deleteCount;
  if (retentionMs >= 0) {
    while (
      deleteCount < candidates.length &&
      candidates[deleteCount]!.retentionTimestampMs < nowMs - retentionMs
    ) {
      deleteCount += 1;
    }
  }
  if (retentionBytes >= 0) {
    let excessBytes = segments.reduce((total, segment) => total + segment.sizeBytes, 0) - retentionBytes;
    for (let i = 0; i < deleteCount; i++) excessBytes -= candidates[i]!.sizeBytes;
    while (deleteCount < candidates.length && excessBytes - candidates[deleteCount]!.sizeBytes >= 0) {
      excessBytes -= candidates[deleteCount]!.sizeBytes;
      deleteCount += 1;
    }
  }
  return deleteCount;
}
