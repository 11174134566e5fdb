import {
  ApiKey,
  BatchField,
  batchHeaderBytes,
  CompressionType,
  computeBatchCrc,
  decodeRecordBatch,
  ErrorCode,
  iterateBatches,
  type RequestInput,
  setBatchBaseOffsetAndEpoch,
  TimestampType,
} from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { batchOf } from '../testing/batches.js';
import {
  fixtureListenerName,
  fixtureStartMs,
  LocalClusterFixture,
  settle,
} from '../testing/local-cluster-fixture.js';
import { topicIdToWire } from './topic-ids.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function createTopic(
  name: string,
  numPartitions: number,
  options: { replicationFactor?: number; configs?: Record<string, string> } = {},
): Promise<void> {
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [
      {
        name,
        numPartitions,
        replicationFactor: options.replicationFactor ?? 1,
        assignments: [],
        configs: Object.entries(options.configs ?? {}).map(([configName, value]) => ({
          name: configName,
          value,
        })),
      },
    ],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

function produceBody(
  topic: string,
  partition: number,
  records: Buffer,
  acks = 1,
  timeoutMs = 1000,
): RequestInput<typeof ApiKey.Produce> {
  return {
    transactionalId: null,
    acks,
    timeoutMs,
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, records }] }],
  };
}

async function produce(topic: string, partition: number, records: Buffer, acks = 1, version = 7) {
  const response = await cluster.request(
    ApiKey.Produce,
    version,
    produceBody(topic, partition, records, acks),
  );
  return response.responses[0]!.partitions[0]!;
}

