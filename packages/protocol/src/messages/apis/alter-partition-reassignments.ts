// AlterPartitionReassignments (key 45), versions 0-1; flexible from 0.
//   Request  => timeout_ms allow_replication_factor_change(1+)
//               [topics => name [partitions => partition_index replicas(nullable)]]
//   Response => throttle_time_ms allow_replication_factor_change(1+) error_code error_message(nullable)
//               [responses => name [partitions => partition_index error_code error_message(nullable)]]
// Null replicas cancel the partition's pending reassignment. v1 (KIP-860) lets a client refuse
// moves that change a partition's replica count. Spec: apache/kafka
// AlterPartitionReassignmentsRequest.json / AlterPartitionReassignmentsResponse.json (KIP-455).

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const alterPartitionReassignmentsApi = defineApi(
  'AlterPartitionReassignments',
  {
    timeoutMs: f.int32('0+', { default: 60_000 }),
    allowReplicationFactorChange: f.bool('1+', { default: true }),
    topics: f.structArray('0+', {
      name: f.string('0+'),
      partitions: f.structArray('0+', {
        partitionIndex: f.int32('0+'),
        replicas: f.array('0+', t.int32, { nullableVersions: '0+', default: null }),
      }),
    }),
  },
  {
    throttleTimeMs: f.int32('0+'),
    allowReplicationFactorChange: f.bool('1+', { default: true, ignorable: true }),
    errorCode: f.int16('0+'),
    errorMessage: f.string('0+', { nullableVersions: '0+', default: null }),
    responses: f.structArray('0+', {
      name: f.string('0+'),
      partitions: f.structArray('0+', {
        partitionIndex: f.int32('0+'),
        errorCode: f.int16('0+'),
        errorMessage: f.string('0+', { nullableVersions: '0+', default: null }),
      }),
    }),
  },
);
