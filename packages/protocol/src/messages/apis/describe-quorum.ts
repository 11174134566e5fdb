// DescribeQuorum (key 55), versions 0-2; flexible from 0.
//   Request  => [topics => topic_name [partitions => partition_index]]
//   Response => error_code error_message(2+, nullable)
//               [topics => topic_name
//                 [partitions => partition_index error_code error_message(2+, nullable) leader_id
//                   leader_epoch high_watermark [current_voters] [observers]]]
//               [nodes(2+) => node_id [listeners => name host port(uint16)]]
//   current_voters, observers => replica_id replica_directory_id(2+) log_end_offset
//                                last_fetch_timestamp(1+) last_caught_up_timestamp(1+)
// Spec: apache/kafka DescribeQuorumRequest.json / DescribeQuorumResponse.json (KIP-595, KIP-836,
// KIP-853).

import { defineApi } from '../api.js';
import { f } from '../schema.js';

const replicaState = {
  replicaId: f.int32('0+'),
  replicaDirectoryId: f.uuid('2+'),
  logEndOffset: f.int64('0+'),
  lastFetchTimestamp: f.int64('1+', { default: -1n, ignorable: true }),
  lastCaughtUpTimestamp: f.int64('1+', { default: -1n, ignorable: true }),
};

export const describeQuorumApi = defineApi(
  'DescribeQuorum',
  {
    topics: f.structArray('0+', {
      topicName: f.string('0+'),
      partitions: f.structArray('0+', { partitionIndex: f.int32('0+') }),
    }),
  },
  {
    errorCode: f.int16('0+'),
    errorMessage: f.string('2+', { nullableVersions: '2+', default: null, ignorable: true }),
    topics: f.structArray('0+', {
      topicName: f.string('0+'),
      partitions: f.structArray('0+', {
        partitionIndex: f.int32('0+'),
        errorCode: f.int16('0+'),
        errorMessage: f.string('2+', { nullableVersions: '2+', default: null, ignorable: true }),
        leaderId: f.int32('0+'),
        leaderEpoch: f.int32('0+'),
        highWatermark: f.int64('0+'),
        currentVoters: f.structArray('0+', replicaState),
        observers: f.structArray('0+', replicaState),
      }),
    }),
    nodes: f.structArray(
      '2+',
      {
        nodeId: f.int32('2+'),
        listeners: f.structArray('2+', {
          name: f.string('2+'),
          host: f.string('2+'),
          port: f.uint16('2+'),
        }),
      },
      { ignorable: true },
    ),
  },
);
