// OffsetCommit (key 8), versions 0-10; flexible from 8. Version 9 has v8's layout; it is the first
// a KIP-848 consumer may send, with its member epoch where a classic member sends its generation.
// Version 10 (KIP-848) names each topic by its id instead of its name, in both directions.
//   Request  => group_id generation_id(1+) member_id(1+) group_instance_id(7+, nullable)
//               retention_time_ms(2-4)
//               [topics => name(0-9) topic_id(10+) [partitions => partition_index committed_offset
//                 committed_leader_epoch(6+) commit_timestamp(v1 only) committed_metadata(nullable)]]
//   Response => throttle_time_ms(3+)
//               [topics => name(0-9) topic_id(10+) [partitions => partition_index error_code]]
// Spec: apache/kafka OffsetCommitRequest.json / OffsetCommitResponse.json. v10 is
// latestVersionUnstable in Kafka 4.1 (which advertises 9) and stable from 4.2 ("Version 10 adds
// support for topic ids and removes support for topic names (KIP-848)"; Name "0-9", TopicId "10+").
// Both are ignorable here, so one body with a name and an id encodes at every version.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const offsetCommitApi = defineApi(
  'OffsetCommit',
  {
    groupId: f.string('0+'),
    /** Kafka's GenerationIdOrMemberEpoch: the generation of a classic group's member. */
    generationId: f.int32('1+', { default: -1, ignorable: true }),
    memberId: f.string('1+', { ignorable: true }),
    groupInstanceId: f.string('7+', { nullableVersions: '7+', default: null }),
    retentionTimeMs: f.int64('2-4', { default: -1n, ignorable: true }),
    topics: f.structArray('0+', {
      name: f.string('0-9', { ignorable: true }),
      topicId: f.uuid('10+', { ignorable: true }),
      partitions: f.structArray('0+', {
        partitionIndex: f.int32('0+'),
        committedOffset: f.int64('0+'),
        committedLeaderEpoch: f.int32('6+', { default: -1, ignorable: true }),
        commitTimestamp: f.int64('1', { default: -1n }),
        committedMetadata: f.string('0+', { nullableVersions: '0+' }),
      }),
    }),
  },
  {
    throttleTimeMs: f.int32('3+', { ignorable: true }),
    topics: f.structArray('0+', {
      name: f.string('0-9', { ignorable: true }),
      topicId: f.uuid('10+', { ignorable: true }),
      partitions: f.structArray('0+', { partitionIndex: f.int32('0+'), errorCode: f.int16('0+') }),
    }),
  },
);
