// Metadata (key 3), versions 0-13; flexible from 9.
//   Request  => [topics => topic_id(10+) name(nullable 10+)](nullable 1+: null = all topics; v0: empty = all)
//               allow_auto_topic_creation(4+) include_cluster_authorized_operations(8-10)
//               include_topic_authorized_operations(8+)
//   Response => throttle_time_ms(3+) [brokers => node_id host port rack(1+)] cluster_id(2+)
//               controller_id(1+) [topics => error_code name(nullable 12+) topic_id(10+) is_internal(1+)
//                 [partitions => error_code partition_index leader_id leader_epoch(7+)
//                   [replica_nodes] [isr_nodes] [offline_replicas](5+)]
//                 topic_authorized_operations(8+)]
//               cluster_authorized_operations(8-10) error_code(13+)
// Spec: apache/kafka MetadataRequest.json / MetadataResponse.json, Kafka 4.1 (validVersions 0-13).
// v10 adds topic ids (Kafka's brokers ignore a request's ids before v12: "Versions 10 and 11 should
// not use the topicId field or set topic name to null"); v11 drops the cluster's authorized
// operations (DescribeCluster has them, KIP-700); v12 asks by topic id with a null name; v13 adds a
// top-level error code.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

/** The "not requested" value of the authorized-operations bit fields. */
export const authorizedOperationsOmitted = -2147483648;

/** The first Metadata version whose requests may name topics by id (a null name), as Kafka serves it. */
export const metadataTopicIdRequestVersionMin = 12;

export const metadataApi = defineApi(
  'Metadata',
  {
    topics: f.structArray(
      '0+',
      {
        topicId: f.uuid('10+', { ignorable: true }),
        name: f.string('0+', { nullableVersions: '10+' }),
      },
      { nullableVersions: '1+' },
    ),
    allowAutoTopicCreation: f.bool('4+', { default: true }),
    includeClusterAuthorizedOperations: f.bool('8-10'),
    includeTopicAuthorizedOperations: f.bool('8+'),
  },
  {
    throttleTimeMs: f.int32('3+', { ignorable: true }),
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
      name: f.string('0+', { nullableVersions: '12+' }),
      topicId: f.uuid('10+', { ignorable: true }),
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
    clusterAuthorizedOperations: f.int32('8-10', { default: authorizedOperationsOmitted, ignorable: true }),
    errorCode: f.int16('13+', { ignorable: true }),
  },
);
