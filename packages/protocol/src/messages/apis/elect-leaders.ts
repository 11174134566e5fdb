// ElectLeaders (key 43), versions 0-2; flexible from 2.
//   Request  => election_type(1+) [topic_partitions => topic [partition_id]](nullable) timeout_ms
//   Response => throttle_time_ms error_code(1+)
//               [replica_election_results => topic
//                 [partition_result => partition_id error_code error_message(nullable)]]
// election_type: 0 PREFERRED, 1 UNCLEAN (v0 is always PREFERRED). Spec: apache/kafka
// ElectLeadersRequest.json / ElectLeadersResponse.json (KIP-183, KIP-460).

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const electionType = { preferred: 0, unclean: 1 } as const;

export const electLeadersApi = defineApi(
  'ElectLeaders',
  {
    electionType: f.int8('1+', { default: 0 }),
    topicPartitions: f.structArray(
      '0+',
      { topic: f.string('0+'), partitionId: f.array('0+', t.int32) },
      { nullableVersions: '0+' },
    ),
    timeoutMs: f.int32('0+', { default: 60_000 }),
  },
  {
    throttleTimeMs: f.int32('0+'),
    errorCode: f.int16('1+', { default: 0 }),
    replicaElectionResults: f.structArray('0+', {
      topic: f.string('0+'),
      partitionResult: f.structArray('0+', {
        partitionId: f.int32('0+'),
        errorCode: f.int16('0+'),
        errorMessage: f.string('0+', { nullableVersions: '0+', default: null }),
      }),
    }),
  },
);
