// kafkajs 2.2.4 consumer groups against a three-node cluster of broker processes: three consumers
// of one group share a 6-partition topic (two partitions each); one leaves and the other two take
// its partitions; then everyone stops, more records arrive, and three new consumers resume from the
// committed offsets: every record is consumed, and none twice (everything consumed was committed
// when the consumers stopped, so nothing may come back).

import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { type Consumer, Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';

const topic = 'shared-orders';
const groupId = 'order-processors';
const partitionCount = 6;
const recordsPerRound = 300;
/** Bounded waits for the group to settle and records to arrive (they normally take a few seconds). */
const settleWaitMs = 60_000;
const pollIntervalMs = 100;

let cluster: ProcessCluster;
let kafka: Kafka;
let producer: Producer;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      'offsets.topic.num.partitions': '10',
      'offsets.topic.replication.factor': '1',
      'group.initial.rebalance.delay.ms': '500',
    },
  });
  kafka = new Kafka({
    clientId: 'groups-it',
    brokers: cluster.bootstrap.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitionCount, replicationFactor: 1 }] });
  await admin.disconnect();
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect();
  await cluster?.close();
});

const waitOptions: WaitForOptions = {
  timeoutMs: settleWaitMs,
  intervalMs: pollIntervalMs,
  detail: () => cluster.tail(),
};

let nextValue = 0;
/** Produces `count` records spread over every partition; returns their values. */
async function produceRound(count: number): Promise<string[]> {
  const values = Array.from({ length: count }, () => `record-${nextValue++}`);
  await producer.send({
    topic,
    acks: -1,
    messages: values.map((value, index) => ({ value, partition: index % partitionCount })),
  });
  return values;
}

interface GroupMember {
  readonly name: string;
  readonly consumer: Consumer;
  /** Partitions of the latest assignment this member received. */
  assigned: number[];
}

/** Every value consumed by anyone, with how many times. */
const consumedCount = new Map<string, number>();

async function startMember(name: string): Promise<GroupMember> {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 200,
  });
  const member: GroupMember = { name, consumer, assigned: [] };
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    member.assigned = [...(event.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
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
  return member;
}

function allConsumed(values: readonly string[]): boolean {
  return values.every((value) => consumedCount.has(value));
}

/** Each member holds `sizes` partitions and together they hold all six, once. */
function balanced(members: readonly GroupMember[], partitionsEach: number): boolean {
  const all = members.flatMap((member) => member.assigned).sort((a, b) => a - b);
  return (
    members.every((member) => member.assigned.length === partitionsEach) &&
    all.join(',') === Array.from({ length: partitionCount }, (_, i) => i).join(',')
  );
}

describe('kafkajs consumer group', () => {
  it('shares partitions among three members, rebalances when one leaves, and resumes from committed offsets', async () => {
    const firstRound = await produceRound(recordsPerRound);
    const members = [await startMember('a'), await startMember('b'), await startMember('c')];
    await waitFor('three members with two partitions each', () => balanced(members, 2), waitOptions);
    await waitFor('the first round consumed', () => allConsumed(firstRound), waitOptions);

    // One member leaves (LeaveGroup): the other two take its partitions.
    const leaving = members.pop()!;
    await leaving.consumer.disconnect();
    await waitFor('two members with three partitions each', () => balanced(members, 3), waitOptions);
    const secondRound = await produceRound(recordsPerRound);
    await waitFor('the second round consumed', () => allConsumed(secondRound), waitOptions);

    // Everyone stops (kafkajs commits what it consumed when it stops); more records arrive.
    for (const member of members) await member.consumer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    const endByPartition = new Map(ends.map((end) => [end.partition, end.offset]));
    expect(
      committed[0]!.partitions
        .map((p) => [p.partition, p.offset])
        .sort((a, b) => Number(a[0]) - Number(b[0])),
    ).toEqual([...endByPartition].sort((a, b) => a[0] - b[0]));
    const thirdRound = await produceRound(recordsPerRound);

    const restarted = [await startMember('d'), await startMember('e'), await startMember('f')];
    await waitFor('the restarted group balanced', () => balanced(restarted, 2), waitOptions);
    await waitFor('the third round consumed', () => allConsumed(thirdRound), waitOptions);
    for (const member of restarted) await member.consumer.disconnect();

    const everything = [...firstRound, ...secondRound, ...thirdRound];
    expect(everything.filter((value) => consumedCount.get(value) !== 1)).toEqual([]);
    expect(consumedCount.size).toBe(everything.length);
  });
});
