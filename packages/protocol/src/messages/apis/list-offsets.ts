// ListOffsets (key 2), versions 0-10; flexible from 6.
//   Request  => replica_id isolation_level(2+)
//               [topics => name [partitions => partition_index current_leader_epoch(4+) timestamp
//                 max_num_offsets(v0 only)]] timeout_ms(10+)
//   Response => throttle_time_ms(2+)
//               [topics => name [partitions => partition_index error_code [old_style_offsets](v0 only)
//                 timestamp(1+) offset(1+) leader_epoch(4+)]]
// Timestamp -1 asks for the latest offset, -2 for the earliest; v7 adds -3 (the record with the
// largest timestamp, KIP-734), v8 -4 (the earliest offset in local storage, KIP-405), v9 -5 (the
// latest offset in remote storage, KIP-1005); v10 adds a timeout for reads from remote storage
// (KIP-1075).
// Spec: apache/kafka ListOffsetsRequest.json / ListOffsetsResponse.json.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const latestTimestamp = -1n;
export const earliestTimestamp = -2n;
export const maxTimestamp = -3n;
export const earliestLocalTimestamp = -4n;
export const latestTieredTimestamp = -5n;

export const listOffsetsApi = defineApi(
  'ListOffsets',
  {
    replicaId: f.int32('0+'),
    isolationLevel: f.int8('2+'),
    topics: f.structArray('0+', {
      name: f.string('0+'),
      partitions: f.structArray('0+', {
        partitionIndex: f.int32('0+'),
        currentLeaderEpoch: f.int32('4+', { default: -1, ignorable: true }),
        timestamp: f.int64('0+'),
        maxNumOffsets: f.int32('0', { default: 1 }),
      }),
    }),
    timeoutMs: f.int32('10+', { ignorable: true }),
  },
  {
    throttleTimeMs: f.int32('2+', { ignorable: true }),
    topics: f.structArray('0+', {
      name: f.string('0+'),
      partitions: f.structArray('0+', {
        partitionIndex: f.int32('0+'),
        errorCode: f.int16('0+'),
        oldStyleOffsets: f.array('0', t.int64),
        timestamp: f.int64('1+', { default: -1n }),
        offset: f.int64('1+', { default: -1n }),
        leaderEpoch: f.int32('4+', { default: -1 }),
      }),
    }),
  },
);
