// kafkajs 2.2.4 transactions against a three-node cluster of broker processes (kafkajs speaks the
// non-flexible versions: InitProducerId v1, AddPartitionsToTxn v1, EndTxn v1, AddOffsetsToTxn v1,
// TxnOffsetCommit v2, Fetch v11 with read_committed). Covered: a committed transaction reaches a
// read_committed consumer group and an aborted one does not, while a read_uncommitted group sees
// both; sendOffsets commits a group's offsets with the transaction (and not when it aborts); a
// zombie producer (same transactional id, older epoch) is fenced; a consume-transform-produce loop
// writes every input exactly once across a kill -9 (and restart) of its output partition's leader.
//
// Each test's topic is created, and known to every broker, before its transactions: kafkajs 2.2.4
// retries a whole transactional send when one leader's part fails with a retriable error, resending
// parts already written under the next sequence. A topic auto-created by the send itself makes that
// likely: the transaction coordinator's metadata may not hold it yet and answers AddPartitionsToTxn
// UNKNOWN_TOPIC_OR_PARTITION, as Kafka's does (packages/broker/README.md, "Transactions").

import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';
import { RawClusterClient, requestTimeoutMs } from '../testing/raw-cluster-client.js';

const partitionCount = 3;
const settleWaitMs = 60_000;

let cluster: ProcessCluster;
let kafka: Kafka;
const producers: Producer[] = [];

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      'num.partitions': String(partitionCount),
      'default.replication.factor': '3',
      'offsets.topic.num.partitions': '5',
      'offsets.topic.replication.factor': '3',
      'transaction.state.log.num.partitions': '5',
      'transaction.state.log.replication.factor': '3',
      'group.initial.rebalance.delay.ms': '200',
    },
  });
  kafka = new Kafka({
    clientId: 'txn-it',
    brokers: cluster.bootstrap.split(','),
    logLevel: logLevel.NOTHING,
  });
});

afterAll(async () => {
  for (const producer of producers) await producer.disconnect().catch(() => {});
  await cluster?.close();
});

const waitOptions: WaitForOptions = {
  timeoutMs: settleWaitMs,
  intervalMs: 100,
  detail: () => cluster.tail(),
};

async function transactionalProducer(transactionalId: string): Promise<Producer> {
  const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
  producers.push(producer);
  await producer.connect();
  return producer;
}

/** Creates `topic` and waits until every broker's Metadata has all its partitions (header above). */
async function createTopicOnEveryBroker(topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitionCount }] });
  await admin.disconnect();
  const raw = new RawClusterClient(cluster);
  try {
    await waitFor(
      `${topic} in every broker's metadata`,
      async () => {
        for (const node of cluster.nodes) {
          if ((await raw.partition(topic, partitionCount - 1, [node.id])) === undefined) return false;
        }
        return true;
      },
      waitOptions,
    );
  } finally {
    raw.close();
  }
}

/** The node FindCoordinator names for `key` (keyType 0: a group, 1: a transactional id). */
async function coordinatorOf(key: string, keyType: 0 | 1): Promise<number> {
  const raw = new RawClusterClient(cluster);
  let coordinator = -1;
  try {
    await waitFor(
      `the coordinator of ${key}`,
      async () => {
        const node = cluster.nodes.find((candidate) => candidate.process !== undefined)!;
        const found = await (await raw.connection(node.id)).call(
          ApiKey.FindCoordinator,
          1,
          { key, keyType },
          requestTimeoutMs,
        );
        coordinator = found.errorCode === ErrorCode.NONE ? found.nodeId : -1;
        return coordinator >= 0;
      },
      waitOptions,
    );
  } finally {
    raw.close();
  }
  return coordinator;
}

/** The leader of each partition of `topic`, by partition. */
async function leadersOf(topic: string): Promise<number[]> {
  const raw = new RawClusterClient(cluster);
  try {
    const leaders: number[] = [];
    for (let partition = 0; partition < partitionCount; partition++) {
      leaders.push((await raw.partition(topic, partition))?.leaderId ?? -1);
    }
    return leaders;
  } finally {
    raw.close();
  }
}

/** Every value a consumer group reads from `topic` until it has `expected` (then a moment more). */
async function consumeAll(topic: string, groupId: string, readUncommitted: boolean, expected: number) {
  const consumer = kafka.consumer({ groupId, readUncommitted, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const values: string[] = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      values.push(message.value?.toString() ?? '');
    },
  });
  await waitFor(`${expected} records of ${topic}`, () => values.length >= expected, {
    ...waitOptions,
    detail: () => values.join(','),
  });
  // Anything beyond what was expected would show up here.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  await consumer.disconnect();
  return values.sort();
}

