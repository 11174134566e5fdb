// The client against three Gregor broker processes: bootstrap past a dead address, a leader killed
// with kill -9 under an idempotent acks=all producer, and a consumer group reading everything that
// was acknowledged. kcat (librdkafka) checks what the log holds.

import { waitFor } from '@gregor/ground/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { KafkaJSSendError } from '../errors.js';
import { Kafka } from '../kafka.js';
import { logLevel } from '../logger.js';
import { murmur2Partition } from '../producer/partitioners.js';
import { BrokerProcesses } from '../testing/broker-processes.js';
import { kcatConsumeAll } from '../testing/kcat.js';

let brokers: BrokerProcesses;

beforeAll(async () => {
  // No 3 s wait for more members before the group's first rebalance (Kafka's test harness sets 0).
  brokers = await BrokerProcesses.start(3, { properties: { 'group.initial.rebalance.delay.ms': '0' } });
});
afterAll(() => brokers?.stop());

it('keeps every acknowledged record through a kill -9 of the leader, bootstrapping past a dead address', async () => {
  const kafka = new Kafka({
    clientId: 'processes-test',
    // A dead address first: bootstrap moves on to the next.
    brokers: ['127.0.0.1:1', ...brokers.bootstrapServers],
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 100, retries: 10 },
  });
  // With only dead addresses, connect() fails with an error that says so.
  const nowhere = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING, retry: { retries: 1 } });
  await expect(nowhere.admin().connect()).rejects.toThrow(/no broker reachable/);

  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'events', numPartitions: 3, replicationFactor: 3 }] });
  const before = (await admin.fetchTopicMetadata({ topics: ['events'] })).topics[0]!.partitions;
  const victim = before[0]!.leader;

  const producer = kafka.producer({ lingerMs: 2 });
  await producer.connect();
  const acknowledged: string[] = [];
  let undelivered = 0;
  let settled = 0;
  const sends: Promise<void>[] = [];
  // The kill comes once the producer has sends acknowledged by the victim's cluster, and right after
  // a send is issued: it lands with sends in flight (counted, not assumed from the pacing).
  const killRound = 15;
  const acknowledgedBeforeKillMin = 5 * 30;
  let inFlightAtKill = 0;
  for (let round = 0; round < 40; round++) {
    if (round === killRound) {
      await waitFor(
        'sends acknowledged before the kill',
        () => acknowledged.length >= acknowledgedBeforeKillMin,
      );
    }
    const values = Array.from({ length: 30 }, (_, index) => `r${round}-${index}`);
    sends.push(
      producer
        .send({ topic: 'events', messages: values.map((value) => ({ key: value, value })) })
        .then(
          () => void acknowledged.push(...values),
          (error: unknown) => {
            expect(error).toBeInstanceOf(KafkaJSSendError);
            undelivered += values.length;
          },
        )
        .finally(() => {
          settled += 1;
        }),
    );
    if (round === killRound) {
      inFlightAtKill = sends.length - settled;
      await brokers.kill(victim);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await Promise.all(sends);
  expect(inFlightAtKill).toBeGreaterThan(0);
  expect(acknowledged.length + undelivered).toBe(1200);
  expect(acknowledged.length).toBeGreaterThan(0);
  const after = (await admin.fetchTopicMetadata({ topics: ['events'] })).topics[0]!.partitions;
  expect(after.every((partition) => partition.leader !== victim)).toBe(true);

  const live = brokers.bootstrapServers.filter((address) => address !== brokers.address(victim)).join(',');
  // A new leader's high watermark catches up with what the old one acknowledged once its followers
  // fetch again: until then readers see less. Wait for the log to show every acknowledged record.
  const inLog = await waitFor(
    'every acknowledged record is readable',
    async () => {
      const values = (await kcatConsumeAll(live, 'events')).map((record) => record.value);
      const present = new Set(values);
      return acknowledged.every((value) => present.has(value)) && values;
    },
    {
      timeoutMs: 60_000,
      // What is missing, per partition, and what the partitions look like: enough to tell a
      // client that acknowledged too early from a log that lost what it acknowledged.
      detail: async () => {
        const present = new Set((await kcatConsumeAll(live, 'events')).map((record) => record.value));
        const missing = acknowledged.filter((value) => !present.has(value));
        const byPartition = new Map<number, string[]>();
        for (const value of missing) {
          const partition = murmur2Partition(value, 3);
          byPartition.set(partition, [...(byPartition.get(partition) ?? []), value]);
        }
        const partitions = (await admin.fetchTopicMetadata({ topics: ['events'] })).topics[0]!.partitions;
        const offsets = await admin.fetchTopicOffsets('events');
        return JSON.stringify({
          victim,
          missing: Object.fromEntries(byPartition),
          partitions: partitions.map(({ partitionId, leader, isr }) => ({ partitionId, leader, isr })),
          before: before.map(({ partitionId, leader, isr }) => ({ partitionId, leader, isr })),
          offsets,
        });
      },
    },
  );
  expect(new Set(inLog).size).toBe(inLog.length);

  const consumer = kafka.consumer({ groupId: 'readers', maxWaitTimeInMs: 200, heartbeatInterval: 300 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'events', fromBeginning: true });
  const read = new Set<string>();
  await consumer.run({ eachMessage: async ({ message }) => void read.add(String(message.value)) });
  await waitFor('the group reads everything in the log', () => read.size >= inLog.length, {
    timeoutMs: 60_000,
  });
  expect([...read].sort()).toEqual([...inLog].sort());
  await consumer.disconnect();
  await producer.disconnect();
  await admin.disconnect();
});
