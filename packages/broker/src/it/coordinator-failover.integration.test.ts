// kill -9 of the group coordinator's broker in the middle of consumption, with `__consumer_offsets`
// replicated three ways: the controller moves the offsets partition to a surviving replica, which
// loads the group's offsets from its copy of the log; the kafkajs consumers find the new
// coordinator and go on. Every offset committed (acknowledged once replicated) before the kill is
// still there after it: no record consumed and committed before the kill is consumed again.

import { ApiKey, KafkaConnection } from '@gregor/client';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { ErrorCode } from '@gregor/protocol';
import { type Consumer, Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';

const topic = 'failover-orders';
const groupId = 'failover-group';
const partitionCount = 6;
const recordsPerRound = 300;
/** Bounds on waits for consumption, commits and failover (they normally take a few seconds). */
const settleWaitMs = 90_000;
const pollIntervalMs = 200;
/** The second round arrives in batches of this many records, this far apart. */
const slowBatchRecords = 12;
const slowBatchPauseMs = 100;

let cluster: ProcessCluster;
let kafka: Kafka;
let producer: Producer;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      'offsets.topic.num.partitions': '10',
      'offsets.topic.replication.factor': '3',
      'group.initial.rebalance.delay.ms': '500',
      'replica.lag.time.max.ms': '3000',
    },
  });
  kafka = new Kafka({
    clientId: 'failover-it',
    brokers: cluster.bootstrap.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 1000 },
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitionCount, replicationFactor: 3 }] });
  await admin.disconnect();
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect();
  await cluster?.close();
});

/** What a wait that gives up reports: `extra`, the consumer's events and the cluster's log tail. */
function failoverDetail(extra: () => Promise<string> = async () => ''): () => Promise<string> {
  return async () =>
    `${await extra()}; consumer events: ${consumerEvents.join('; ') || 'none'}\n${cluster.tail()}`;
}
const waitOptions: WaitForOptions = {
  timeoutMs: settleWaitMs,
  intervalMs: pollIntervalMs,
  detail: failoverDetail(),
};

let nextValue = 0;
function nextValues(count: number): string[] {
  return Array.from({ length: count }, () => `record-${nextValue++}`);
}

async function send(values: readonly string[]): Promise<void> {
  await producer.send({
    topic,
    acks: -1,
    messages: values.map((value, index) => ({ value, partition: index % partitionCount })),
  });
}

/** Sends `values` in small batches with pauses, so consumption is going on while they arrive. */
async function sendSlowly(values: readonly string[]): Promise<void> {
  for (let start = 0; start < values.length; start += slowBatchRecords) {
    await send(values.slice(start, start + slowBatchRecords));
    await new Promise((resolve) => setTimeout(resolve, slowBatchPauseMs));
  }
}

const consumedCount = new Map<string, number>();
/** What the consumers reported going wrong (crashes, with kafkajs's error), for a failure message. */
const consumerEvents: string[] = [];

async function startConsumer(): Promise<Consumer> {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 200,
  });
  consumer.on(consumer.events.CRASH, (event) => {
    consumerEvents.push(`crash (restart: ${event.payload.restart}): ${String(event.payload.error)}`);
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommitInterval: 200,
    eachMessage: async ({ message }) => {
      const value = message.value?.toString() ?? '';
      consumedCount.set(value, (consumedCount.get(value) ?? 0) + 1);
    },
  });
  return consumer;
}

/** Committed offset per partition (-1 for none), asked of a broker that is alive. */
async function committedOffsets(): Promise<number[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return [...fetched!.partitions]
      .sort((a, b) => a.partition - b.partition)
      .map((partition) => Number(partition.offset));
  } finally {
    await admin.disconnect();
  }
}

async function endOffsets(): Promise<number[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    return [...ends].sort((a, b) => a.partition - b.partition).map((end) => Number(end.offset));
  } finally {
    await admin.disconnect();
  }
}

async function coordinatorId(askNode: number): Promise<number> {
  const connection = await KafkaConnection.open({ host: '127.0.0.1', port: cluster.node(askNode).kafkaPort });
  try {
    const found = await connection.call(ApiKey.FindCoordinator, 2, { key: groupId, keyType: 0 });
    return found.errorCode === ErrorCode.NONE ? found.nodeId : -1;
  } finally {
    connection.close();
  }
}

describe('coordinator failover', () => {
  it('after kill -9 of the coordinator the group finds the new one, keeps every committed offset and goes on', async () => {
    const firstRound = nextValues(recordsPerRound);
    await send(firstRound);
    const consumers = [await startConsumer(), await startConsumer()];
    await waitFor(
      'the first round consumed',
      () => firstRound.every((value) => consumedCount.has(value)),
      waitOptions,
    );
    const firstEnds = await endOffsets();
    await waitFor(
      'the first round committed',
      async () => (await committedOffsets()).join() === firstEnds.join(),
      waitOptions,
    );

    // The second round starts arriving; once its consumption is under way, the coordinator dies.
    const secondRound = nextValues(recordsPerRound);
    const sending = sendSlowly(secondRound);
    await waitFor(
      'the second round being consumed',
      () => secondRound.filter((value) => consumedCount.has(value)).length >= 24,
      waitOptions,
    );
    const committedBeforeKill = await committedOffsets();
    const victim = await coordinatorId(1);
    expect(victim).toBeGreaterThan(0);
    await cluster.kill(victim);
    const survivor = cluster.nodes.find((node) => node.id !== victim)!.id;
    await waitFor(
      'a new coordinator',
      async () => {
        const id = await coordinatorId(survivor).catch(() => -1);
        return id > 0 && id !== victim;
      },
      waitOptions,
    );

    // Nothing committed was lost: the new coordinator loaded the replicated commits.
    const afterFailover = await committedOffsets();
    expect(afterFailover.every((offset, partition) => offset >= committedBeforeKill[partition]!)).toBe(true);

    // Consumption goes on to the end of every partition, and the new coordinator stores the commits.
    // (This checks the log as it is, not every value sent: an acks=all record lost by the data
    // partitions' own failover is the replication tests' concern, not the group's.)
    await sending;
    const secondEnds = await endOffsets();
    await waitFor(
      'the second round consumed and committed',
      async () => (await committedOffsets()).join() === secondEnds.join(),
      {
        ...waitOptions,
        detail: failoverDetail(
          async () =>
            `end offsets ${secondEnds.join(',')}; committed ${(await committedOffsets()).join(',')}`,
        ),
      },
    );
    const consumedSecond = secondRound.filter((value) => consumedCount.has(value)).length;
    const writtenSecond = secondEnds.reduce((sum, end, partition) => sum + end - firstEnds[partition]!, 0);
    expect(consumedSecond).toBeGreaterThanOrEqual(Math.min(writtenSecond, secondRound.length));
    for (const consumer of consumers) await consumer.disconnect();

    // What was committed before the kill is never consumed again.
    expect(firstRound.filter((value) => consumedCount.get(value) !== 1)).toEqual([]);
  });
});
