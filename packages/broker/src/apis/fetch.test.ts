import { ApiKey, ErrorCode, type RequestInput, zeroUuid } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { batchOf } from '../testing/batches.js';
import { LocalClusterFixture, settle } from '../testing/local-cluster-fixture.js';
import { topicIdToWire } from './topic-ids.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function createTopic(name: string, numPartitions: number, replicationFactor = 1): Promise<void> {
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name, numPartitions, replicationFactor, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

async function produce(topic: string, partition: number, records: Buffer): Promise<void> {
  const response = await cluster.request(ApiKey.Produce, 7, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 1000,
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, records }] }],
  });
  expect(response.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
}

interface FetchOptions {
  readonly maxWaitMs?: number;
  readonly minBytes?: number;
  readonly maxBytes?: number;
  readonly partitionMaxBytes?: number;
  readonly currentLeaderEpoch?: number;
  readonly sessionEpoch?: number;
}

function fetchBody(
  wanted: readonly { topic: string; partition: number; fetchOffset: number }[],
  options: FetchOptions = {},
): RequestInput<typeof ApiKey.Fetch> {
  return {
    replicaId: -1,
    maxWaitMs: options.maxWaitMs ?? 0,
    minBytes: options.minBytes ?? 0,
    maxBytes: options.maxBytes ?? 50 * 1024 * 1024,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: options.sessionEpoch ?? -1,
    topics: wanted.map(({ topic, partition, fetchOffset }) => ({
      topic,
      // Read from v13 on, where the name is not on the wire.
      topicId: cluster.image().topic(topic) === undefined ? zeroUuid : wireIdOf(topic),
      partitions: [
        {
          partition,
          currentLeaderEpoch: options.currentLeaderEpoch ?? -1,
          fetchOffset: BigInt(fetchOffset),
          logStartOffset: -1n,
          partitionMaxBytes: options.partitionMaxBytes ?? 1024 * 1024,
        },
      ],
    })),
    forgottenTopicsData: [],
    rackId: '',
  };
}

function wireIdOf(topic: string): string {
  return topicIdToWire(cluster.image().topic(topic)!.topicId);
}

async function fetchOne(
  topic: string,
  partition: number,
  fetchOffset: number,
  options: FetchOptions = {},
  version = 11,
) {
  const response = await cluster.request(
    ApiKey.Fetch,
    version,
    fetchBody([{ topic, partition, fetchOffset }], options),
  );
  return response.responses[0]!.partitions[0]!;
}

describe('Fetch offsets', () => {
  it('at the high watermark is empty without error; beyond the log end is OFFSET_OUT_OF_RANGE', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    await produce('t', 0, batchOf(['a', 'b']));
    const atEnd = await fetchOne('t', 0, 2);
    expect(atEnd).toMatchObject({
      errorCode: 0,
      highWatermark: 2n,
      logStartOffset: 0n,
      preferredReadReplica: -1,
    });
    expect(atEnd.records).toEqual(Buffer.alloc(0));
    expect((await fetchOne('t', 0, 3)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect((await fetchOne('t', 0, -1)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
  });

  it('returns the whole batch that holds the fetch offset', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    const batch = batchOf(['a', 'b', 'c']);
    await produce('t', 0, batch);
    const middle = await fetchOne('t', 0, 1);
    expect(middle.records!.length).toBe(batch.length);
  });

  it('answers the versions kafka-python (4) and old clients (0) send, with records never null', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    await produce('t', 0, batchOf(['a']));
    for (const version of [0, 4, 7, 12, 13, 15, 16, 17, 18]) {
      const result = await fetchOne('t', 0, 0, {}, version);
      expect(result.errorCode).toBe(ErrorCode.NONE);
      expect(result.records!.length).toBeGreaterThan(0);
      expect((await fetchOne('t', 0, 1, {}, version)).records).toEqual(Buffer.alloc(0));
    }
  });
});

describe('Fetch size limits', () => {
  it('returns at least one whole batch even above max_bytes (KIP-74), but only for the first partition with data', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('big', 2);
    const large = batchOf(['x'.repeat(2000)]);
    await produce('big', 0, large);
    await produce('big', 1, batchOf(['y'.repeat(2000)]));
    const response = await cluster.request(
      ApiKey.Fetch,
      11,
      fetchBody(
        [
          { topic: 'big', partition: 0, fetchOffset: 0 },
          { topic: 'big', partition: 1, fetchOffset: 0 },
        ],
        { maxBytes: 100, partitionMaxBytes: 100 },
      ),
    );
    const [first, second] = response.responses.map((topic) => topic.partitions[0]!);
    expect(first!.records!.length).toBe(large.length);
    expect(second!.errorCode).toBe(ErrorCode.NONE);
    expect(second!.records).toEqual(Buffer.alloc(0));
    expect(second!.highWatermark).toBe(1n);
  });

  it('stops at the partition limit on a batch boundary', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    const batches = [batchOf(['a'.repeat(150)]), batchOf(['b'.repeat(150)]), batchOf(['c'.repeat(150)])];
    for (const batch of batches) await produce('t', 0, batch);
    const limit = batches[0]!.length * 2 + 10;
    const result = await fetchOne('t', 0, 0, { partitionMaxBytes: limit });
    expect(result.records!.length).toBe(batches[0]!.length * 2);
  });

  it('spends max_bytes across partitions', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('two', 2);
    const batch = batchOf(['z'.repeat(300)]);
    await produce('two', 0, batch);
    await produce('two', 1, batchOf(['z'.repeat(300)]));
    const response = await cluster.request(
      ApiKey.Fetch,
      11,
      fetchBody(
        [
          { topic: 'two', partition: 0, fetchOffset: 0 },
          { topic: 'two', partition: 1, fetchOffset: 0 },
        ],
        { maxBytes: batch.length * 2 },
      ),
    );
    expect(response.responses.map((topic) => topic.partitions[0]!.records!.length)).toEqual([
      batch.length,
      batch.length,
    ]);
  });
});