describe('kafkajs transactions', () => {
  it('commits and aborts: read_committed sees only the committed, read_uncommitted both', async () => {
    const topic = 'kjs-txn';
    await createTopicOnEveryBroker(topic);
    const producer = await transactionalProducer('kjs-visibility');
    const committed = await producer.transaction();
    await committed.send({
      topic,
      messages: ['c0', 'c1', 'c2'].map((value, partition) => ({ value, partition })),
    });
    await committed.commit();
    const aborted = await producer.transaction();
    await aborted.send({
      topic,
      messages: ['a0', 'a1', 'a2'].map((value, partition) => ({ value, partition })),
    });
    await aborted.abort();
    const last = await producer.transaction();
    await last.send({ topic, messages: [{ value: 'c3', partition: 0 }] });
    await last.commit();

    expect(await consumeAll(topic, 'kjs-committed-reader', false, 4)).toEqual(['c0', 'c1', 'c2', 'c3']);
    expect(await consumeAll(topic, 'kjs-uncommitted-reader', true, 7)).toEqual([
      'a0',
      'a1',
      'a2',
      'c0',
      'c1',
      'c2',
      'c3',
    ]);
  });

  it('sendOffsets commits the group offsets with the transaction, and not when it aborts', async () => {
    const topic = 'kjs-offsets-in';
    const groupId = 'kjs-offsets-group';
    const producer = await transactionalProducer('kjs-offsets');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: partitionCount }] });

    const aborted = await producer.transaction();
    await aborted.sendOffsets({
      consumerGroupId: groupId,
      topics: [{ topic, partitions: [{ partition: 0, offset: '7' }] }],
    });
    await aborted.abort();
    const committed = await producer.transaction();
    await committed.sendOffsets({
      consumerGroupId: groupId,
      topics: [{ topic, partitions: [{ partition: 1, offset: '42' }] }],
    });
    await committed.commit();

    // The offsets settle when the markers reach the group's offsets partition, just after EndTxn.
    let offsets: Record<string, string> = {};
    await waitFor(
      'the committed transaction offsets',
      async () => {
        const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
        offsets = Object.fromEntries(fetched!.partitions.map((p) => [String(p.partition), p.offset]));
        return offsets['1'] === '42';
      },
      { ...waitOptions, detail: () => JSON.stringify(offsets) },
    );
    expect(offsets).toEqual({ '0': '-1', '1': '42', '2': '-1' });
    await admin.disconnect();
  });

  it('fences a zombie producer', async () => {
    const topic = 'kjs-zombie';
    await createTopicOnEveryBroker(topic);
    const zombie = await transactionalProducer('kjs-zombie');
    const transaction = await zombie.transaction();
    await transaction.send({ topic, messages: [{ value: 'zombie', partition: 0 }] });
    const successor = await transactionalProducer('kjs-zombie');
    // kafkajs initialises a transactional producer id with its first transaction: this fences.
    const next = await successor.transaction();
    await expect(
      (async () => {
        await transaction.send({ topic, messages: [{ value: 'zombie-2', partition: 0 }] });
        await transaction.commit();
      })(),
    ).rejects.toThrow(/epoch|fenced/i);
    await next.send({ topic, messages: [{ value: 'successor', partition: 0 }] });
    await next.commit();
    expect(await consumeAll(topic, 'kjs-zombie-reader', false, 1)).toEqual(['successor']);
  });

  it('consume-transform-produce writes every input exactly once across a kill -9 of the output partition leader', async () => {
    const input = 'kjs-ctp-in';
    const output = 'kjs-ctp-out';
    const groupId = 'kjs-ctp-group';
    const transactionalId = 'kjs-ctp';
    const inputCount = 300;
    const recordsPerTransaction = 10;
    const killAfter = 100;
    const restartAfter = 200;
    await createTopicOnEveryBroker(input);
    await createTopicOnEveryBroker(output);
    const inputs = Array.from({ length: inputCount }, (_, index) => `in-${String(index).padStart(3, '0')}`);
    const source = kafka.producer();
    await source.connect();
    await source.send({
      topic: input,
      acks: -1,
      messages: inputs.map((value, index) => ({ value, partition: index % partitionCount })),
    });
    await source.disconnect();

    // The victim leads the partition every transaction writes to and is neither the transaction
    // coordinator (a coordinator's kill is the librdkafka file's) nor the metadata quorum's leader:
    // while a new one is elected every broker's lease may lapse and its coordinators answer
    // NOT_COORDINATOR, which kafkajs 2.2.4 does not retry in sendOffsets or abort. Not the group's
    // coordinator either when the leaders allow it: what is tested is the output leader's failover
    // under open transactions. Each node leads one partition of a three-partition topic here.
    let producer = await transactionalProducer(transactionalId);
    const transactionCoordinator = await coordinatorOf(transactionalId, 1);
    const groupCoordinator = await coordinatorOf(groupId, 0);
    const { controllerId } = await cluster.describe(transactionCoordinator);
    const leaders = await leadersOf(output);
    const candidates = leaders
      .map((leader, partition) => ({ leader, partition }))
      .filter(({ leader }) => leader >= 0 && leader !== transactionCoordinator && leader !== controllerId);
    const target = candidates.find(({ leader }) => leader !== groupCoordinator) ?? candidates[0];
    expect(
      target,
      `output leaders ${leaders}, coordinator ${transactionCoordinator}, controller ${controllerId}`,
    ).toBeDefined();
    const { leader: victim, partition: outputPartition } = target!;

    // One send per transaction, to one partition, as a careful kafkajs 2.2.4 user writes it: a send
    // to two leaders, one of them killed, loses or doubles records in kafkajs itself, which no broker
    // can prevent. Its retry skips every broker that has already answered that send, so the killed
    // leader's part, now led by a broker that answered for another partition, is never sent and the
    // send succeeds (seen in 1 of 2 runs with each transaction's 10 records split over two
    // partitions: it committed without the 5 of the killed leader's partition); and a part that
    // fails while another is in flight is resent under the next sequence (header).
    let processed = 0;
    let transactions = 0;
    let failedTransactions = 0;
    const errors: string[] = [];
    let killed = false;
    let restarted: Promise<void> | undefined;
    const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic: input, fromBeginning: true });
    const admin = kafka.admin();
    await admin.connect();
    // kafkajs 2.2.4 can neither abort nor begin after a failed commit (its state machine stays in
    // COMMITTING), and the commit may have taken effect: a new producer under the same id completes
    // or aborts the transaction (InitProducerId), and the partition resumes from the group's offsets.
    const recover = async (partition: number): Promise<void> => {
      await producer.disconnect().catch(() => {});
      producer = await transactionalProducer(transactionalId);
      await (await producer.transaction()).abort();
      const [fetched] = await admin.fetchOffsets({ groupId, topics: [input] });
      const committed = fetched!.partitions.find((p) => p.partition === partition)!.offset;
      consumer.seek({ topic: input, partition, offset: committed === '-1' ? '0' : committed });
    };
    consumer.on(consumer.events.CRASH, (event) => errors.push(`crash: ${String(event.payload.error)}`));
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        for (let start = 0; start < batch.messages.length; start += recordsPerTransaction) {
          if (!isRunning() || isStale()) return;
          const chunk = batch.messages.slice(start, start + recordsPerTransaction);
          const last = chunk[chunk.length - 1]!;
          const transaction = await producer.transaction();
          try {
            await transaction.send({
              topic: output,
              messages: chunk.map((message) => ({
                partition: outputPartition,
                value: `out-${message.value?.toString()}`,
              })),
            });
            // Killed with this transaction open and its records on it: the new leader must hold
            // them, and the commit's marker goes there; the next transactions write there too.
            if (!killed && processed >= killAfter) {
              killed = true;
              await cluster.kill(victim);
            }
            if (restarted === undefined && processed >= restartAfter) restarted = cluster.restart(victim);
            await transaction.sendOffsets({
              consumerGroupId: groupId,
              topics: [
                {
                  topic: input,
                  partitions: [{ partition: batch.partition, offset: String(Number(last.offset) + 1) }],
                },
              ],
            });
            await transaction.commit();
          } catch (error) {
            // Aborted (or, after a failed commit, committed or aborted by the next producer's
            // InitProducerId), the chunk's records and offsets stand or fall together: it is read
            // again from the group's offsets, which say which.
            failedTransactions++;
            errors.push(String(error));
            await transaction.abort().catch(() => {});
            await recover(batch.partition);
            return;
          }
          transactions++;
          processed += chunk.length;
          resolveOffset(last.offset);
          await heartbeat();
        }
      },
    });
    // Done when the group's committed offsets are each input partition's end (a restarted
    // application would process nothing again); they move only with a committed transaction.
    const ends = Object.fromEntries(
      (await admin.fetchTopicOffsets(input)).map(({ partition, high }) => [String(partition), high]),
    );
    expect(ends).toEqual({ '0': '100', '1': '100', '2': '100' });
    let offsets: Record<string, string> = {};
    await waitFor(
      'the group offsets at the input ends',
      async () => {
        const [fetched] = await admin.fetchOffsets({ groupId, topics: [input] });
        offsets = Object.fromEntries(fetched!.partitions.map((p) => [String(p.partition), p.offset]));
        return JSON.stringify(offsets) === JSON.stringify(ends);
      },
      {
        ...waitOptions,
        detail: () =>
          `offsets ${JSON.stringify(offsets)}; ${processed} processed in ${transactions} transactions (${failedTransactions} failed: ${errors.join('; ')}), victim ${victim} of ${outputPartition} (leaders ${leaders}), coordinators ${transactionCoordinator} ${groupCoordinator}\n${cluster.tail()}`,
      },
    );
    expect(offsets).toEqual(ends);
    await consumer.disconnect();
    await restarted;
    expect(killed).toBe(true);
    expect(restarted).toBeDefined();

    // Every input once in the output, none twice: read_committed, by a new group.
    expect(await consumeAll(output, 'kjs-ctp-reader', false, inputCount)).toEqual(
      inputs.map((value) => `out-${value}`).sort(),
    );
    await admin.disconnect();
  });
});
