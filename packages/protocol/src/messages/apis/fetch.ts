// Fetch (key 1), versions 0-12; flexible from 12.
//   Request  => cluster_id(tag 0, 12+) replica_id max_wait_ms min_bytes max_bytes(3+)
//               isolation_level(4+) session_id(7+) session_epoch(7+)
//               [topics => topic [partitions => partition current_leader_epoch(9+) fetch_offset
//                 last_fetched_epoch(12+) log_start_offset(5+) partition_max_bytes]]
//               [forgotten_topics_data => topic [partitions]](7+) rack_id(11+)
//   Response => throttle_time_ms(1+) error_code(7+) session_id(7+)
//               [responses => topic [partitions => partition_index error_code high_watermark
//                 last_stable_offset(4+) log_start_offset(5+)
//                 diverging_epoch(tag 0) current_leader(tag 1) snapshot_id(tag 2)
//                 [aborted_transactions => producer_id first_offset](4+, nullable)
//                 preferred_read_replica(11+) records]]
// Spec: apache/kafka FetchRequest.json / FetchResponse.json (topic ids of v13+ omitted).

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const fetchApi = defineApi(
  'Fetch',
  {
    clusterId: f.string('12+', {
      nullableVersions: '12+',
      default: null,
      tag: 0,
      taggedVersions: '12+',
      ignorable: true,
    }),
    replicaId: f.int32('0+'),
    maxWaitMs: f.int32('0+'),
    minBytes: f.int32('0+'),
    maxBytes: f.int32('3+', { default: 0x7fffffff, ignorable: true }),
    isolationLevel: f.int8('4+', { default: 0 }),
    sessionId: f.int32('7+', { default: 0 }),
    sessionEpoch: f.int32('7+', { default: -1 }),
    topics: f.structArray('0+', {
      topic: f.string('0+'),
      partitions: f.structArray('0+', {
        partition: f.int32('0+'),
        currentLeaderEpoch: f.int32('9+', { default: -1, ignorable: true }),
        fetchOffset: f.int64('0+'),
        lastFetchedEpoch: f.int32('12+', { default: -1 }),
        logStartOffset: f.int64('5+', { default: -1n }),
        partitionMaxBytes: f.int32('0+'),
      }),
    }),
    forgottenTopicsData: f.structArray('7+', {
      topic: f.string('7+'),
      partitions: f.array('7+', t.int32),
    }),
    rackId: f.string('11+', { default: '', ignorable: true }),
  },
  {
    throttleTimeMs: f.int32('1+', { ignorable: true }),
    errorCode: f.int16('7+', { ignorable: true }),
    sessionId: f.int32('7+', { default: 0 }),
    responses: f.structArray('0+', {
      topic: f.string('0+'),
      partitions: f.structArray('0+', {
        partitionIndex: f.int32('0+'),
        errorCode: f.int16('0+'),
        highWatermark: f.int64('0+'),
        lastStableOffset: f.int64('4+', { default: -1n, ignorable: true }),
        logStartOffset: f.int64('5+', { default: -1n, ignorable: true }),
        divergingEpoch: f.struct(
          '12+',
          { epoch: f.int32('12+', { default: -1 }), endOffset: f.int64('12+', { default: -1n }) },
          { tag: 0, taggedVersions: '12+' },
        ),
        currentLeader: f.struct(
          '12+',
          { leaderId: f.int32('12+', { default: -1 }), leaderEpoch: f.int32('12+', { default: -1 }) },
          { tag: 1, taggedVersions: '12+' },
        ),
        snapshotId: f.struct(
          '12+',
          { endOffset: f.int64('12+', { default: -1n }), epoch: f.int32('12+', { default: -1 }) },
          { tag: 2, taggedVersions: '12+' },
        ),
        abortedTransactions: f.structArray(
          '4+',
          { producerId: f.int64('4+'), firstOffset: f.int64('4+') },
          { nullableVersions: '4+', ignorable: true },
        ),
        preferredReadReplica: f.int32('11+', { default: -1 }),
        records: f.records('0+'),
      }),
    }),
  },
);