describe('Fetch long polling', () => {
  it('parks until an append brings min_bytes, then answers with it', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    const waiting = fetchOne('t', 0, 0, { maxWaitMs: 30_000, minBytes: 1 });
    await settle(() => cluster.delayedOperations.size === 1);
    const batch = batchOf(['wake up']);
    await produce('t', 0, batch);
    const result = await waiting;
    expect(result.errorCode).toBe(ErrorCode.NONE);
    expect(result.records!.length).toBe(batch.length);
    expect(cluster.delayedOperations.size).toBe(0);
  });

  it('answers empty when max_wait_ms passes without data', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    const waiting = fetchOne('t', 0, 0, { maxWaitMs: 500, minBytes: 1 });
    await settle(() => cluster.delayedOperations.size === 1);
    cluster.advanceMs(499);
    expect(cluster.delayedOperations.size).toBe(1);
    cluster.advanceMs(1);
    const result = await waiting;
    expect(result).toMatchObject({ errorCode: 0, highWatermark: 0n });
    expect(result.records).toEqual(Buffer.alloc(0));
  });

  it('keeps waiting while less than min_bytes has arrived', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    const small = batchOf(['s']);
    const waiting = fetchOne('t', 0, 0, { maxWaitMs: 10_000, minBytes: small.length * 2 });
    await settle(() => cluster.delayedOperations.size === 1);
    await produce('t', 0, small);
    await settle(() => cluster.delayedOperations.size === 1);
    await produce('t', 0, batchOf(['t']));
    const result = await waiting;
    expect(result.records!.length).toBeGreaterThanOrEqual(small.length * 2);
  });

  it('only exposes records below the high watermark, and wakes when it moves', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2] });
    await createTopic('pair', 2, 2);
    const index = cluster
      .image()
      .topic('pair')!
      .partitions.findIndex((state) => state.leader === 1);
    await produce('pair', index, batchOf(['a', 'b']));
    const unreplicated = await fetchOne('pair', index, 0);
    expect(unreplicated).toMatchObject({ errorCode: 0, highWatermark: 0n });
    expect(unreplicated.records).toEqual(Buffer.alloc(0));

    const waiting = fetchOne('pair', index, 0, { maxWaitMs: 10_000, minBytes: 1 });
    await settle(() => cluster.delayedOperations.size === 1);
    cluster.replicaManager.recordFollowerFetch('pair', index, 2, 2);
    const result = await waiting;
    expect(result.highWatermark).toBe(2n);
    expect(result.records!.length).toBeGreaterThan(0);
  });

  it('a parked fetch ends with NOT_LEADER_OR_FOLLOWER when leadership moves away', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2] });
    await createTopic('pair', 2, 2);
    const index = cluster
      .image()
      .topic('pair')!
      .partitions.findIndex((state) => state.leader === 1);
    const waiting = fetchOne('pair', index, 0, { maxWaitMs: 10_000, minBytes: 1 });
    await settle(() => cluster.delayedOperations.size === 1);
    await cluster.heartbeat(1, { wantFence: true });
    const result = await waiting;
    expect(result.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(cluster.replicaManager.partition('pair', index)!.role).toBe('follower');
  });
});

