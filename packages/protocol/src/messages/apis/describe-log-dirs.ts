// DescribeLogDirs (key 35), versions 0-4; flexible from 2.
//   Request  => [topics => topic [partitions]](nullable: every partition)
//   Response => throttle_time_ms error_code(3+)
//               [results => error_code log_dir
//                 [topics => name [partitions => partition_index partition_size offset_lag is_future_key]]
//                 total_bytes(4+) usable_bytes(4+)]
// Spec: apache/kafka DescribeLogDirsRequest.json / DescribeLogDirsResponse.json (KIP-113, KIP-827).

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const describeLogDirsApi = defineApi(
  'DescribeLogDirs',
  {
    topics: f.structArray(
      '0+',
      { topic: f.string('0+'), partitions: f.array('0+', t.int32) },
      { nullableVersions: '0+' },
    ),
  },
  {
    throttleTimeMs: f.int32('0+'),
    errorCode: f.int16('3+', { default: 0 }),
    results: f.structArray('0+', {
      errorCode: f.int16('0+'),
      logDir: f.string('0+'),
      topics: f.structArray('0+', {
        name: f.string('0+'),
        partitions: f.structArray('0+', {
          partitionIndex: f.int32('0+'),
          partitionSize: f.int64('0+'),
          offsetLag: f.int64('0+'),
          isFutureKey: f.bool('0+'),
        }),
      }),
      totalBytes: f.int64('4+', { default: -1n, ignorable: true }),
      usableBytes: f.int64('4+', { default: -1n, ignorable: true }),
    }),
  },
);
