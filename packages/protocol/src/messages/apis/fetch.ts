// Fetch (key 1), versions 0-18; flexible from 12.
//   Request  => cluster_id(tag 0, 12+) replica_id(0-14) replica_state(tag 1, 15+ => replica_id replica_epoch)
//               max_wait_ms min_bytes max_bytes(3+) isolation_level(4+) session_id(7+) session_epoch(7+)
//               [topics => topic(0-12) topic_id(13+) [partitions => partition current_leader_epoch(9+)
//                 fetch_offset last_fetched_epoch(12+) log_start_offset(5+) partition_max_bytes
//                 replica_directory_id(tag 0, 17+) high_watermark(tag 1, 18+)]]
//               [forgotten_topics_data => topic(7-12) topic_id(13+) [partitions]](7+) rack_id(11+)
//   Response => throttle_time_ms(1+) error_code(7+) session_id(7+)
//               [responses => topic(0-12) topic_id(13+) [partitions => partition_index error_code
//                 high_watermark last_stable_offset(4+) log_start_offset(5+)
//                 diverging_epoch(tag 0) current_leader(tag 1) snapshot_id(tag 2)
//                 [aborted_transactions => producer_id first_offset](4+, nullable)
//                 preferred_read_replica(11+) records]]
//               node_endpoints(tag 0, 16+ => [node_id host port rack])
// Spec: apache/kafka FetchRequest.json / FetchResponse.json (Kafka 4.1: validVersions 4-17; v18 of
// KIP-1166 after it; Gregor also serves 0-3, which kafkajs and older librdkafka still send).
// v13 names topics by id (KIP-516; UNKNOWN_TOPIC_ID for an id the broker does not know), v14 may
// answer OFFSET_MOVED_TO_TIERED_STORAGE (KIP-405), v15 moves the replica id into the ReplicaState
// tagged field (KIP-903), v16 adds node_endpoints for the current leaders it names (KIP-951), v17
// adds the follower's directory id (KIP-853), v18 the high watermark a follower knows (KIP-1166). The
// last two are a follower's: Gregor's brokers replicate over gRPC, so they are read and not used.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

/** The first Fetch version that names topics by id. */
export const fetchTopicIdVersionMin = 13;

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
    replicaId: f.int32('0-14', { default: -1 }),
    replicaState: f.struct(
      '15+',
      { replicaId: f.int32('15+', { default: -1 }), replicaEpoch: f.int64('15+', { default: -1n }) },
      { tag: 1, taggedVersions: '15+' },
    ),
    maxWaitMs: f.int32('0+'),
    minBytes: f.int32('0+'),
    maxBytes: f.int32('3+', { default: 0x7fffffff, ignorable: true }),
    isolationLevel: f.int8('4+', { default: 0 }),
    sessionId: f.int32('7+', { default: 0 }),
    sessionEpoch: f.int32('7+', { default: -1 }),
    topics: f.structArray('0+', {
      // The default ('' as for any string) spares v13+ encoders a name that is not on the wire.
      topic: f.string('0-12', { ignorable: true, default: '' }),
      topicId: f.uuid('13+', { ignorable: true }),
      partitions: f.structArray('0+', {
        partition: f.int32('0+'),
        currentLeaderEpoch: f.int32('9+', { default: -1, ignorable: true }),
        fetchOffset: f.int64('0+'),
        lastFetchedEpoch: f.int32('12+', { default: -1 }),
        logStartOffset: f.int64('5+', { default: -1n }),
        partitionMaxBytes: f.int32('0+'),
        replicaDirectoryId: f.uuid('17+', { tag: 0, taggedVersions: '17+', ignorable: true }),
        highWatermark: f.int64('18+', {
          default: 0x7fffffffffffffffn,
          tag: 1,
          taggedVersions: '18+',
          ignorable: true,
        }),
      }),
    }),
    forgottenTopicsData: f.structArray('7+', {
      topic: f.string('7-12', { ignorable: true }),
      topicId: f.uuid('13+', { ignorable: true }),
      partitions: f.array('7+', t.int32),
    }),
    rackId: f.string('11+', { default: '', ignorable: true }),
  },
  {
    throttleTimeMs: f.int32('1+', { ignorable: true }),
    errorCode: f.int16('7+', { ignorable: true }),
    sessionId: f.int32('7+', { default: 0 }),
    responses: f.structArray('0+', {
      topic: f.string('0-12', { ignorable: true, default: '' }),
      topicId: f.uuid('13+', { ignorable: true }),
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
    nodeEndpoints: f.structArray(
      '16+',
      {
        nodeId: f.int32('16+'),
        host: f.string('16+'),
        port: f.int32('16+'),
        rack: f.string('16+', { nullableVersions: '16+', default: null }),
      },
      { tag: 0, taggedVersions: '16+' },
    ),
  },
);
