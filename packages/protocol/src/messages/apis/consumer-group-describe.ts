// ConsumerGroupDescribe (key 69), versions 0-1; flexible from 0 (KIP-848). Version 1 adds the
// member type (KIP-1099: 1 consumer, 0 classic, -1 unknown); the request is the same.
//   Request  => [group_ids] include_authorized_operations
//   Response => throttle_time_ms [groups => error_code error_message(nullable) group_id group_state
//                 group_epoch assignment_epoch assignor_name
//                 [members => member_id instance_id(nullable) rack_id(nullable) member_epoch
//                   client_id client_host [subscribed_topic_names] subscribed_topic_regex(nullable)
//                   assignment target_assignment member_type(1+)]
//                 authorized_operations]
//   assignment => [topic_partitions => topic_id topic_name [partitions]]
// Spec: apache/kafka ConsumerGroupDescribeRequest.json / ConsumerGroupDescribeResponse.json.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';
import { authorizedOperationsOmitted } from './metadata.js';

const assignmentFields = {
  topicPartitions: f.structArray('0+', {
    topicId: f.uuid('0+'),
    topicName: f.string('0+'),
    partitions: f.array('0+', t.int32),
  }),
};

export const consumerGroupDescribeApi = defineApi(
  'ConsumerGroupDescribe',
  {
    groupIds: f.array('0+', t.string),
    includeAuthorizedOperations: f.bool('0+'),
  },
  {
    throttleTimeMs: f.int32('0+', { ignorable: true }),
    groups: f.structArray('0+', {
      errorCode: f.int16('0+'),
      errorMessage: f.string('0+', { nullableVersions: '0+', default: null }),
      groupId: f.string('0+'),
      groupState: f.string('0+'),
      groupEpoch: f.int32('0+'),
      assignmentEpoch: f.int32('0+'),
      assignorName: f.string('0+'),
      members: f.structArray('0+', {
        memberId: f.string('0+'),
        instanceId: f.string('0+', { nullableVersions: '0+', default: null }),
        rackId: f.string('0+', { nullableVersions: '0+', default: null }),
        memberEpoch: f.int32('0+'),
        clientId: f.string('0+'),
        clientHost: f.string('0+'),
        subscribedTopicNames: f.array('0+', t.string),
        subscribedTopicRegex: f.string('0+', { nullableVersions: '0+', default: null }),
        assignment: f.struct('0+', assignmentFields),
        targetAssignment: f.struct('0+', assignmentFields),
        memberType: f.int8('1+', { default: -1, ignorable: true }),
      }),
      authorizedOperations: f.int32('0+', { default: authorizedOperationsOmitted }),
    }),
  },
);
