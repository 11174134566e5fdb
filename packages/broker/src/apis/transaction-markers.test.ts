// Transactional records, markers and read_committed on one in-process broker: transactional batches
// hold the last stable offset, WriteTxnMarkers closes their transactions, a read_committed Fetch
// stops at the LSO and lists aborted transactions, ListOffsets honours the LSO, a client's control
// batch is refused, a marker for an impossible producer is refused, and the producer state rebuilt
// from the log has the same aborted transactions and LSO.

import {
  ApiKey,
  CompressionType,
  ErrorCode,
  encodeRecordBatch,
  encodeRequest,
  encodeTransactionMarkerBatch,
  type RequestInput,
  type SupportedApiKey,
} from '@gregor/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FrameHandler } from '../network/connection.js';
import { ProducerStateManager } from '../replica/producer-state.js';
import { rebuildProducerState } from '../replica/producer-state-log.js';
import { createRequestRouter } from '../request-router.js';
import { decodeOutcome, fixtureStartMs, LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import { apiHandlers } from './api-handlers.js';
import { handleWriteTxnMarkers } from './write-txn-markers.js';

let cluster: LocalClusterFixture;
let router: FrameHandler;
let correlationId = 1;
const topic = 'txn';

beforeEach(async () => {
  cluster = await LocalClusterFixture.start();
  router = createRequestRouter(cluster.context, {
    ...apiHandlers(),
    [ApiKey.WriteTxnMarkers]: handleWriteTxnMarkers,
  });
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name: topic, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
});
afterEach(async () => {
  await cluster.close();
});

async function request<K extends SupportedApiKey>(apiKey: K, version: number, body: RequestInput<K>) {
  const frame = encodeRequest(apiKey, version, correlationId++, 'txn-test', body);
  const outcome = await router(frame, {
    connectionId: 7,
    remoteAddress: '127.0.0.1:50007',
    listenerName: 'PLAINTEXT',
  });
  return decodeOutcome(apiKey, version, outcome);
}

function transactional(producerId: number, baseSequence: number, values: readonly string[]): Buffer {
  return encodeRecordBatch({
    compression: CompressionType.None,
    producerId,
    producerEpoch: 0,
    baseSequence,
    isTransactional: true,
    records: values.map((value, index) => ({
      key: null,
      value: Buffer.from(value),
      timestamp: fixtureStartMs + index,
    })),
  });
}

async function produce(records: Buffer): Promise<number> {
  const response = await request(ApiKey.Produce, 7, {
    transactionalId: 'tx',
    acks: -1,
    timeoutMs: 1000,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, records }] }],
  });
  return response.responses[0]!.partitions[0]!.errorCode;
}

async function marker(producerId: bigint, commit: boolean, producerEpoch = 0): Promise<number> {
  const response = await request(ApiKey.WriteTxnMarkers, 1, {
    markers: [
      {
        producerId,
        producerEpoch,
        transactionResult: commit,
        topics: [{ name: topic, partitionIndexes: [0] }],
        coordinatorEpoch: 0,
      },
    ],
  });
  return response.markers[0]!.topics[0]!.partitions[0]!.errorCode;
}

async function fetch(isolationLevel: number) {
  const response = await request(ApiKey.Fetch, 11, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: -1,
            fetchOffset: 0n,
            logStartOffset: -1n,
            partitionMaxBytes: 1 << 20,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  });
  const partition = response.responses[0]!.partitions[0]!;
  return {
    highWatermark: Number(partition.highWatermark),
    lastStableOffset: Number(partition.lastStableOffset),
    aborted: partition.abortedTransactions?.map((a) => [Number(a.producerId), Number(a.firstOffset)]) ?? null,
    bytes: partition.records?.length ?? 0,
  };
}

async function latestOffset(isolationLevel: number): Promise<number> {
  const response = await request(ApiKey.ListOffsets, 5, {
    replicaId: -1,
    isolationLevel,
    topics: [
      {
        name: topic,
        partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }],
      },
    ],
  });
  return Number(response.topics[0]!.partitions[0]!.offset);
}

describe('transaction markers and read_committed', () => {
  it('holds the LSO at an open transaction, lists an aborted one, and rebuilds the same from the log', async () => {
    expect(await produce(transactional(11, 0, ['a0', 'a1']))).toBe(ErrorCode.NONE); // offsets 0-1
    expect(await produce(transactional(12, 0, ['c0']))).toBe(ErrorCode.NONE); // offset 2
    expect(await fetch(1)).toMatchObject({ highWatermark: 3, lastStableOffset: 0, aborted: [], bytes: 0 });
    expect(await latestOffset(1)).toBe(0);
    expect(await latestOffset(0)).toBe(3);

    expect(await marker(11n, false)).toBe(ErrorCode.NONE); // offset 3
    expect(await fetch(1)).toMatchObject({ highWatermark: 4, lastStableOffset: 2, aborted: [[11, 0]] });
    expect(await marker(12n, true)).toBe(ErrorCode.NONE); // offset 4
    const committed = await fetch(1);
    expect(committed).toMatchObject({ highWatermark: 5, lastStableOffset: 5, aborted: [[11, 0]] });
    expect(committed.bytes).toBeGreaterThan(0);
    expect(await latestOffset(1)).toBe(5);
    // read_uncommitted gets no aborted list (null), as in Kafka.
    expect((await fetch(0)).aborted).toBeNull();

    const partition = cluster.replicaManager.partition(topic, 0)!;
    const rebuilt = new ProducerStateManager();
    await rebuildProducerState(partition.log, rebuilt, cluster.clock.nowMs());
    expect(rebuilt.abortedTransactions(0, 5)).toEqual([{ producerId: 11, firstOffset: 0, lastOffset: 3 }]);
    expect(rebuilt.lastStableOffset(5)).toBe(5);
    expect(rebuilt.ongoingTransactions().size).toBe(0);
  });

  it("refuses a client's control batch and a marker no producer could have written", async () => {
    const control = encodeTransactionMarkerBatch(
      { producerId: 1, producerEpoch: 0, commit: true, coordinatorEpoch: 0 },
      0,
    );
    expect(await produce(control)).toBe(ErrorCode.INVALID_RECORD);
    expect(await marker(1n << 60n, true)).toBe(ErrorCode.INVALID_REQUEST);
    expect(await marker(1n, true, -1)).toBe(ErrorCode.INVALID_REQUEST);
    expect((await fetch(0)).highWatermark).toBe(0);
  });
});
