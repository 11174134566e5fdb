// Transactions v2 (KIP-890 part 2) against two Gregor broker processes: a new cluster finalizes
// transaction.version 2 (checked in ApiVersions v3), so our client's transactional producer speaks it (no AddPartitionsToTxn,
// Produce v12, TxnOffsetCommit v5, EndTxn v5). Covered: every transaction's end bumps the producer epoch (the coordinator
// says so through `gregor transactions describe`); a committed and an aborted transaction, read by
// kcat (librdkafka) read_committed, which sees exactly the committed records, and their offsets
// sent with sendOffsets (only the committed transaction's count); a zombie still holding
// the pre-bump epoch is fenced at the partition leader (raw Produce v12: INVALID_PRODUCER_EPOCH);
// an InitProducerId naming the pre-bump epoch is a KIP-360 retry (the current epoch, no bump), one
// older is PRODUCER_FENCED (raw InitProducerId v5 to the coordinator).
// The producer knows the topic's id from its metadata, so its Produce requests go at v13, by topic
// id (KIP-516), through the frame writer that references its batches (request events say so).

import { CompressionType, encodeRecordBatch } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from '../admin.js';
import { KafkaConnection } from '../connection.js';
import type { InstrumentationEvent } from '../consumer/instrumentation.js';
import type { RequestPayload } from '../instrumentation.js';
import { Kafka } from '../kafka.js';
import { logLevel } from '../logger.js';
import type { Producer } from '../producer/producer.js';
import { BrokerProcesses } from '../testing/broker-processes.js';
import { kcatConsumeAll } from '../testing/kcat.js';

let brokers: BrokerProcesses;
let admin: Admin;
let producer: Producer | undefined;
const topic = 'tv2';
const transactionalId = 'tv2-producer';
/** The versions of the Produce requests our producer sent. */
const produceVersions = new Set<number>();

beforeAll(async () => {
  brokers = await BrokerProcesses.start(2, {
    properties: {
      'transaction.state.log.num.partitions': '3',
      'transaction.state.log.replication.factor': '2',
      'transaction.state.log.min.isr': '1',
    },
  });
  const kafka = new Kafka({
    clientId: 'tv2-it',
    brokers: brokers.bootstrapServers,
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 100, retries: 10 },
  });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 2 }] });
  producer = kafka.producer({ transactionalId, lingerMs: 0, maxInFlightRequests: 1 });
  producer.on(producer.events.REQUEST, (event: InstrumentationEvent<RequestPayload>) => {
    if (event.payload.apiKey === 0) produceVersions.add(event.payload.apiVersion);
  });
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect().catch(() => undefined);
  await admin?.disconnect();
  await brokers?.stop();
});

/** The coordinator's view of the transactional id (kafka-transactions.sh describe). */
function describeTransaction(): { producerId: number; producerEpoch: number; state: string } {
  const [header, row] = brokers
    .cli(['transactions', 'describe', '--transactional-id', transactionalId])
    .trim()
    .split('\n');
  const names = header!.trim().split(/\s+/);
  const values = row!.trim().split(/\s+/);
  const value = (name: string) => values[names.indexOf(name)]!;
  return {
    producerId: Number(value('ProducerId')),
    producerEpoch: Number(value('ProducerEpoch')),
    state: value('TransactionState'),
  };
}

const values = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, index) => `${prefix}-${index}`);

