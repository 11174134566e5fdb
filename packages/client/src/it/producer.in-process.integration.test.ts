// The producer and admin against a real three-node Gregor cluster inside the test process; what was
// produced is read back with kcat (librdkafka), a client that is not ours.

import { waitFor } from '@gregor/ground/testing';
import { ApiKey, iterateBatches } from '@gregor/protocol';
import { startCluster, type TestCluster } from '@gregor/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../connection.js';
import { KafkaJSSendError } from '../errors.js';
import { Kafka } from '../kafka.js';
import { logLevel } from '../logger.js';
import { murmur2Partition } from '../producer/partitioners.js';
import { CompressionTypes } from '../producer/producer.js';
import { kcatConsumeAll, kcatProduceKeyed } from '../testing/kcat.js';

let cluster: TestCluster;
let kafka: Kafka;
let bootstrap: string;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 3 });
  bootstrap = cluster.bootstrapServers.join(',');
  kafka = new Kafka({
    clientId: 'client-test',
    brokers: cluster.bootstrapServers,
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 100, retries: 8 },
  });
});
afterAll(() => cluster.stop());

describe('producer', () => {
  it('creates topics, batches per partition and puts keyed records where Java and librdkafka do', async () => {
    const admin = kafka.admin();
    await admin.connect();
    expect(
      await admin.createTopics({ topics: [{ topic: 'keyed', numPartitions: 7, replicationFactor: 3 }] }),
    ).toBe(true);
    expect(await admin.createTopics({ topics: [{ topic: 'keyed', numPartitions: 7 }] })).toBe(false);
    const producer = kafka.producer({ lingerMs: 20 });
    await producer.connect();
    const keys = Array.from({ length: 200 }, (_, index) => `key-${index * 7919}`);
    const results = await producer.send({
      topic: 'keyed',
      compression: CompressionTypes.GZIP,
      messages: keys.map((key) => ({ key, value: `ours-${key}` })),
    });
    expect(results.every((result) => result.errorCode === 0)).toBe(true);
    await kcatProduceKeyed(bootstrap, 'keyed', keys);
    const records = await kcatConsumeAll(bootstrap, 'keyed');
    expect(records).toHaveLength(400);
    for (const key of keys) {
      const placed = records.filter((record) => record.key === key);
      // kcat's murmur2_random and our producer put the key in the same partition, the one murmur2 names.
      expect(new Set(placed.map((record) => record.partition))).toEqual(new Set([murmur2Partition(key, 7)]));
      expect(placed.map((record) => record.value).sort()).toEqual(['from-kcat', `ours-${key}`]);
    }
    // Per partition, our records are in send order.
    for (let partition = 0; partition < 7; partition++) {
      const ours = records.filter(
        (record) => record.partition === partition && record.value.startsWith('ours-'),
      );
      expect(ours.map((record) => record.key)).toEqual(
        keys.filter((key) => murmur2Partition(key, 7) === partition),
      );
    }
    const offsets = await admin.fetchTopicOffsets('keyed');
    expect(offsets.reduce((sum, entry) => sum + Number(entry.high) - Number(entry.low), 0)).toBe(400);
    await producer.disconnect();
    // Connected again, the same producer sends again.
    await producer.connect();
    await producer.send({ topic: 'keyed', messages: [{ key: keys[0], value: 'again' }] });
    await producer.disconnect();
    await admin.disconnect();
  });

  it('sends keyless records stickily, bounds its memory and flushes', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'sticky', numPartitions: 4, replicationFactor: 3 }] });
    const bufferMemory = 64 * 1024;
    const producer = kafka.producer({ batchSize: 4096, lingerMs: 1000, bufferMemory });
    await producer.connect();
    let highestBuffered = 0;
    const sends: Promise<unknown>[] = [];
    for (let index = 0; index < 40; index++) {
      sends.push(producer.send({ topic: 'sticky', messages: [{ value: Buffer.alloc(1000, index % 10) }] }));
      highestBuffered = Math.max(highestBuffered, producer.bufferedBytes);
    }
    // lingerMs is long: flush() is what sends the last, partly filled batches.
    await producer.flush();
    await Promise.all(sends);
    expect(producer.bufferedBytes).toBe(0);
    expect(highestBuffered).toBeLessThanOrEqual(bufferMemory);
    const many = Array.from({ length: 600 }, (_, index) => ({ value: `v${index}`.padEnd(200, '.') }));
    const memoryWatcher = setInterval(() => {
      highestBuffered = Math.max(highestBuffered, producer.bufferedBytes);
    }, 1);
    // 600 records of ~220 bytes are twice the buffer: send() waits for memory instead of growing.
    await producer.send({ topic: 'sticky', messages: many });
    clearInterval(memoryWatcher);
    expect(highestBuffered).toBeLessThanOrEqual(bufferMemory);
    const records = await kcatConsumeAll(bootstrap, 'sticky');
    expect(records).toHaveLength(640);
    // Sticky: a 4 KiB batch of ~220-byte records fills before the partition changes, so runs are long.
    const keylessPartitions = records
      .filter((record) => record.value.startsWith('v'))
      .map((r) => r.partition);
    expect(new Set(keylessPartitions).size).toBeGreaterThan(1);
    await producer.disconnect();
    await admin.disconnect();
  });

  it('flushes, and delivers on disconnect, the records of a send() called just before', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'flush-race', numPartitions: 1, replicationFactor: 3 }] });
    await admin.disconnect();
    // Records linger ten minutes: only flush() or disconnect() sends them within the test.
    const producer = kafka.producer({ lingerMs: 600_000 });
    await producer.connect();
    const settledWithin = (promise: Promise<unknown>, what: string) =>
      Promise.race([
        promise,
        new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} never settled`)), 20_000)),
      ]);
    // send() is not yet in the accumulator when flush() starts (it awaits the topic's metadata).
    const flushed = producer.send({ topic: 'flush-race', messages: [{ value: 'before flush' }] });
    await producer.flush();
    await settledWithin(flushed, 'the send before flush()');
    const beforeDisconnect = producer.send({
      topic: 'flush-race',
      messages: [{ value: 'before disconnect' }],
    });
    await producer.disconnect();
    await settledWithin(beforeDisconnect, 'the send before disconnect()');
    expect((await kcatConsumeAll(bootstrap, 'flush-race')).map((record) => record.value)).toEqual([
      'before flush',
      'before disconnect',
    ]);
  });

  it('loses no acknowledged record and duplicates none when the leader is killed mid-send', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'moving', numPartitions: 1, replicationFactor: 3 }] });
    const { partitions } = (await admin.fetchTopicMetadata({ topics: ['moving'] })).topics[0]!;
    const leader = partitions[0]!.leader;
    const producer = kafka.producer({ lingerMs: 2, batchSize: 2048 });
    await producer.connect();
    const acknowledged: string[] = [];
    const undelivered: string[] = [];
    const sends: Promise<void>[] = [];
    let settled = 0;
    // The kill comes once the leader has acknowledged sends, and right after a send is issued: it
    // lands with sends in flight (counted, not assumed from the pacing).
    const killRound = 20;
    const acknowledgedBeforeKillMin = 10 * 50;
    let inFlightAtKill = 0;
    for (let round = 0; round < 60; round++) {
      if (round === killRound) {
        await waitFor(
          'sends acknowledged before the kill',
          () => acknowledged.length >= acknowledgedBeforeKillMin,
        );
      }
      const values = Array.from({ length: 50 }, (_, index) => `r${round}-${index}`);
      sends.push(
        producer
          .send({ topic: 'moving', acks: -1, messages: values.map((value) => ({ value })) })
          .then(
            () => void acknowledged.push(...values),
            (error: unknown) => {
              // A rejection says which records were not acknowledged: all of this send's, here.
              expect(error).toBeInstanceOf(KafkaJSSendError);
              expect(
                (error as KafkaJSSendError).undelivered.reduce((sum, entry) => sum + entry.count, 0),
              ).toBe(50);
              undelivered.push(...values);
            },
          )
          .finally(() => {
            settled += 1;
          }),
      );
      if (round === killRound) {
        inFlightAtKill = sends.length - settled;
        await cluster.kill(leader);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all(sends);
    expect(inFlightAtKill).toBeGreaterThan(0);
    const after = (await admin.fetchTopicMetadata({ topics: ['moving'] })).topics[0]!.partitions[0]!;
    expect(after.leader).not.toBe(leader);
    await cluster.restart(leader);
    // The new leader's high watermark reaches what the old one acknowledged once its followers
    // fetch again; until then readers see less. Wait for the log to show every acknowledged record.
    const values = await waitFor(
      'every acknowledged record is readable',
      async () => {
        const read = (await kcatConsumeAll(bootstrap, 'moving')).map((record) => record.value);
        const present = new Set(read);
        return acknowledged.every((value) => present.has(value)) && read;
      },
      { timeoutMs: 30_000 },
    );
    // Every acknowledged record is there, none is there twice, and the order of sends is kept.
    expect(new Set(values).size).toBe(values.length);
    for (const value of acknowledged) expect(values).toContain(value);
    const positions = acknowledged.map((value) => values.indexOf(value));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(acknowledged.length + undelivered.length).toBe(3000);
    expect(acknowledged.length).toBeGreaterThan(0);
    await producer.disconnect();
    await admin.disconnect();
  });

  it('rejects a send with the records that were not acknowledged and keeps those that were', async () => {
    const admin = kafka.admin();
    await admin.connect();
    // One copy per partition: when its only broker dies, a partition cannot take records at all.
    await admin.createTopics({ topics: [{ topic: 'single', numPartitions: 6, replicationFactor: 1 }] });
    // Every broker's metadata has the leaders (a broker's view may lag the controller's a moment).
    const partitions = await waitFor('every partition has a leader', async () => {
      const { partitions: found } = (await admin.fetchTopicMetadata({ topics: ['single'] })).topics[0]!;
      return found.every((partition) => partition.leader >= 0) && found;
    });
    const strandedPartition = partitions[0]!;
    const stranded = strandedPartition.leader;
    const healthyPartition = partitions.find((partition) => partition.leader !== stranded)!;
    const producer = kafka.producer({
      deliveryTimeout: 1500,
      retry: { retries: 100, initialRetryTime: 100 },
    });
    await producer.connect();
    const at = (partition: number, value: string) => ({ partition, value });
    await producer.send({ topic: 'single', messages: [at(strandedPartition.partitionId, 'before')] });
    await cluster.kill(stranded);
    try {
      const error = await producer
        .send({
          topic: 'single',
          messages: [
            at(strandedPartition.partitionId, 'a'),
            at(healthyPartition.partitionId, 'kept'),
            at(strandedPartition.partitionId, 'b'),
            at(strandedPartition.partitionId, 'c'),
          ],
        })
        .then(
          () => undefined,
          (rejection: unknown) => rejection,
        );
      expect(error).toBeInstanceOf(KafkaJSSendError);
      const sendError = error as KafkaJSSendError;
      expect(
        sendError.undelivered.map(({ topic, partition, count }) => ({ topic, partition, count })),
      ).toEqual([{ topic: 'single', partition: strandedPartition.partitionId, count: 3 }]);
      expect(sendError.delivered).toEqual([
        { topicName: 'single', partition: healthyPartition.partitionId, baseOffset: '0' },
      ]);
    } finally {
      await cluster.restart(stranded);
    }
    // The gap the failed batch left in the sequences does not stop later sends to that partition.
    await producer.send({ topic: 'single', messages: [at(strandedPartition.partitionId, 'after')] });
    const records = await kcatConsumeAll(bootstrap, 'single');
    expect(records.filter((r) => r.partition === strandedPartition.partitionId).map((r) => r.value)).toEqual([
      'before',
      'after',
    ]);
    expect(records.filter((r) => r.partition === healthyPartition.partitionId).map((r) => r.value)).toEqual([
      'kept',
    ]);
    await producer.disconnect();
    await admin.disconnect();
  });

  it('acknowledges no record that joined a batch already sent while that batch waited for its retry', async () => {
    // min.insync.replicas 2 over a single replica: every acks=all produce is refused with the
    // retriable NOT_ENOUGH_REPLICAS, so the first batch comes back to its queue, alone, for a retry.
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        {
          topic: 'gated',
          numPartitions: 1,
          replicationFactor: 1,
          configEntries: [{ name: 'min.insync.replicas', value: '2' }],
        },
      ],
    });
    const retried: unknown[] = [];
    const slowRetries = new Kafka({
      clientId: 'retrying-client',
      brokers: cluster.bootstrapServers,
      logLevel: logLevel.DEBUG,
      logCreator: () => (entry) => {
        if (entry.log.message === 'retrying batch' && entry.log.topic === 'gated') retried.push(entry.log);
      },
      // A wide window between the refusal and the retry, for the next send to land in.
      retry: { initialRetryTime: 1_000, retries: 8 },
    });
    const producer = slowRetries.producer({ lingerMs: 0 });
    await producer.connect();
    const first = producer.send({ topic: 'gated', messages: [{ value: 'first' }] });
    await waitFor('the first batch was refused and waits for its retry', () => retried.length > 0);
    const second = producer.send({ topic: 'gated', messages: [{ value: 'second' }] });

    const broker = cluster.brokers[0]!;
    const connection = await KafkaConnection.open({ host: broker.host, port: broker.port });
    const altered = await connection.call(ApiKey.IncrementalAlterConfigs, 1, {
      resources: [
        {
          resourceType: 2,
          resourceName: 'gated',
          configs: [{ name: 'min.insync.replicas', configOperation: 0, value: '1' }],
        },
      ],
      validateOnly: false,
    });
    connection.close();
    expect(altered.responses[0]!.errorCode).toBe(0);
    await Promise.all([first, second]);

    // Both sends were acknowledged: both records are in the log, each once.
    const values = await waitFor(
      'both acknowledged records are readable',
      async () => {
        const read = (await kcatConsumeAll(bootstrap, 'gated')).map((record) => record.value);
        return read.includes('first') && read.includes('second') && read;
      },
      { timeoutMs: 10_000 },
    );
    expect(values).toEqual(['first', 'second']);
    await producer.disconnect();
    await admin.disconnect();
  });

  it('admin: lists, describes, finds offsets by time and deletes topics', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'doomed', numPartitions: 2, replicationFactor: 2 }] });
    expect(await admin.listTopics()).toContain('doomed');
    const metadata = (await admin.fetchTopicMetadata({ topics: ['doomed'] })).topics[0]!;
    expect(metadata.partitions.map((partition) => partition.partitionId)).toEqual([0, 1]);
    expect(metadata.partitions.every((partition) => partition.replicas.length === 2)).toBe(true);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'doomed', messages: [{ partition: 0, value: 'old', timestamp: 1_000 }] });
    await producer.send({ topic: 'doomed', messages: [{ partition: 0, value: 'new', timestamp: 5_000 }] });
    expect(await admin.fetchTopicOffsetsByTimestamp('doomed', 2_000)).toEqual([
      { partition: 0, offset: '1' },
      { partition: 1, offset: '0' },
    ]);
    await producer.disconnect();
    await admin.deleteTopics({ topics: ['doomed'] });
    await waitFor('the topic is gone', async () => !(await admin.listTopics()).includes('doomed'));
    await expect(admin.deleteTopics({ topics: ['never-made'] })).rejects.toThrow(
      /never-made: UNKNOWN_TOPIC_OR_PARTITION/,
    );
    await admin.disconnect();
  });

  it('is idempotent by default with acks=all, and sends acks=1 and acks=0 without a producer id', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'acks', numPartitions: 1, replicationFactor: 3 }] });
    const producer = kafka.producer();
    await producer.connect();
    const [all] = await producer.send({ topic: 'acks', messages: [{ value: 'all' }] });
    const [one] = await producer.send({ topic: 'acks', acks: 1, messages: [{ value: 'one' }] });
    expect([all!.baseOffset, one!.baseOffset]).toEqual(['0', '1']);
    // acks=0 gets no answer: it resolves once written, with no offset.
    const [none] = await producer.send({ topic: 'acks', acks: 0, messages: [{ value: 'none' }] });
    expect(none!.baseOffset).toBe('-1');
    await waitFor(
      'the acks=0 record arrives',
      async () => (await kcatConsumeAll(bootstrap, 'acks')).length === 3,
    );
    // The batches as the leader stored them: a producer id and sequence only on the acks=all one.
    const leader = (await admin.fetchTopicMetadata({ topics: ['acks'] })).topics[0]!.partitions[0]!.leader;
    const broker = cluster.brokers.find((candidate) => candidate.id === leader)!;
    const connection = await KafkaConnection.open({ host: broker.host, port: broker.port });
    const fetched = await connection.call(ApiKey.Fetch, 11, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1_000_000,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic: 'acks',
          partitions: [
            {
              partition: 0,
              currentLeaderEpoch: -1,
              fetchOffset: 0n,
              lastFetchedEpoch: -1,
              logStartOffset: -1n,
              partitionMaxBytes: 1_000_000,
            },
          ],
        },
      ],
      forgottenTopicsData: [],
      rackId: '',
    });
    connection.close();
    const batches = [...iterateBatches(fetched.responses[0]!.partitions[0]!.records!)].map(
      ({ header, records }) => ({
        value: String(records[0]!.value),
        idempotent: header.producerId >= 0 && header.baseSequence >= 0,
      }),
    );
    expect(batches).toEqual([
      { value: 'all', idempotent: true },
      { value: 'one', idempotent: false },
      { value: 'none', idempotent: false },
    ]);
    await producer.disconnect();
    await admin.disconnect();
  });
});
