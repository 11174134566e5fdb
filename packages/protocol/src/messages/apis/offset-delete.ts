// OffsetDelete (key 47), version 0; never flexible.
//   Request  => group_id [topics => name [partitions => partition_index]]
//   Response => error_code throttle_time_ms [topics => name [partitions => partition_index error_code]]
// Spec: apache/kafka OffsetDeleteRequest.json / OffsetDeleteResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const offsetDeleteApi = defineApi(
  'OffsetDelete',
  {
    groupId: f.string('0+'),
    topics: f.structArray('0+', {
      name: f.string('0+'),
      partitions: f.structArray('0+', { partitionIndex: f.int32('0+') }),
    }),
  },
  {
    errorCode: f.int16('0+'),
    throttleTimeMs: f.int32('0+', { ignorable: true }),
    topics: f.structArray('0+', {
      name: f.string('0+'),
      partitions: f.structArray('0+', {
        partitionIndex: f.int32('0+'),
        errorCode: f.int16('0+'),
      }),
    }),
  },
);
