// ListPartitionReassignments (key 46), version 0; flexible from 0.
//   Request  => timeout_ms [topics => name [partition_indexes]](nullable)
//   Response => throttle_time_ms error_code error_message(nullable)
//               [topics => name [partitions => partition_index [replicas] [adding_replicas]
//                 [removing_replicas]]]
// Null topics list every ongoing reassignment. Spec: apache/kafka
// ListPartitionReassignmentsRequest.json / ListPartitionReassignmentsResponse.json (KIP-455).

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const listPartitionReassignmentsApi = defineApi(
  'ListPartitionReassignments',
  {
    timeoutMs: f.int32('0+', { default: 60_000 }),
    topics: f.structArray(
      '0+',
      { name: f.string('0+'), partitionIndexes: f.array('0+', t.int32) },
      { nullableVersions: '0+', default: null },
    ),
  },
  {
    throttleTimeMs: f.int32('0+'),
    errorCode: f.int16('0+'),
    errorMessage: f.string('0+', { nullableVersions: '0+', default: null }),
    topics: f.structArray('0+', {
      name: f.string('0+'),
      partitions: f.structArray('0+', {
        partitionIndex: f.int32('0+'),
        replicas: f.array('0+', t.int32),
        addingReplicas: f.array('0+', t.int32),
        removingReplicas: f.array('0+', t.int32),
      }),
    }),
  },
);
