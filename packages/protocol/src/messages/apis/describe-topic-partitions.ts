// DescribeTopicPartitions (key 75), version 0; flexible from 0 (KIP-966).
//   Request  => [topics => name] response_partition_limit cursor(nullable) => topic_name partition_index
//   Response => throttle_time_ms [topics => error_code name(nullable) topic_id is_internal
//                 [partitions => error_code partition_index leader_id leader_epoch [replica_nodes]
//                   [isr_nodes] [eligible_leader_replicas](nullable) [last_known_elr](nullable)
//                   [offline_replicas]]
//                 topic_authorized_operations]
//               next_cursor(nullable) => topic_name partition_index
// The cursors are nullable structs: an int8 marker (-1 null, 1 present) precedes them.
// Spec: apache/kafka DescribeTopicPartitionsRequest.json / DescribeTopicPartitionsResponse.json.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';
import { authorizedOperationsOmitted } from './metadata.js';

/** Kafka's default response_partition_limit (and the most a broker answers with one request). */
export const describeTopicPartitionsLimitDefault = 2000;

const cursorFields = { topicName: f.string('0+'), partitionIndex: f.int32('0+') };

export const describeTopicPartitionsApi = defineApi(
  'DescribeTopicPartitions',
  {
    topics: f.structArray('0+', { name: f.string('0+') }),
    responsePartitionLimit: f.int32('0+', { default: describeTopicPartitionsLimitDefault }),
    cursor: f.struct('0+', cursorFields, { nullableVersions: '0+', default: null }),
  },
  {
    throttleTimeMs: f.int32('0+', { ignorable: true }),
    topics: f.structArray('0+', {
      errorCode: f.int16('0+'),
      name: f.string('0+', { nullableVersions: '0+' }),
      topicId: f.uuid('0+', { ignorable: true }),
      isInternal: f.bool('0+', { default: false, ignorable: true }),
      partitions: f.structArray('0+', {
        errorCode: f.int16('0+'),
        partitionIndex: f.int32('0+'),
        leaderId: f.int32('0+'),
        leaderEpoch: f.int32('0+', { default: -1, ignorable: true }),
        replicaNodes: f.array('0+', t.int32),
        isrNodes: f.array('0+', t.int32),
        eligibleLeaderReplicas: f.array('0+', t.int32, { nullableVersions: '0+', default: null }),
        lastKnownElr: f.array('0+', t.int32, { nullableVersions: '0+', default: null }),
        offlineReplicas: f.array('0+', t.int32, { ignorable: true }),
      }),
      topicAuthorizedOperations: f.int32('0+', { default: authorizedOperationsOmitted }),
    }),
    nextCursor: f.struct('0+', cursorFields, { nullableVersions: '0+', default: null }),
  },
);
