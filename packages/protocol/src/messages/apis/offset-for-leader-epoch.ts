// OffsetForLeaderEpoch (key 23), versions 0-4; flexible from 4.
//   Request  => replica_id(3+) [topics => topic [partitions => partition current_leader_epoch(2+)
//                 leader_epoch]]
//   Response => throttle_time_ms(2+) [topics => topic [partitions => error_code partition
//                 leader_epoch(1+) end_offset]]
// Replica id -2 marks a debug consumer, -1 a normal consumer.
// Spec: apache/kafka OffsetForLeaderEpochRequest.json / OffsetForLeaderEpochResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const offsetForLeaderEpochApi = defineApi(
  'OffsetForLeaderEpoch',
  {
    replicaId: f.int32('3+', { default: -2, ignorable: true }),
    topics: f.structArray('0+', {
      topic: f.string('0+'),
      partitions: f.structArray('0+', {
        partition: f.int32('0+'),
        currentLeaderEpoch: f.int32('2+', { default: -1, ignorable: true }),
        leaderEpoch: f.int32('0+'),
      }),
    }),
  },
  {
    throttleTimeMs: f.int32('2+', { ignorable: true }),
    topics: f.structArray('0+', {
      topic: f.string('0+'),
      partitions: f.structArray('0+', {
        errorCode: f.int16('0+'),
        partition: f.int32('0+'),
        leaderEpoch: f.int32('1+', { default: -1 }),
        endOffset: f.int64('0+', { default: -1n }),
      }),
    }),
  },
);
