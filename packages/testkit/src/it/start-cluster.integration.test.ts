// startCluster() as a Node project would use it, with kafkajs 2.2.4: three nodes in this process;
// a topic produced with acks=all and read back by a consumer group; the leader of a partition
// killed, a new leader elected from the ISR while the producer carries on; the node restarted on its
// data, caught up and back in every ISR; stop() removing (or keeping) the data. Several nodes in one
// process must not touch process-wide state: no process warnings, no signal handlers, and a node
// whose storage fails is killed without exiting the process.

import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { waitFor } from '@gregor/ground/testing';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../index.js';

const clusters: TestCluster[] = [];

afterEach(async () => {
  for (const cluster of clusters.splice(0)) await cluster.stop().catch(() => undefined);
});

/** The waits below: their bound and how often they probe. */
const waits = { timeoutMs: 30_000, intervalMs: 100 };

function connectTo(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

function kafkaFor(cluster: TestCluster): Kafka {
  return new Kafka({
    clientId: 'testkit-it',
    brokers: cluster.bootstrapServers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

describe('startCluster', () => {
  it('three in-process nodes: produce and consume, kill the leader, a new one is elected, restart rejoins', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const signalListenersBefore = ['SIGTERM', 'SIGINT', 'SIGHUP'].map((s) => process.listenerCount(s));
    try {
      const cluster = await startCluster({ brokers: 3 });
      clusters.push(cluster);
      expect(cluster.brokers.map((broker) => broker.id)).toEqual([1, 2, 3]);
      expect(cluster.bootstrapServers).toEqual(cluster.brokers.map((b) => `${b.host}:${b.port}`));
      expect(new Set(cluster.brokers.map((broker) => broker.port)).size).toBe(3);

      const kafka = kafkaFor(cluster);
      const admin = kafka.admin();
      await admin.connect();
      const topic = 'orders';
      await admin.createTopics({
        topics: [{ topic, numPartitions: 3, replicationFactor: 3 }],
        waitForLeaders: true,
      });
      const producer = kafka.producer({
        allowAutoTopicCreation: false,
        idempotent: true,
        maxInFlightRequests: 1,
      });
      await producer.connect();
      const sent: string[] = [];
      const produce = async (count: number) => {
        const values = Array.from({ length: count }, () => `order-${sent.length + Math.random()}`);
        await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value })) });
        sent.push(...values);
      };
      await produce(30);

      const partitionsOf = async () =>
        (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions;
      const before = (await partitionsOf()).find((p) => p.partitionId === 0)!;
      const victim = before.leader;
      const victimPort = cluster.brokers.find((broker) => broker.id === victim)!.port;
      await cluster.kill(victim);
      expect(cluster.isRunning(victim)).toBe(false);
      // Gone from the network, as a killed process is: its port refuses connections.
      await expect(connectTo(victimPort)).rejects.toThrow(/ECONNREFUSED/);
      // A new leader for partition 0, from its ISR, on a node that still runs.
      const after = await waitFor(
        'a new leader of partition 0',
        async () => {
          const partition = (await partitionsOf()).find((p) => p.partitionId === 0);
          return partition !== undefined && partition.leader !== victim && partition.leader >= 0
            ? partition
            : undefined;
        },
        waits,
      );
      expect(before.isr).toContain(after.leader);
      expect(cluster.isRunning(after.leader)).toBe(true);
      // acks=all still acknowledged with two of three replicas (min.insync.replicas=2).
      await produce(30);

      await cluster.restart(victim);
      expect(cluster.isRunning(victim)).toBe(true);
      expect(cluster.brokers.find((broker) => broker.id === victim)!.port).toBe(victimPort);
      // Caught up with what was written while it was down: back in every ISR.
      await waitFor(
        `node ${victim} back in every ISR`,
        async () => ((await partitionsOf()).every((p) => p.isr.includes(victim)) ? true : undefined),
        waits,
      );
      // Clients that bootstrapped before the restart still reach it (same port).
      await produce(30);

      // Polled until it read everything: a fetch then waits at the broker, and disconnect waits for it.
      const consumer = kafka.consumer({ groupId: 'order-readers', maxWaitTimeInMs: 100 });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const consumed: string[] = [];
      await consumer.run({
        eachMessage: async ({ message }) => {
          consumed.push(message.value!.toString());
        },
      });
      await waitFor(
        'every record consumed',
        async () => (consumed.length >= sent.length ? true : undefined),
        waits,
      );
      await consumer.disconnect();
      expect([...consumed].sort()).toEqual([...sent].sort());

      await producer.disconnect();
      await admin.disconnect();
      const { dataDir } = cluster;
      await cluster.stop();
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((warning) => `${warning.name}: ${warning.message}`)).toEqual([]);
    expect(['SIGTERM', 'SIGINT', 'SIGHUP'].map((s) => process.listenerCount(s))).toEqual(
      signalListenersBefore,
    );
  }, 120_000);

  it('a node whose storage fails is killed; the process and the other nodes carry on', async () => {
    const cluster = await startCluster({
      brokers: 3,
      // The high-watermark checkpoint is the write that finds the failure here: soon, not in 5 s.
      properties: { 'replica.high.watermark.checkpoint.interval.ms': '100' },
    });
    clusters.push(cluster);
    const kafka = kafkaFor(cluster);
    const admin = kafka.admin();
    await admin.connect();
    const topic = 'before-failure';
    await admin.createTopics({
      topics: [{ topic, numPartitions: 3, replicationFactor: 3 }],
      waitForLeaders: true,
    });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: 'before' }] });
    // Node 2's only log dir is replaced by a file: its next checkpoint write fails, every log dir
    // of the node is offline, and a node in a process of its own would exit(1).
    const logDir = join(cluster.dataDir, 'node-2', 'logs');
    rmSync(logDir, { recursive: true, force: true });
    writeFileSync(logDir, 'not a directory');
    await waitFor('node 2 halted', async () => (cluster.isRunning(2) ? undefined : true), waits);
    expect(cluster.isRunning(1)).toBe(true);
    expect(cluster.isRunning(3)).toBe(true);
    await waitFor(
      'acks=all acknowledged by the two others',
      async () => {
        const [answer] = await producer.send({ topic, acks: -1, messages: [{ value: 'still here' }] });
        return answer?.errorCode === 0 ? true : undefined;
      },
      waits,
    );
    await producer.disconnect();
    await admin.disconnect();
  }, 120_000);

  it('stop({ keepData: true }) keeps the data directory', async () => {
    const cluster = await startCluster({ brokers: 1 });
    await cluster.stop({ keepData: true });
    try {
      expect(existsSync(join(cluster.dataDir, 'node-1', 'logs', 'meta.properties'))).toBe(true);
      // A controlled shutdown: the logs were closed cleanly.
      expect(existsSync(join(cluster.dataDir, 'node-1', 'logs', '.kafka_cleanshutdown'))).toBe(true);
    } finally {
      rmSync(cluster.dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
