// ConsumerGroupHeartbeat (key 68), versions 0-1; flexible from 0 (KIP-848's consumer group protocol).
//   Request  => group_id member_id member_epoch instance_id(nullable) rack_id(nullable)
//               rebalance_timeout_ms [subscribed_topic_names](nullable)
//               subscribed_topic_regex(1+, nullable) server_assignor(nullable)
//               [topic_partitions => topic_id [partitions]](nullable)
//   Response => throttle_time_ms error_code error_message(nullable) member_id(nullable)
//               member_epoch heartbeat_interval_ms
//               assignment(nullable) => [topic_partitions => topic_id [partitions]]
// Null request fields mean "unchanged since the last heartbeat". Version 1 adds the regex and has the
// consumer generate its own member id (KIP-1082). The assignment is a nullable struct: an int8
// marker (-1 null, 1 present) precedes it. Spec: apache/kafka ConsumerGroupHeartbeatRequest.json /
// ConsumerGroupHeartbeatResponse.json.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

const topicPartitionsFields = { topicId: f.uuid('0+'), partitions: f.array('0+', t.int32) };

export const consumerGroupHeartbeatApi = defineApi(
  'ConsumerGroupHeartbeat',
  {
    groupId: f.string('0+'),
    memberId: f.string('0+'),
    memberEpoch: f.int32('0+'),
    instanceId: f.string('0+', { nullableVersions: '0+', default: null }),
    rackId: f.string('0+', { nullableVersions: '0+', default: null }),
    rebalanceTimeoutMs: f.int32('0+', { default: -1 }),
    subscribedTopicNames: f.array('0+', t.string, { nullableVersions: '0+', default: null }),
    subscribedTopicRegex: f.string('1+', { nullableVersions: '1+', default: null }),
    serverAssignor: f.string('0+', { nullableVersions: '0+', default: null }),
    topicPartitions: f.structArray('0+', topicPartitionsFields, { nullableVersions: '0+', default: null }),
  },
  {
    throttleTimeMs: f.int32('0+', { ignorable: true }),
    errorCode: f.int16('0+'),
    errorMessage: f.string('0+', { nullableVersions: '0+', default: null }),
    memberId: f.string('0+', { nullableVersions: '0+', default: null }),
    memberEpoch: f.int32('0+'),
    heartbeatIntervalMs: f.int32('0+'),
    assignment: f.struct(
      '0+',
      { topicPartitions: f.structArray('0+', topicPartitionsFields) },
      { nullableVersions: '0+', default: null },
    ),
  },
);
