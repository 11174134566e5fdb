// AlterReplicaLogDirs (key 34), versions 0-2; flexible from 2 (v1 is v0 with KIP-219 throttling).
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
