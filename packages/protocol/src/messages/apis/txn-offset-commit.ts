// TxnOffsetCommit (key 28), versions 0-5; flexible from 3. v4 and v5 keep v3's layout; v4 only lets
// the answer be TRANSACTION_ABORTABLE (KIP-890: the group's offsets partition is not in the
// transaction; v0-3 get INVALID_TXN_STATE for it); v5 is the transactions-v2
// form (sent without AddOffsetsToTxn: the broker adds the group's offsets partition itself).
//   Request  => transactional_id group_id producer_id producer_epoch generation_id(3+) member_id(3+)
//               group_instance_id(3+, nullable)
//               [topics => name [partitions => partition_index committed_offset
//                 committed_leader_epoch(2+) committed_metadata(nullable)]]
//   Response => throttle_time_ms [topics => name [partitions => partition_index error_code]]
// Spec: apache/kafka TxnOffsetCommitRequest.json / TxnOffsetCommitResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const txnOffsetCommitApi = defineApi(
  'TxnOffsetCommit',
  {
    transactionalId: f.string('0+'),
    groupId: f.string('0+'),
    producerId: f.int64('0+'),
    producerEpoch: f.int16('0+'),
    generationId: f.int32('3+', { default: -1 }),
    memberId: f.string('3+', { default: '' }),
    groupInstanceId: f.string('3+', { nullableVersions: '3+', default: null }),
    topics: f.structArray('0+', {
      name: f.string('0+'),
      partitions: f.structArray('0+', {
        partitionIndex: f.int32('0+'),
        committedOffset: f.int64('0+'),
        committedLeaderEpoch: f.int32('2+', { default: -1, ignorable: true }),
        committedMetadata: f.string('0+', { nullableVersions: '0+' }),
      }),
    }),
  },
  {
    throttleTimeMs: f.int32('0+', { ignorable: true }),
    topics: f.structArray('0+', {
      name: f.string('0+'),
      partitions: f.structArray('0+', { partitionIndex: f.int32('0+'), errorCode: f.int16('0+') }),
    }),
  },
);
