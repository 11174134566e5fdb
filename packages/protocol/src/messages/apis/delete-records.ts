// DeleteRecords (key 21), versions 0-2; flexible from 2 (v1 is v0 with throttling after the answer).
//   Request  => [topics => name [partitions => partition_index offset]] timeout_ms
//   Response => throttle_time_ms [topics => name [partitions => partition_index low_watermark error_code]]
// Offset -1 deletes up to the high watermark.
// Spec: apache/kafka DeleteRecordsRequest.json / DeleteRecordsResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

/** The request offset that means "up to the high watermark". */
export const deleteRecordsToHighWatermark = -1n;

export const deleteRecordsApi = defineApi(
  'DeleteRecords',
  {
    topics: f.structArray('0+', {
      name: f.string('0+'),
      partitions: f.structArray('0+', {
        partitionIndex: f.int32('0+'),
        offset: f.int64('0+'),
      }),
    }),
    timeoutMs: f.int32('0+'),
  },
  {
    throttleTimeMs: f.int32('0+'),
    topics: f.structArray('0+', {
      name: f.string('0+'),
      partitions: f.structArray('0+', {
        partitionIndex: f.int32('0+'),
        lowWatermark: f.int64('0+'),
        errorCode: f.int16('0+'),
      }),
    }),
  },
);