describe('Fetch leader epochs', () => {
  it('checks current_leader_epoch: older is FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2] });
    await createTopic('pair', 2, 2);
    const index = cluster
      .image()
      .topic('pair')!
      .partitions.findIndex((state) => state.leader === 2);
    expect((await fetchOne('pair', index, 0)).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    // Broker 2 fails: this broker leads in epoch 1.
    await cluster.heartbeat(2, { wantFence: true });
    expect(cluster.replicaManager.partition('pair', index)!.leaderEpoch).toBe(1);
    expect((await fetchOne('pair', index, 0, { currentLeaderEpoch: 0 })).errorCode).toBe(
      ErrorCode.FENCED_LEADER_EPOCH,
    );
    expect((await fetchOne('pair', index, 0, { currentLeaderEpoch: 2 })).errorCode).toBe(
      ErrorCode.UNKNOWN_LEADER_EPOCH,
    );
    expect((await fetchOne('pair', index, 0, { currentLeaderEpoch: 1 })).errorCode).toBe(ErrorCode.NONE);
  });

  it('tells a v12 client who leads when it asked the wrong broker', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2] });
    await createTopic('shared', 4);
    const index = cluster
      .image()
      .topic('shared')!
      .partitions.findIndex((state) => state.leader === 2);
    const result = await fetchOne('shared', index, 0, {}, 12);
    expect(result.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(result.currentLeader).toEqual({ leaderId: 2, leaderEpoch: 0 });
  });
});

describe('Fetch by topic id (v13+)', () => {
  it('reads a topic named by id and answers with the id; an unknown id is UNKNOWN_TOPIC_ID', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    await produce('t', 0, batchOf(['a', 'b']));
    const body = fetchBody([{ topic: 't', partition: 0, fetchOffset: 0 }]);
    const unknownId = 'e'.repeat(32);
    const response = await cluster.request(ApiKey.Fetch, 13, {
      ...body,
      topics: [...body.topics, { topicId: unknownId, partitions: body.topics[0]!.partitions }],
    });
    expect(response.responses.map((topic) => [topic.topic, topic.topicId])).toEqual([
      ['', wireIdOf('t')],
      ['', unknownId],
    ]);
    const [known, unknown] = response.responses.map((topic) => topic.partitions[0]!);
    expect(known).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 2n });
    expect(known!.records!.length).toBeGreaterThan(0);
    expect(unknown).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_ID, highWatermark: -1n });
  });

  it('v16 names the current leader with its endpoint (KIP-951); v15 names it without', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2] });
    await createTopic('shared', 4);
    const index = cluster
      .image()
      .topic('shared')!
      .partitions.findIndex((state) => state.leader === 2);
    const wanted = [{ topic: 'shared', partition: index, fetchOffset: 0 }];
    const v16 = await cluster.request(ApiKey.Fetch, 16, fetchBody(wanted));
    expect(v16.responses[0]!.partitions[0]).toMatchObject({
      errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
      currentLeader: { leaderId: 2, leaderEpoch: 0 },
    });
    expect(v16.nodeEndpoints).toEqual([{ nodeId: 2, host: 'localhost', port: 9002, rack: null }]);
    const v15 = await cluster.request(ApiKey.Fetch, 15, fetchBody(wanted));
    expect(v15.responses[0]!.partitions[0]!.currentLeader).toEqual({ leaderId: 2, leaderEpoch: 0 });
    expect(v15.nodeEndpoints).toEqual([]);
    // Nothing to point at: no endpoints.
    const led = cluster
      .image()
      .topic('shared')!
      .partitions.findIndex((state) => state.leader === 1);
    const quiet = await cluster.request(
      ApiKey.Fetch,
      16,
      fetchBody([{ topic: 'shared', partition: led, fetchOffset: 0 }]),
    );
    expect(quiet.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(quiet.nodeEndpoints).toEqual([]);
  });
});
