// Our client's transactions against three Gregor broker processes, checked by clients that are not
// ours: kcat (librdkafka) reads the topics read_committed and read_uncommitted, kafkajs's admin reads
// the group offsets sendOffsets stored, and a kafkajs consumer group reads read_committed. Covered:
// committed transactions are visible to read_committed readers and aborted ones only to
// read_uncommitted readers; records still buffered when abort() is called are never sent; offsets
// sent in a transaction count only once it commits; a second producer with the same transactional
// id fences the first.

import { waitFor } from '@gregor/ground/testing';
import { Kafka as KafkaJs, logLevel as kafkajsLogLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from '../admin.js';
import { KafkaJSNonRetriableError, KafkaJSProducerFencedError } from '../errors.js';
import { Kafka } from '../kafka.js';
import { logLevel } from '../logger.js';
import type { Producer } from '../producer/producer.js';
import { BrokerProcesses } from '../testing/broker-processes.js';
import { kcatConsumeAll } from '../testing/kcat.js';

let brokers: BrokerProcesses;
let kafka: Kafka;
let admin: Admin;
let bootstrap: string;
const producers: Producer[] = [];

beforeAll(async () => {
  brokers = await BrokerProcesses.start(3, {
    properties: {
      'transaction.state.log.num.partitions': '5',
      'transaction.state.log.replication.factor': '3',
      'transaction.state.log.min.isr': '2',
      'group.initial.rebalance.delay.ms': '200',
    },
  });
  bootstrap = brokers.bootstrapServers.join(',');
  kafka = new Kafka({
    clientId: 'txn-it',
    brokers: brokers.bootstrapServers,
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 100, retries: 10 },
  });
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  for (const producer of producers) await producer.disconnect().catch(() => undefined);
  await admin?.disconnect();
  await brokers?.stop();
});

async function transactionalProducer(transactionalId: string, lingerMs = 0): Promise<Producer> {
  const producer = kafka.producer({ transactionalId, lingerMs, maxInFlightRequests: 1 });
  producers.push(producer);
  await producer.connect();
  return producer;
}

async function createTopic(topic: string): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 3 }] });
}

const values = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
const sorted = (items: readonly string[]) => [...items].sort();