async function fetchAll(topic: string, partition: number, fetchOffset = 0) {
  const response = await cluster.request(ApiKey.Fetch, 11, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 10 * 1024 * 1024,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        partitions: [
          {
            partition,
            currentLeaderEpoch: -1,
            fetchOffset,
            logStartOffset: -1,
            partitionMaxBytes: 1024 * 1024,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  });
  return response.responses[0]!.partitions[0]!;
}

/** What the log stores for a produced batch: the same bytes with the assigned offset and the leader epoch. */
function asStored(batch: Buffer, baseOffset: number, leaderEpoch = 0): Buffer {
  const stored = Buffer.from(batch);
  setBatchBaseOffsetAndEpoch(stored, 0, baseOffset, leaderEpoch);
  return stored;
}

describe('Produce', () => {
  it('appends and the fetch returns the stored batches byte for byte', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    const first = batchOf(['a', 'b', 'c']);
    const second = batchOf(['d']);
    const one = await produce('t', 0, first);
    expect(one).toMatchObject({ errorCode: 0, baseOffset: 0n, logAppendTimeMs: -1n, logStartOffset: 0n });
    const two = await produce('t', 0, second);
    expect(two.baseOffset).toBe(3n);
    const fetched = await fetchAll('t', 0);
    expect(fetched).toMatchObject({
      errorCode: 0,
      highWatermark: 4n,
      lastStableOffset: 4n,
      logStartOffset: 0n,
    });
    expect(fetched.records).toEqual(Buffer.concat([asStored(first, 0), asStored(second, 3)]));
    const decoded = decodeRecordBatch(fetched.records!, 0);
    expect(decoded.records.map((record) => record.value!.toString())).toEqual(['a', 'b', 'c']);
  });

  it('acks=0 sends nothing and still appends', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    const outcome = await cluster.send(ApiKey.Produce, 7, produceBody('t', 0, batchOf(['quiet']), 0));
    expect(outcome).toEqual({ kind: 'no-response' });
    expect((await fetchAll('t', 0)).highWatermark).toBe(1n);
  });

  it('acks=0 with a failed partition closes the connection so the producer notices', async () => {
    cluster = await LocalClusterFixture.start();
    const outcome = await cluster.send(ApiKey.Produce, 7, produceBody('missing', 0, batchOf(['x']), 0));
    // The reason logged names the partition and its error, as Kafka's log line does.
    expect(outcome).toEqual({
      kind: 'close',
      reason: 'a Produce with acks=0 failed: missing-0 UNKNOWN_TOPIC_OR_PARTITION',
    });
  });

  it('v13 names topics by id: appends to the topic the id names and answers with its id', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 2);
    const topicId = topicIdToWire(cluster.image().topic('t')!.topicId);
    const unknownId = '0123456789abcdef0123456789abcdef';
    const batch = batchOf(['by-id']);
    const response = await cluster.request(ApiKey.Produce, 13, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 1000,
      topics: [
        { topicId, partitions: [{ partitionIndex: 1, records: batch }] },
        { topicId: unknownId, partitions: [{ partitionIndex: 0, records: batchOf(['lost']) }] },
      ],
    });
    expect(response.responses.map((topic) => [topic.topicId, topic.partitions])).toEqual([
      [topicId, [expect.objectContaining({ partitionIndex: 1, errorCode: ErrorCode.NONE, baseOffset: 0n })]],
      [
        unknownId,
        [
          expect.objectContaining({
            partitionIndex: 0,
            errorCode: ErrorCode.UNKNOWN_TOPIC_ID,
            baseOffset: -1n,
          }),
        ],
      ],
    ]);
    expect((await fetchAll('t', 1)).records).toEqual(asStored(batch, 0));
    expect(cluster.replicaManager.partition('t', 0)!.logEndOffset).toBe(0);
  });

  it('v13: the id of a deleted topic is UNKNOWN_TOPIC_ID, and with acks=0 it closes the connection', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    const topicId = topicIdToWire(cluster.image().topic('t')!.topicId);
    const deleted = await cluster.request(ApiKey.DeleteTopics, 4, { topicNames: ['t'], timeoutMs: 1000 });
    expect(deleted.responses[0]!.errorCode).toBe(ErrorCode.NONE);
    await createTopic('t', 1);
    const body = (acks: number): RequestInput<typeof ApiKey.Produce> => ({
      transactionalId: null,
      acks,
      timeoutMs: 1000,
      topics: [{ topicId, partitions: [{ partitionIndex: 0, records: batchOf(['stale']) }] }],
    });
    const response = await cluster.request(ApiKey.Produce, 13, body(1));
    expect(response.responses).toEqual([
      expect.objectContaining({
        topicId,
        partitions: [expect.objectContaining({ errorCode: ErrorCode.UNKNOWN_TOPIC_ID })],
      }),
    ]);
    const outcome = await cluster.send(ApiKey.Produce, 13, body(0));
    expect(outcome).toEqual({ kind: 'close', reason: expect.stringContaining('unknown topic id') });
    expect(cluster.replicaManager.partition('t', 0)!.logEndOffset).toBe(0);
  });

  it('refuses a batch with a flipped CRC byte with CORRUPT_MESSAGE and stores nothing', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    const batch = batchOf(['payload']);
    batch[batch.length - 1]! ^= 0xff;
    const result = await produce('t', 0, batch);
    expect(result).toMatchObject({ errorCode: ErrorCode.CORRUPT_MESSAGE, baseOffset: -1n });
    expect(cluster.replicaManager.partition('t', 0)!.logEndOffset).toBe(0);
  });

  it('refuses a batch whose CRC is right but whose records do not parse, and stores nothing', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    const batch = batchOf(['payload']);
    // The first record's length varint claims far more than the batch holds; the CRC is resealed,
    // so only record-level validation (Kafka's LogValidator) can catch it.
    batch[batchHeaderBytes] = 0x7e;
    batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), BatchField.crc);
    const result = await produce('t', 0, batch);
    expect(result).toMatchObject({ errorCode: ErrorCode.CORRUPT_MESSAGE, baseOffset: -1n });
    expect(cluster.replicaManager.partition('t', 0)!.logEndOffset).toBe(0);
    expect((await produce('t', 0, batchOf(['fine']))).errorCode).toBe(ErrorCode.NONE);
  });

  it('refuses a whole record set when one of its batches is corrupt', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    const bad = batchOf(['second']);
    bad[bad.length - 1]! ^= 0x01;
    const result = await produce('t', 0, Buffer.concat([batchOf(['first']), bad]));
    expect(result.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(cluster.replicaManager.partition('t', 0)!.logEndOffset).toBe(0);
  });

  it('refuses a batch above max.message.bytes with MESSAGE_TOO_LARGE and stores nothing', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('small', 1, { configs: { 'max.message.bytes': '200' } });
    const result = await produce('small', 0, batchOf(['x'.repeat(300)]));
    expect(result.errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect(cluster.replicaManager.partition('small', 0)!.logEndOffset).toBe(0);
    expect((await produce('small', 0, batchOf(['fits']))).errorCode).toBe(ErrorCode.NONE);
  });

  it('stamps LogAppendTime: max timestamp, attribute bit and a recomputed CRC', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('stamped', 1, { configs: { 'message.timestamp.type': 'LogAppendTime' } });
    cluster.advanceMs(1234);
    const appendTimeMs = fixtureStartMs + 1234;
    const result = await produce('stamped', 0, batchOf(['a', 'b'], { timestampMs: 5 }));
    expect(result).toMatchObject({ errorCode: 0, baseOffset: 0n, logAppendTimeMs: BigInt(appendTimeMs) });
    const fetched = await fetchAll('stamped', 0);
    // decodeRecordBatch checks the CRC: the rewritten batch must carry a correct one.
    const decoded = decodeRecordBatch(fetched.records!, 0);
    expect(decoded.header.timestampType).toBe(TimestampType.LogAppendTime);
    expect(decoded.header.maxTimestamp).toBe(appendTimeMs);
    expect(decoded.records.map((record) => record.timestamp)).toEqual([appendTimeMs, appendTimeMs]);
  });

  it('stores batches in the topic compression.type, keeping offsets, timestamps and producer fields', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('zipped', 1, { configs: { 'compression.type': 'gzip' } });
    const plain = batchOf(['a', 'b', 'c'], { timestampMs: 10 });
    const snappy = batchOf(['d'], { timestampMs: 20, compression: CompressionType.Snappy });
    expect((await produce('zipped', 0, Buffer.concat([plain, snappy]))).errorCode).toBe(ErrorCode.NONE);
    const alreadyGzip = batchOf(['e'], { compression: CompressionType.Gzip });
    expect((await produce('zipped', 0, alreadyGzip)).baseOffset).toBe(4n);
    const fetched = (await fetchAll('zipped', 0)).records!;
    const batches = [...iterateBatches(fetched)];
    expect(batches.map((batch) => batch.header.compression)).toEqual([
      CompressionType.Gzip,
      CompressionType.Gzip,
      CompressionType.Gzip,
    ]);
    expect(batches.map((batch) => batch.header.baseOffset)).toEqual([0, 3, 4]);
    expect(batches.flatMap((batch) => batch.records.map((record) => record.value!.toString()))).toEqual([
      'a',
      'b',
      'c',
      'd',
      'e',
    ]);
    expect(batches[0]!.records.map((record) => record.timestamp)).toEqual([10, 11, 12]);
    // A batch already in the topic's codec is stored as sent.
    expect(fetched.subarray(fetched.length - alreadyGzip.length)).toEqual(asStored(alreadyGzip, 4));
  });

  it('uncompresses into an uncompressed topic and leaves a producer topic alone', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('flat', 1, { configs: { 'compression.type': 'uncompressed' } });
    await createTopic('asis', 1);
    const zstd = batchOf(['z'], { compression: CompressionType.Zstd });
    await produce('flat', 0, zstd);
    await produce('asis', 0, zstd);
    expect(decodeRecordBatch((await fetchAll('flat', 0)).records!, 0).header.compression).toBe(
      CompressionType.None,
    );
    expect((await fetchAll('asis', 0)).records).toEqual(asStored(zstd, 0));
  });

  it('keeps the producer CreateTime batch untouched apart from offset and epoch', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('created', 1);
    const batch = batchOf(['a'], { timestampMs: 77 });
    await produce('created', 0, batch);
    const fetched = await fetchAll('created', 0);
    expect(fetched.records).toEqual(asStored(batch, 0));
    expect(decodeRecordBatch(fetched.records!, 0).records[0]!.timestamp).toBe(77);
  });

  it('answers NOT_LEADER_OR_FOLLOWER for a partition another broker leads', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2] });
    await createTopic('shared', 4);
    const states = cluster.image().topic('shared')!.partitions;
    const remote = states.findIndex((state) => state.leader === 2);
    const local = states.findIndex((state) => state.leader === 1);
    expect(remote).toBeGreaterThanOrEqual(0);
    expect((await produce('shared', remote, batchOf(['x']))).errorCode).toBe(
      ErrorCode.NOT_LEADER_OR_FOLLOWER,
    );
    expect((await produce('shared', local, batchOf(['x']))).errorCode).toBe(ErrorCode.NONE);
  });

  it('v10+ names the current leader of a moved partition and its endpoint (KIP-951); v9 does not', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2] });
    await createTopic('shared', 4);
    const states = cluster.image().topic('shared')!.partitions;
    const remote = states.findIndex((state) => state.leader === 2);
    const local = states.findIndex((state) => state.leader === 1);
    const endpoint = cluster
      .image()
      .broker(2)!
      .listeners.find((listener) => listener.name === fixtureListenerName)!;
    const body: RequestInput<typeof ApiKey.Produce> = {
      transactionalId: null,
      acks: 1,
      timeoutMs: 1000,
      topics: [
        {
          name: 'shared',
          partitions: [
            { partitionIndex: remote, records: batchOf(['x']) },
            { partitionIndex: local, records: batchOf(['y']) },
          ],
        },
      ],
    };
    for (const version of [10, 11]) {
      const response = await cluster.request(ApiKey.Produce, version, body);
      const [moved, appended] = response.responses[0]!.partitions;
      expect(moved).toMatchObject({
        errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
        currentLeader: { leaderId: 2, leaderEpoch: states[remote]!.leaderEpoch },
      });
      expect(appended).toMatchObject({
        errorCode: ErrorCode.NONE,
        currentLeader: { leaderId: -1, leaderEpoch: -1 },
      });
      expect(response.nodeEndpoints).toEqual([
        { nodeId: 2, host: endpoint.host, port: endpoint.port, rack: null },
      ]);
    }
    const v9 = await cluster.request(ApiKey.Produce, 9, body);
    expect(v9.responses[0]!.partitions[0]).toMatchObject({
      errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
      currentLeader: { leaderId: -1, leaderEpoch: -1 },
    });
    expect(v9.nodeEndpoints).toEqual([]);
  });

  it('answers UNKNOWN_TOPIC_OR_PARTITION for a missing topic or partition index', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    expect((await produce('nope', 0, batchOf(['x']))).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await produce('t', 5, batchOf(['x']))).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(cluster.image().topic('nope')).toBeUndefined();
  });

  it('answers INVALID_REQUIRED_ACKS for acks other than 0, 1, -1', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    expect((await produce('t', 0, batchOf(['x']), 2)).errorCode).toBe(ErrorCode.INVALID_REQUIRED_ACKS);
    expect(cluster.replicaManager.partition('t', 0)!.logEndOffset).toBe(0);
  });

  it('acks=-1 with fewer in-sync replicas than min.insync.replicas is NOT_ENOUGH_REPLICAS', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('strict', 1, { configs: { 'min.insync.replicas': '2' } });
    expect((await produce('strict', 0, batchOf(['x']), -1)).errorCode).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(cluster.replicaManager.partition('strict', 0)!.logEndOffset).toBe(0);
    expect((await produce('strict', 0, batchOf(['x']), 1)).errorCode).toBe(ErrorCode.NONE);
  });

  it('acks=-1 follows a dynamic min.insync.replicas default where the topic sets none, without a restart', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    await createTopic('lenient', 1, { configs: { 'min.insync.replicas': '1' } });
    expect((await produce('t', 0, batchOf(['x']), -1)).errorCode).toBe(ErrorCode.NONE);
    await cluster.alterBrokerConfigs('', { 'min.insync.replicas': '2' });
    expect((await produce('t', 0, batchOf(['x']), -1)).errorCode).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect((await produce('lenient', 0, batchOf(['x']), -1)).errorCode).toBe(ErrorCode.NONE);
    // This broker's own value wins over the cluster default.
    await cluster.alterBrokerConfigs('1', { 'min.insync.replicas': '1' });
    expect((await produce('t', 0, batchOf(['x']), -1)).errorCode).toBe(ErrorCode.NONE);
  });

  it('acks=-1 on replication factor 1 answers once appended', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    expect(await produce('t', 0, batchOf(['x']), -1)).toMatchObject({ errorCode: 0, baseOffset: 0n });
  });

  it('acks=-1 waits for the follower, and times out without it', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2] });
    await createTopic('pair', 2, { replicationFactor: 2 });
    const index = cluster
      .image()
      .topic('pair')!
      .partitions.findIndex((state) => state.leader === 1);
    const waiting = cluster.request(
      ApiKey.Produce,
      7,
      produceBody('pair', index, batchOf(['a', 'b']), -1, 5000),
    );
    await settle(() => cluster.delayedOperations.size === 1);
    cluster.replicaManager.recordFollowerFetch('pair', index, 2, 2);
    expect((await waiting).responses[0]!.partitions[0]).toMatchObject({ errorCode: 0, baseOffset: 0n });

    const abandoned = cluster.request(
      ApiKey.Produce,
      7,
      produceBody('pair', index, batchOf(['c']), -1, 5000),
    );
    await settle(() => cluster.delayedOperations.size === 1);
    cluster.advanceMs(5000);
    expect((await abandoned).responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT);
  });

  it('answers every Produce version a client may send', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    for (const version of [3, 4, 5, 6, 7, 8]) {
      const result = await produce('t', 0, batchOf([`v${version}`]), 1, version);
      expect(result.errorCode).toBe(ErrorCode.NONE);
    }
    expect((await fetchAll('t', 0)).highWatermark).toBe(6n);
  });
});
