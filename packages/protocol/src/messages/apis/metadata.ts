// Metadata (key 3), versions 0-9; flexible from 9.
//   Request  => [topics => name](nullable 1+: null = all topics; v0: empty = all)
//               allow_auto_topic_creation(4+) include_cluster_authorized_operations(8+)
//               include_topic_authorized_operations(8+)
//   Response => throttle_time_ms(3+) [brokers => node_id host port rack(1+)] cluster_id(2+)
//               controller_id(1+) [topics => error_code name is_internal(1+)
//                 [partitions => error_code partition_index leader_id leader_epoch(7+)
//                   [replica_nodes] [isr_nodes] [offline_replicas](5+)]
//                 topic_authorized_operations(8+)]
//               cluster_authorized_operations(8+)
// Spec: apache/kafka MetadataRequest.json / MetadataResponse.json (fields beyond v9 omitted).

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

/** The "not requested" value of the authorized-operations bit fields. */
export const authorizedOperationsOmitted = -2147483648;

export const metadataApi = defineApi(
  'Metadata',
  {
    topics: f.structArray('0+', { name: f.string('0+') }, { nullableVersions: '1+' }),
    allowAutoTopicCreation: f.bool('4+', { default: true }),
    includeClusterAuthorizedOperations: f.bool('8+'),
    includeTopicAuthorizedOperations: f.bool('8+'),
  },
  {
    throttleTimeMs: f.int32('3+'),
    brokers: f.structArray('0+', {
      nodeId: f.int32('0+'),
      host: f.string('0+'),
      port: f.int32('0+'),
      rack: f.string('1+', { nullableVersions: '1+', ignorable: true, default: null }),
    }),
    clusterId: f.string('2+', { nullableVersions: '2+', ignorable: true, default: null }),
    controllerId: f.int32('1+', { default: -1, ignorable: true }),
    topics: f.structArray('0+', {
      errorCode: f.int16('0+'),
      name: f.string('0+'),
      isInternal: f.bool('1+', { default: false, ignorable: true }),
      partitions: f.structArray('0+', {
        errorCode: f.int16('0+'),
        partitionIndex: f.int32('0+'),
        leaderId: f.int32('0+'),
        leaderEpoch: f.int32('7+', { default: -1, ignorable: true }),
        replicaNodes: f.array('0+', t.int32),
        isrNodes: f.array('0+', t.int32),
        offlineReplicas: f.array('5+', t.int32, { ignorable: true }),
      }),
      topicAuthorizedOperations: f.int32('8+', { default: authorizedOperationsOmitted, ignorable: true }),
    }),
    clusterAuthorizedOperations: f.int32('8+', { default: authorizedOperationsOmitted, ignorable: true }),
  },
);