describe('transactions v2', () => {
  it('bumps the epoch at every end, read_committed sees exactly the committed records, the pre-bump epoch is fenced', async () => {
    const committed = values('committed', 10);
    const first = await producer!.transaction();
    await first.send({ topic, messages: committed.slice(0, 5).map((value) => ({ value })) });
    await first.send({ topic, messages: committed.slice(5).map((value) => ({ value })) });
    // TxnOffsetCommit v5: the broker adds the group's offsets partition to the transaction.
    await first.sendOffsets({
      consumerGroupId: 'tv2-group',
      topics: [{ topic, partitions: [{ partition: 0, offset: 5 }] }],
    });
    await first.commit();
    const afterCommit = describeTransaction();
    expect(afterCommit.state).toBe('CompleteCommit');

    const aborted = values('aborted', 5);
    const second = await producer!.transaction();
    await second.send({ topic, messages: aborted.map((value) => ({ value })) });
    await second.sendOffsets({
      consumerGroupId: 'tv2-group',
      topics: [{ topic, partitions: [{ partition: 0, offset: 9 }] }],
    });
    await second.abort();
    const afterAbort = describeTransaction();
    expect(afterAbort).toEqual({
      producerId: afterCommit.producerId,
      producerEpoch: afterCommit.producerEpoch + 1,
      state: 'CompleteAbort',
    });

    const again = values('again', 3);
    const third = await producer!.transaction();
    await third.send({ topic, messages: again.map((value) => ({ value })) });
    await third.commit();
    expect(describeTransaction().producerEpoch).toBe(afterCommit.producerEpoch + 2);

    const readCommitted = (
      await kcatConsumeAll(brokers.bootstrapServers.join(','), topic, 'read_committed')
    ).map((record) => record.value);
    expect(readCommitted).toEqual([...committed, ...again]);
    expect([...produceVersions]).toEqual([13]);
    // The committed transaction's offsets count, the aborted one's do not.
    const [offsets] = await admin.fetchOffsets({ groupId: 'tv2-group', topics: [topic] });
    expect(offsets?.partitions).toEqual([expect.objectContaining({ partition: 0, offset: '5' })]);

    // A zombie of the producer, still at the epoch the first transaction ran under, sends a
    // transactions-v2 batch to the partition leader: the coordinator refuses to add the partition.
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const leader = metadata.topics[0]!.partitions[0]!.leader;
    const [host, port] = brokers.address(leader).split(':');
    const connection = await KafkaConnection.open({
      host: host!,
      port: Number(port),
      clientId: 'zombie',
      connectTimeoutMs: 5_000,
    });
    try {
      // A new cluster finalizes transaction.version 2 (as Kafka 4): why our producer spoke v2.
      const versions = await connection.call(
        18, // ApiVersions
        3,
        { clientSoftwareName: 'zombie', clientSoftwareVersion: '0' },
        10_000,
      );
      expect(versions.finalizedFeatures).toContainEqual({
        name: 'transaction.version',
        maxVersionLevel: 2,
        minVersionLevel: 2,
      });
      const response = await connection.call(
        0, // Produce
        12,
        {
          transactionalId,
          acks: -1,
          timeoutMs: 5_000,
          topics: [
            {
              name: topic,
              partitions: [
                {
                  partitionIndex: 0,
                  records: encodeRecordBatch({
                    compression: CompressionType.None,
                    producerId: afterCommit.producerId,
                    producerEpoch: afterCommit.producerEpoch - 1,
                    baseSequence: 0,
                    isTransactional: true,
                    records: [{ key: null, value: Buffer.from('zombie'), timestamp: Date.now() }],
                  }),
                },
              ],
            },
          ],
        },
        10_000,
      );
      expect(response.responses[0]!.partitions[0]!.errorCode).toBe(47); // INVALID_PRODUCER_EPOCH
    } finally {
      connection.close();
    }
    const readAfterZombie = (
      await kcatConsumeAll(brokers.bootstrapServers.join(','), topic, 'read_uncommitted')
    ).map((record) => record.value);
    expect(readAfterZombie).toEqual([...committed, ...aborted, ...again]);

    // KIP-360: a producer that lost the answer of its last end asks InitProducerId (v3+) with the
    // producer id and the epoch it had: a retry, answered the current epoch without a bump; an older
    // epoch is a zombie. Neither disturbs the producer.
    const current = describeTransaction();
    const lookup = await KafkaConnection.open({
      host: host!,
      port: Number(port),
      clientId: 'retry',
      connectTimeoutMs: 5_000,
    });
    const coordinator = await lookup
      .call(10 /* FindCoordinator */, 3, { key: transactionalId, keyType: 1 }, 10_000)
      .finally(() => lookup.close());
    const toCoordinator = await KafkaConnection.open({
      host: coordinator.host,
      port: coordinator.port,
      clientId: 'retry',
      connectTimeoutMs: 5_000,
    });
    try {
      const init = (producerEpoch: number) =>
        toCoordinator.call(
          22, // InitProducerId
          5,
          {
            transactionalId,
            transactionTimeoutMs: 60_000,
            producerId: BigInt(current.producerId),
            producerEpoch,
          },
          10_000,
        );
      expect(await init(current.producerEpoch - 1)).toMatchObject({
        errorCode: 0,
        producerId: BigInt(current.producerId),
        producerEpoch: current.producerEpoch,
      });
      expect((await init(current.producerEpoch - 2)).errorCode).toBe(90); // PRODUCER_FENCED
    } finally {
      toCoordinator.close();
    }
    expect(describeTransaction()).toEqual(current);
  });
});
