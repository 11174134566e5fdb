// What a compacted topic accepts: every record needs a key, since the cleaner keeps the latest record
// per key and drops keyless ones. Kafka's LogValidator refuses such a produce with INVALID_RECORD
// ("Compacted topic cannot accept message without key"); the broker calls this before `append` for
// topics whose cleanup.policy includes "compact".

import { ErrorCode, iterateBatches, KafkaError } from '@gregor/protocol';
import type { LogConfig } from './log-config.js';

/** True when the cleaner compacts logs with this config (`compact` or `compact,delete`). */
export function isCompacted(config: LogConfig): boolean {
  return config.cleanupPolicy.includes('compact');
}

/**
 * Decodes (and decompresses) every batch of a produce request's record set and throws
 * KafkaError(INVALID_RECORD) when a record has a null key; malformed batches throw
 * KafkaError(CORRUPT_MESSAGE). Control batches are not checked (producers do not send them).
 */
export function checkCompactedRecordSet(records: Buffer): void {
  for (const batch of iterateBatches(records)) {
    if (batch.header.isControl) continue;
    for (const record of batch.records) {
      if (record.key === null) {
        throw new KafkaError(
          ErrorCode.INVALID_RECORD,
          `compacted topic cannot accept a record without a key (offset delta ${record.offsetDelta})`,
        );
      }
    }
  }
}