describe('transactions', () => {
  it('commits what read_committed readers then see, and aborts what only read_uncommitted readers see', async () => {
    const topic = 'txn-visibility';
    await createTopic(topic);
    const producer = await transactionalProducer('txn-visibility');

    const committed = values('committed', 30);
    const first = await producer.transaction();
    expect(first.isActive()).toBe(true);
    await first.send({ topic, messages: committed.slice(0, 10).map((value) => ({ key: value, value })) });
    await first.sendBatch({
      topicMessages: [{ topic, messages: committed.slice(10).map((value) => ({ key: value, value })) }],
    });
    await first.commit();
    expect(first.isActive()).toBe(false);
    await expect(first.send({ topic, messages: [{ value: 'late' }] })).rejects.toThrow(
      'Cannot continue to use transaction once ended',
    );

    const aborted = values('aborted', 20);
    const second = await producer.transaction();
    await second.send({ topic, messages: aborted.map((value) => ({ key: value, value })) });
    await second.abort();

    const committedAgain = values('again', 10);
    const third = await producer.transaction();
    await third.send({ topic, messages: committedAgain.map((value) => ({ key: value, value })) });
    await third.commit();

    // Outside a transaction a transactional producer sends nothing; acks other than -1 are refused.
    await expect(producer.send({ topic, messages: [{ value: 'outside' }] })).rejects.toThrow(
      KafkaJSNonRetriableError,
    );
    const fourth = await producer.transaction();
    await expect(fourth.send({ topic, acks: 1, messages: [{ value: 'acks-1' }] })).rejects.toThrow(
      /invalidates the idempotent producer's EoS guarantees/,
    );
    await fourth.abort();

    const readCommitted = (await kcatConsumeAll(bootstrap, topic, 'read_committed')).map(
      (record) => record.value,
    );
    expect(sorted(readCommitted)).toEqual(sorted([...committed, ...committedAgain]));
    const readUncommitted = (await kcatConsumeAll(bootstrap, topic, 'read_uncommitted')).map(
      (record) => record.value,
    );
    expect(sorted(readUncommitted)).toEqual(sorted([...committed, ...aborted, ...committedAgain]));

    // kafkajs reads read_committed by default: the same records, none of the aborted ones.
    const reader = new KafkaJs({ brokers: brokers.bootstrapServers, logLevel: kafkajsLogLevel.NOTHING });
    const consumer = reader.consumer({ groupId: 'txn-visibility-reader', maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const read: string[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void read.push(String(message.value)) });
    await waitFor('kafkajs reads the committed records', () => read.length >= readCommitted.length, {
      timeoutMs: 60_000,
      detail: () => read.join(','),
    });
    await consumer.disconnect();
    expect(sorted(read)).toEqual(sorted(readCommitted));
  });

  it('drops the records still buffered when the transaction aborts, and the next transaction commits', async () => {
    const topic = 'txn-dropped';
    await createTopic(topic);
    // Records linger a minute in the client: abort() comes long before they would be sent.
    const producer = await transactionalProducer('txn-dropped', 60_000);
    const txn = await producer.transaction();
    const buffered = txn
      .send({ topic, messages: values('buffered', 5).map((value) => ({ key: value, value })) })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    await waitFor('the records are buffered', () => producer.bufferedBytes > 0, { timeoutMs: 10_000 });
    await txn.abort();
    expect(String(await buffered)).toMatch(/aborted before this record was sent/);
    expect(producer.bufferedBytes).toBe(0);

    const next = await producer.transaction();
    const kept = values('kept', 5);
    // Not awaited: commit() waits for the send to buffer its records, then for their answers.
    const sent = next.send({ topic, messages: kept.map((value) => ({ key: value, value })) });
    await next.commit();
    expect((await sent).length).toBeGreaterThan(0);
    const everything = (await kcatConsumeAll(bootstrap, topic, 'read_uncommitted')).map(
      (record) => record.value,
    );
    expect(sorted(everything)).toEqual(sorted(kept));
  });

  it('commits the offsets sent in a transaction only when it commits (read with kafkajs admin)', async () => {
    const topic = 'txn-offsets';
    const groupId = 'txn-offsets-group';
    await createTopic(topic);
    const producer = await transactionalProducer('txn-offsets');
    const kafkajsAdmin = new KafkaJs({
      brokers: brokers.bootstrapServers,
      logLevel: kafkajsLogLevel.NOTHING,
    }).admin();
    await kafkajsAdmin.connect();
    const committedOffset = async (partition: number) => {
      const [entry] = await kafkajsAdmin.fetchOffsets({ groupId, topics: [topic] });
      return entry!.partitions.find((candidate) => candidate.partition === partition)!.offset;
    };

    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ value: 'processed', partition: 1 }] });
    await aborted.sendOffsets({
      consumerGroupId: groupId,
      topics: [{ topic, partitions: [{ partition: 0, offset: '5' }] }],
    });
    // Pending in the open transaction: not yet the group's offset.
    expect(await committedOffset(0)).toBe('-1');
    await aborted.abort();
    expect(await committedOffset(0)).toBe('-1');

    const committed = await producer.transaction();
    await committed.send({ topic, messages: [{ value: 'processed', partition: 1 }] });
    await committed.sendOffsets({
      consumerGroupId: groupId,
      topics: [
        {
          topic,
          partitions: [
            { partition: 0, offset: '7' },
            { partition: 2, offset: '3' },
          ],
        },
      ],
    });
    expect(await committedOffset(0)).toBe('-1');
    await committed.commit();
    // EndTxn is answered once the markers are written, the offsets' included.
    expect(await committedOffset(0)).toBe('7');
    expect(await committedOffset(2)).toBe('3');
    await kafkajsAdmin.disconnect();
  });

  it('copies a topic exactly once: our consumer reads, each batch is sent and its offsets committed in one transaction', async () => {
    const input = 'txn-copy-input';
    const output = 'txn-copy-output';
    const groupId = 'txn-copier';
    await createTopic(input);
    await createTopic(output);
    const plain = kafka.producer();
    producers.push(plain);
    await plain.connect();
    const originals = values('record', 90);
    await plain.send({ topic: input, messages: originals.map((value) => ({ key: value, value })) });

    const copier = await transactionalProducer('txn-copier');
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, heartbeatInterval: 300 });
    await consumer.connect();
    await consumer.subscribe({ topic: input, fromBeginning: true });
    let transactions = 0;
    const failures: string[] = [];
    let handlersRunning = 0;
    let mostHandlersRunning = 0;
    // kafkajs's read-process-write loop, as its documentation writes it (one eachBatch at a time, so
    // one transaction at a time).
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, resolveOffset }) => {
        handlersRunning++;
        mostHandlersRunning = Math.max(mostHandlersRunning, handlersRunning);
        const txn = await copier.transaction();
        try {
          await txn.send({
            topic: output,
            messages: batch.messages.map((message) => ({ key: message.key, value: message.value })),
          });
          await txn.sendOffsets({
            consumerGroupId: groupId,
            topics: [
              {
                topic: batch.topic,
                partitions: [{ partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }],
              },
            ],
          });
          await txn.commit();
          transactions++;
        } catch (error) {
          failures.push(String(error));
          await txn.abort();
          throw error;
        } finally {
          handlersRunning--;
        }
        for (const message of batch.messages) resolveOffset(message.offset);
      },
    });
    const copied = await waitFor(
      'every record copied',
      async () => {
        const read = (await kcatConsumeAll(bootstrap, output, 'read_committed')).map(
          (record) => record.value,
        );
        return read.length >= originals.length && read;
      },
      {
        timeoutMs: 60_000,
        detail: async () =>
          JSON.stringify({
            transactions,
            failures,
            readCommitted: (await kcatConsumeAll(bootstrap, output, 'read_committed')).length,
            readUncommitted: (await kcatConsumeAll(bootstrap, output, 'read_uncommitted')).length,
          }),
      },
    );
    await consumer.disconnect();
    expect(sorted(copied)).toEqual(sorted(originals));
    expect(transactions).toBeGreaterThan(0);
    // The input's partitions have different leaders, yet eachBatch ran one call at a time (kafkajs's
    // partitionsConsumedConcurrently: 1), which is what lets the loop use one producer.
    const leaders = (await admin.fetchTopicMetadata({ topics: [input] })).topics[0]!.partitions.map(
      (partition) => partition.leader,
    );
    expect(new Set(leaders).size).toBeGreaterThan(1);
    expect(mostHandlersRunning).toBe(1);
    // The group's offsets came only from the transactions (autoCommit is off): each partition's end.
    const ends = await admin.fetchTopicOffsets(input);
    const kafkajsAdmin = new KafkaJs({
      brokers: brokers.bootstrapServers,
      logLevel: kafkajsLogLevel.NOTHING,
    }).admin();
    await kafkajsAdmin.connect();
    const [committed] = await kafkajsAdmin.fetchOffsets({ groupId, topics: [input] });
    await kafkajsAdmin.disconnect();
    expect(
      committed!.partitions
        .map(({ partition, offset }) => ({ partition, offset }))
        .sort((a, b) => a.partition - b.partition),
    ).toEqual(
      ends
        .map(({ partition, high }) => ({ partition, offset: high }))
        .sort((a, b) => a.partition - b.partition),
    );
  });

  it('fences a producer whose transaction outlived transactionTimeout: the coordinator aborted it', async () => {
    const topic = 'txn-timeout';
    await createTopic(topic);
    const producer = kafka.producer({
      transactionalId: 'txn-timeout',
      transactionTimeout: 1_000,
      lingerMs: 0,
    });
    producers.push(producer);
    await producer.connect();
    const txn = await producer.transaction();
    await txn.send({ topic, messages: [{ value: 'too-slow', partition: 0 }] });
    // kafka-transactions.sh's describe, from the coordinator: the transaction is aborted on its own.
    await waitFor(
      'the coordinator aborts the transaction',
      () =>
        /CompleteAbort/.test(brokers.cli(['transactions', 'describe', '--transactional-id', 'txn-timeout'])),
      {
        timeoutMs: 30_000,
        intervalMs: 250,
        detail: () => brokers.cli(['transactions', 'describe', '--transactional-id', 'txn-timeout']),
      },
    );
    const fenced = await txn.commit().catch((error: unknown) => error);
    expect(fenced).toBeInstanceOf(KafkaJSProducerFencedError);
    await expect(producer.transaction()).rejects.toBe(fenced);
    expect(await kcatConsumeAll(bootstrap, topic, 'read_committed')).toEqual([]);
  });

  it('fences the first producer once a second one takes the same transactional id', async () => {
    const topic = 'txn-fencing';
    await createTopic(topic);
    const zombie = await transactionalProducer('txn-fencing');
    const zombieTxn = await zombie.transaction();
    await zombieTxn.send({ topic, messages: [{ value: 'zombie-1', partition: 0 }] });

    // The newcomer's InitProducerId bumps the epoch and aborts what the zombie left open.
    const successor = await transactionalProducer('txn-fencing');
    const successorTxn = await successor.transaction();
    await successorTxn.send({ topic, messages: [{ value: 'successor', partition: 0 }] });
    await successorTxn.commit();

    const fenced = await zombieTxn
      .send({ topic, messages: [{ value: 'zombie-2', partition: 0 }] })
      .catch((error: unknown) => error);
    expect(fenced).toBeInstanceOf(KafkaJSProducerFencedError);
    expect(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH']).toContain(
      (fenced as KafkaJSProducerFencedError).type,
    );
    // For good: the transaction cannot commit and the producer starts no other.
    await expect(zombieTxn.commit()).rejects.toBe(fenced);
    await expect(zombie.transaction()).rejects.toBe(fenced);

    const readCommitted = (await kcatConsumeAll(bootstrap, topic, 'read_committed')).map(
      (record) => record.value,
    );
    expect(readCommitted).toEqual(['successor']);
    const readUncommitted = (await kcatConsumeAll(bootstrap, topic, 'read_uncommitted')).map(
      (record) => record.value,
    );
    expect(readUncommitted).not.toContain('zombie-2');
    expect(sorted(readUncommitted)).toEqual(['successor', 'zombie-1']);
  });
});
