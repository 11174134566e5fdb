// DeleteRecords against three broker processes with kafkajs 2.2.4's admin.deleteTopicRecords: the
// answer comes once every in-sync replica moved its log start offset (each node's
// log-start-offset-checkpoint says so), a new leader after kill -9 of the old one answers
// ListOffsets earliest with the deleted-to offset, a consumer from the beginning starts there, and
// a restart of the whole cluster (every node killed) keeps it.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';
import { RawClusterClient } from '../testing/raw-cluster-client.js';

const topic = 'deletable';
const recordCount = 10;
const deleteBelow = 6;

let cluster: ProcessCluster;
let client: RawClusterClient;

const waitOptions: WaitForOptions = { timeoutMs: 60_000, intervalMs: 100, detail: () => cluster.tail(40) };

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      'auto.create.topics.enable': 'false',
      'broker.session.timeout.ms': '3000',
      'broker.heartbeat.interval.ms': '500',
      // A consumer group alone in its group: no need for Kafka's 3 s wait for more members.
      'group.initial.rebalance.delay.ms': '0',
    },
  });
  client = new RawClusterClient(cluster);
});

afterAll(async () => {
  client?.close();
  await cluster?.close();
});

function kafka(): Kafka {
  return new Kafka({
    clientId: 'delete-records-it',
    brokers: cluster.bootstrap.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 200 },
  });
}

/** The log start offset of the topic's partition 0 in `nodeId`'s log-start-offset-checkpoint. */
function checkpointedLogStart(nodeId: number): number | undefined {
  const path = join(cluster.node(nodeId).logDir, 'log-start-offset-checkpoint');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const line = text.split('\n').find((entry) => entry.startsWith(`${topic} 0 `));
  return line === undefined ? undefined : Number(line.split(' ')[2]);
}

async function lowWatermark(): Promise<string> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchTopicOffsets(topic);
    return offsets!.low;
  } finally {
    await admin.disconnect();
  }
}

async function firstOffsetFromTheBeginning(groupId: string): Promise<string> {
  // A short fetch wait: disconnect waits for the fetch in flight, which finds nothing more to read.
  const consumer = kafka().consumer({ groupId, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let first: string | undefined;
    await consumer.run({
      eachMessage: async ({ message }) => {
        first ??= message.offset;
      },
    });
    return await waitFor('the first consumed record', async () => first, waitOptions);
  } finally {
    await consumer.disconnect();
  }
}

/**
 * The partition's leader as every running node sees it, once they agree (the leader itself
 * included): a client that asks any of them is sent to a node that answers as the leader.
 */
async function agreedView(): Promise<{ leaderId: number; isr: readonly number[] } | undefined> {
  const running = cluster.nodes.filter((node) => node.process !== undefined).map((node) => node.id);
  const views = await Promise.all(running.map((id) => client.partition(topic, 0, [id])));
  const first = views[0];
  if (first === undefined || first.leaderId < 0) return undefined;
  const agreed = views.every(
    (view) =>
      view !== undefined && view.leaderId === first.leaderId && view.leaderEpoch === first.leaderEpoch,
  );
  return agreed ? first : undefined;
}

async function leaderWithFullIsr(): Promise<number> {
  return waitFor(
    'a leader with an ISR of 3',
    async () => {
      const view = await agreedView();
      return view !== undefined && view.isr.length === 3 ? view.leaderId : undefined;
    },
    waitOptions,
  );
}

describe('DeleteRecords on a replicated topic', () => {
  it('moves every replica, survives the leader and a restart, and consumers start there', async () => {
    const admin = kafka().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3 }] });
    const producer = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let i = 0; i < recordCount; i++) {
      await producer.send({ topic, acks: -1, messages: [{ value: `v${i}` }] });
    }
    await producer.disconnect();
    const leaderId = await leaderWithFullIsr();
    // kafkajs looks the leaders up in the metadata it already has: fetch the topic's first.
    await admin.fetchTopicMetadata({ topics: [topic] });

    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: String(deleteBelow) }] });
    // Answered only once every in-sync replica has it: each node's checkpoint already says so.
    for (const node of cluster.nodes) expect(checkpointedLogStart(node.id)).toBe(deleteBelow);
    const [offsets] = await admin.fetchTopicOffsets(topic);
    expect(offsets).toMatchObject({ low: String(deleteBelow), high: String(recordCount) });
    // Above the high watermark: refused, nothing moves.
    await expect(
      admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: String(recordCount + 1) }] }),
    ).rejects.toThrow();
    await admin.disconnect();

    await cluster.kill(leaderId);
    await waitFor(
      'a new leader',
      async () => {
        const view = await agreedView();
        return view !== undefined && view.leaderId !== leaderId ? true : undefined;
      },
      waitOptions,
    );
    expect(await lowWatermark()).toBe(String(deleteBelow));
    expect(await firstOffsetFromTheBeginning('from-the-start-1')).toBe(String(deleteBelow));

    // Every node down at once (kill -9: the log start offset was durable before the answer), then up.
    for (const node of cluster.nodes) await cluster.kill(node.id);
    for (const node of cluster.nodes) await cluster.restart(node.id);
    client.close();
    client = new RawClusterClient(cluster);
    await cluster.waitReady();
    await leaderWithFullIsr();
    expect(await lowWatermark()).toBe(String(deleteBelow));
    expect(await firstOffsetFromTheBeginning('from-the-start-2')).toBe(String(deleteBelow));
  });
});
