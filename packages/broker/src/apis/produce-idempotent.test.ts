import { ApiKey, CompressionType, decodeRecordBatch, ErrorCode, encodeRecordBatch } from '@gregor/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProducerStateManager } from '../replica/producer-state.js';
import { rebuildProducerState } from '../replica/producer-state-log.js';
import { fixtureStartMs, LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import { ProducerIdClient } from '../testing/producer-id-client.js';

let cluster: LocalClusterFixture;
let client: ProducerIdClient;

beforeEach(async () => {
  cluster = await LocalClusterFixture.start();
  client = new ProducerIdClient(cluster);
});
afterEach(async () => {
  await cluster.close();
});

async function createTopic(name: string): Promise<void> {
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

interface IdempotentBatch {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly values: readonly string[];
}

function batch(spec: IdempotentBatch): Buffer {
  return encodeRecordBatch({
    partitionLeaderEpoch: -1,
    compression: CompressionType.None,
    producerId: spec.producerId,
    producerEpoch: spec.producerEpoch,
    baseSequence: spec.baseSequence,
    records: spec.values.map((value, index) => ({
      key: null,
      value: Buffer.from(value),
      timestamp: fixtureStartMs + index,
    })),
  });
}

async function produce(topic: string, records: Buffer, version = 7) {
  const response = await client.request(ApiKey.Produce, version, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 1000,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, records }] }],
  });
  const result = response.responses[0]!.partitions[0]!;
  return { errorCode: result.errorCode, baseOffset: Number(result.baseOffset) };
}

async function values(topic: string): Promise<string[]> {
  const read = await cluster.replicaManager.partition(topic, 0)!.log.read(0, 1 << 20);
  if (read.errorCode !== ErrorCode.NONE) throw new Error(`read failed: ${read.errorCode}`);
  const found: string[] = [];
  for (let position = 0; position < read.records.length; ) {
    const decoded = decodeRecordBatch(read.records, position);
    for (const record of decoded.records) found.push(record.value!.toString());
    position += decoded.header.sizeBytes;
  }
  return found;
}

describe('Produce from an idempotent producer', () => {
  it('answers a retried batch with its original offset and stores it once', async () => {
    await createTopic('idem');
    const { producerId } = await client.initProducerId(1);
    const id = Number(producerId);
    const first = batch({ producerId: id, producerEpoch: 0, baseSequence: 0, values: ['a', 'b'] });
    const second = batch({ producerId: id, producerEpoch: 0, baseSequence: 2, values: ['c'] });
    expect(await produce('idem', Buffer.from(first))).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 0 });
    expect(await produce('idem', Buffer.from(second))).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 2 });
    expect(await produce('idem', Buffer.from(first))).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 0 });
    expect(await produce('idem', Buffer.from(second), 3)).toEqual({
      errorCode: ErrorCode.NONE,
      baseOffset: 2,
    });
    expect(await values('idem')).toEqual(['a', 'b', 'c']);
  });

  it('refuses a sequence gap and an older epoch, and takes pipelined requests in order', async () => {
    await createTopic('idem-order');
    const id = Number((await client.initProducerId(1)).producerId);
    const gap = batch({ producerId: id, producerEpoch: 0, baseSequence: 1, values: ['x'] });
    expect(
      await produce(
        'idem-order',
        batch({ producerId: id, producerEpoch: 2, baseSequence: 0, values: ['a'] }),
      ),
    ).toEqual({
      errorCode: ErrorCode.NONE,
      baseOffset: 0,
    });
    expect((await produce('idem-order', gap)).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    const outOfOrder = batch({ producerId: id, producerEpoch: 2, baseSequence: 5, values: ['x'] });
    expect((await produce('idem-order', outOfOrder)).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    // Five requests in flight at once, as librdkafka and Java send them: each follows the previous.
    const pipelined = await Promise.all(
      [1, 2, 3, 4, 5].map((sequence) =>
        produce(
          'idem-order',
          batch({ producerId: id, producerEpoch: 2, baseSequence: sequence, values: [`p${sequence}`] }),
        ),
      ),
    );
    expect(pipelined).toEqual(
      [1, 2, 3, 4, 5].map((offset) => ({ errorCode: ErrorCode.NONE, baseOffset: offset })),
    );
    expect(await values('idem-order')).toEqual(['a', 'p1', 'p2', 'p3', 'p4', 'p5']);
  });

  it('rebuilds the same producer state from the log files (start-up after a crash)', async () => {
    await createTopic('idem-rebuild');
    const ids = [
      Number((await client.initProducerId(1)).producerId),
      Number((await client.initProducerId(1)).producerId),
    ];
    const sequences = [0, 0];
    for (let round = 0; round < 12; round++) {
      const which = round % 3 === 0 ? 1 : 0;
      const count = 1 + (round % 4);
      const values = Array.from({ length: count }, (_, i) => `r${round}-${i}`);
      const records = batch({
        producerId: ids[which]!,
        producerEpoch: 0,
        baseSequence: sequences[which]!,
        values,
      });
      expect((await produce('idem-rebuild', records)).errorCode).toBe(ErrorCode.NONE);
      sequences[which]! += count;
    }
    const partition = cluster.replicaManager.partition('idem-rebuild', 0)!;
    await partition.log.roll();
    expect(
      (
        await produce(
          'idem-rebuild',
          batch({ producerId: ids[0]!, producerEpoch: 1, baseSequence: 0, values: ['e'] }),
        )
      ).errorCode,
    ).toBe(ErrorCode.NONE);
    const rebuilt = new ProducerStateManager();
    const scan = await rebuildProducerState(partition.log, rebuilt, cluster.clock.nowMs());
    expect(scan.batchesScanned).toBe(13);
    expect(rebuilt.entries()).toEqual(partition.producerState.entries());
    expect(rebuilt.entries().map((entry) => [entry.producerEpoch, entry.batches.length])).toEqual([
      [1, 1],
      [0, 4],
    ]);
  });
});
