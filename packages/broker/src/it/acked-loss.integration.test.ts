// acks=all with a real client under repeated leader failover: a kafkajs producer (acks -1, not
// idempotent, retries on) sends numbered records to a six-partition, three-way replicated topic
// without pause while brokers that lead partitions (and, in some rounds, the active controller's
// node) are killed with kill -9 and restarted. Every record a broker acknowledged must be in the
// partition's log on its leader at the end, at the offset the acknowledgement named.
//
// "Acknowledged" means: the partition is in the RecordMetadata that producer.send() resolved with,
// with error code 0. Not every value of a resolved send is. kafkajs 2.2.4's sendMessages keys its
// retry state by broker (`responsePerBroker`): when a send to a killed leader fails and the retry's
// fresh metadata puts that leader's partitions on a broker that already answered for other
// partitions of the same send, that broker is skipped, the moved partitions are never sent again,
// and send() resolves without them (tulios/kafkajs#1303 reports the same symptom). Counting every
// value of a resolved send as acknowledged is what made the coordinator-failover test see
// "acks=all records missing after kill -9": those records never reached a surviving broker.

import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';
import { RawClusterClient } from '../testing/raw-cluster-client.js';

const topic = 'acked-loss';
const partitionCount = 6;
const rounds = 4;
/** Records per send, spread over the partitions (one batch per partition per send). */
const recordsPerSend = 12;
const waitTimeoutMs = 30_000;

let cluster: ProcessCluster;
let client: RawClusterClient;
let kafka: Kafka;
let producer: Producer;

const waitOptions: WaitForOptions = {
  timeoutMs: waitTimeoutMs,
  intervalMs: 100,
  detail: () => cluster.tail(40),
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Where the broker said an acknowledged value is. */
interface AckedAt {
  readonly partition: number;
  readonly offset: number;
}

describe('acks=all under kill -9 of leaders and of the controller (kafkajs)', () => {
  beforeAll(async () => {
    cluster = await ProcessCluster.start({
      nodeCount: 3,
      properties: { 'replica.lag.time.max.ms': '3000', 'auto.create.topics.enable': 'false' },
    });
    client = new RawClusterClient(cluster);
    kafka = new Kafka({
      clientId: 'acked-loss-it',
      // A function: a restarted broker listens on a new port (the nodes bind port 0).
      brokers: () => cluster.bootstrap.split(','),
      logLevel: logLevel.NOTHING,
      retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitionCount, replicationFactor: 3 }],
      waitForLeaders: true,
    });
    await admin.disconnect();
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect().catch(() => undefined);
    client?.close();
    await cluster?.close();
  });

  async function leaders(): Promise<number[]> {
    return waitFor(
      'a leader for every partition',
      async () => {
        const views = await Promise.all(
          Array.from({ length: partitionCount }, (_, index) => client.partition(topic, index)),
        );
        if (views.some((view) => view === undefined || view.leaderId < 0)) return undefined;
        return views.map((view) => view!.leaderId);
      },
      waitOptions,
    );
  }

  it('keeps every acknowledged record through repeated leader and controller failover', async () => {
    const acked = new Map<string, AckedAt>();
    /** Values of resolved sends whose partition had no acknowledgement (the kafkajs retry gap). */
    const unanswered: string[] = [];
    let nextValue = 0;
    let producing = true;
    let sendErrors = 0;
    const sending = (async () => {
      while (producing) {
        const values = Array.from({ length: recordsPerSend }, () => `record-${nextValue++}`);
        try {
          const answered = await producer.send({
            topic,
            acks: -1,
            timeout: 10_000,
            messages: values.map((value, index) => ({ value, partition: index % partitionCount })),
          });
          const baseOffsets = new Map<number, number>();
          for (const entry of answered) {
            if (entry.errorCode === 0 && entry.baseOffset !== undefined) {
              baseOffsets.set(entry.partition, Number(entry.baseOffset));
            }
          }
          // kafkajs sends one batch per partition, in message order.
          const positions = new Map<number, number>();
          values.forEach((value, index) => {
            const partition = index % partitionCount;
            const baseOffset = baseOffsets.get(partition);
            const position = positions.get(partition) ?? 0;
            positions.set(partition, position + 1);
            if (baseOffset === undefined) unanswered.push(value);
            else acked.set(value, { partition, offset: baseOffset + position });
          });
        } catch {
          // Not acknowledged: these values may or may not be stored; nothing is claimed for them.
          sendErrors++;
          await sleep(50);
        }
      }
    })();

    /** Waits for the producer to get acknowledgements for more records (it is making progress). */
    const moreAcknowledged = (what: string, count: number) => {
      const before = acked.size;
      return waitFor(what, async () => (acked.size >= before + count ? true : undefined), waitOptions);
    };
    for (let round = 0; round < rounds; round++) {
      await moreAcknowledged(`acknowledgements before round ${round}`, 100);
      const leaderIds = await leaders();
      const controllerId = (await cluster.describe(leaderIds[0]!).catch(() => undefined))?.controllerId ?? -1;
      // Even rounds: the active controller's node when it leads data partitions; otherwise the
      // broker leading the most partitions.
      const counts = new Map<number, number>();
      for (const id of leaderIds) counts.set(id, (counts.get(id) ?? 0) + 1);
      const busiest = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
      const victim = round % 2 === 0 && counts.has(controllerId) ? controllerId : busiest;
      await cluster.kill(victim);
      client.drop(victim);
      // The failover is over: no partition is led by the dead broker, and writes are acknowledged.
      await waitFor(
        `partitions led by others than ${victim}`,
        async () => ((await leaders()).includes(victim) ? undefined : true),
        waitOptions,
      );
      await moreAcknowledged(`acknowledgements after killing ${victim}`, recordsPerSend);
      await cluster.restart(victim);
      await cluster.waitReady();
    }
    await moreAcknowledged('acknowledgements after the last restart', 50);
    producing = false;
    await sending;

    const finalLeaders = await leaders();
    const lost: string[] = [];
    const summary: string[] = [];
    for (let index = 0; index < partitionCount; index++) {
      const read = await waitFor(
        `partition ${index} read from its leader`,
        async () => {
          const leaderId = (await client.partition(topic, index))?.leaderId ?? finalLeaders[index]!;
          const result = await client.readAll(leaderId, topic, index).catch((error: unknown) => {
            client.drop(leaderId);
            throw error;
          });
          return result.errorCode === 0 ? { leaderId, ...result } : undefined;
        },
        waitOptions,
      );
      const valueAt = new Map(read.records.map((record) => [record.offset, record.value]));
      const expected = [...acked.entries()].filter(([, at]) => at.partition === index);
      const missing = expected.filter(([value, at]) => valueAt.get(at.offset) !== value);
      lost.push(...missing.map(([value, at]) => `${value}@${index}:${at.offset}`));
      summary.push(
        `p${index}: leader ${read.leaderId} hw ${read.highWatermark} acked ${expected.length} lost ${missing.length}`,
      );
    }
    expect(acked.size).toBeGreaterThan(rounds * 50);
    expect(
      lost,
      `${summary.join('; ')} (failed sends ${sendErrors}; values of resolved sends without an ` +
        `acknowledgement for their partition: ${unanswered.length})\n${cluster.tail(20)}`,
    ).toEqual([]);
  }, 150_000);
});
