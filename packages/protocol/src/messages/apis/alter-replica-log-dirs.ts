// AlterReplicaLogDirs (key 34), versions 1-2; flexible from 2. v0 (v1's layout without KIP-219's
// answer-then-throttle) is not served: Kafka 4.0 removed it (KIP-896), and no client here sends it.
//   Request  => [dirs => path [topics => name [partitions]]]
//   Response => throttle_time_ms [results => topic_name [partitions => partition_index error_code]]
// Spec: apache/kafka AlterReplicaLogDirsRequest.json / AlterReplicaLogDirsResponse.json (KIP-113).

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const alterReplicaLogDirsApi = defineApi(
  'AlterReplicaLogDirs',
  {
    dirs: f.structArray('0+', {
      path: f.string('0+'),
      topics: f.structArray('0+', { name: f.string('0+'), partitions: f.array('0+', t.int32) }),
    }),
  },
  {
    throttleTimeMs: f.int32('0+'),
    results: f.structArray('0+', {
      topicName: f.string('0+'),
      partitions: f.structArray('0+', { partitionIndex: f.int32('0+'), errorCode: f.int16('0+') }),
    }),
  },
);
