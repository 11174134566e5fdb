// OffsetFetch (key 9), versions 0-10; flexible from 6. Version 8 batches groups, version 9 names the
// member asking (KIP-848: a consumer-protocol member's id and epoch; null and -1 otherwise), version
// 10 names each topic of a group by its id instead of its name, in both directions (KIP-848).
//   Request  v0-7 => group_id [topics => name [partition_indexes]](nullable 2+: null = all)
//                    require_stable(7+)
//   Request  v8+  => [groups => group_id member_id(9+, nullable) member_epoch(9+)
//                      [topics => name(8-9) topic_id(10+) [partition_indexes]](nullable)]
//                    require_stable
//   Response v0-7 => throttle_time_ms(3+) [topics => name [partitions => partition_index
//                      committed_offset committed_leader_epoch(5+) metadata(nullable) error_code]]
//                    error_code(2+)
//   Response v8+  => throttle_time_ms [groups => group_id [topics => name(8-9) topic_id(10+)
//                      [partitions => ...]] error_code]
// No committed offset is reported as offset -1. Spec: apache/kafka OffsetFetchRequest.json /
// OffsetFetchResponse.json (the response JSON calls `groups` "GroupIds"). v10 is
// latestVersionUnstable in Kafka 4.1 (which advertises 9) and stable from 4.2 ("Version 10 adds
// support for topic ids and removes support for topic names (KIP-848)"; Name "8-9", TopicId "10+").
// Both are ignorable here, so one body with a name and an id encodes at every version.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const offsetFetchApi = defineApi(
  'OffsetFetch',
  {
    groupId: f.string('0-7'),
    topics: f.structArray(
      '0-7',
      { name: f.string('0-7'), partitionIndexes: f.array('0-7', t.int32) },
      { nullableVersions: '2-7' },
    ),
    groups: f.structArray('8+', {
      groupId: f.string('8+'),
      memberId: f.string('9+', { nullableVersions: '9+', default: null, ignorable: true }),
      memberEpoch: f.int32('9+', { default: -1, ignorable: true }),
      topics: f.structArray(
        '8+',
        {
          name: f.string('8-9', { ignorable: true }),
          topicId: f.uuid('10+', { ignorable: true }),
          partitionIndexes: f.array('8+', t.int32),
        },
        { nullableVersions: '8+' },
      ),
    }),
    requireStable: f.bool('7+', { default: false }),
  },
  {
    throttleTimeMs: f.int32('3+', { ignorable: true }),
    topics: f.structArray('0-7', {
      name: f.string('0-7'),
      partitions: f.structArray('0-7', {
        partitionIndex: f.int32('0-7'),
        committedOffset: f.int64('0-7'),
        committedLeaderEpoch: f.int32('5-7', { default: -1, ignorable: true }),
        metadata: f.string('0-7', { nullableVersions: '0-7' }),
        errorCode: f.int16('0-7'),
      }),
    }),
    errorCode: f.int16('2-7', { default: 0, ignorable: true }),
    groups: f.structArray('8+', {
      groupId: f.string('8+'),
      topics: f.structArray('8+', {
        name: f.string('8-9', { ignorable: true }),
        topicId: f.uuid('10+', { ignorable: true }),
        partitions: f.structArray('8+', {
          partitionIndex: f.int32('8+'),
          committedOffset: f.int64('8+'),
          committedLeaderEpoch: f.int32('8+', { default: -1, ignorable: true }),
          metadata: f.string('8+', { nullableVersions: '8+' }),
          errorCode: f.int16('8+'),
        }),
      }),
      errorCode: f.int16('8+', { default: 0, ignorable: true }),
    }),
  },
);
