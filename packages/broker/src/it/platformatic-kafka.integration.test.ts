// @platformatic/kafka 1.x (a TypeScript client written without Gregor, with one codec per API
// version, Fetch up to v17 and Metadata up to v12) against a broker process: it picks the highest
// version both sides serve, so it produces, then consumes in a group by topic id with Fetch v17.
// The node's request metrics show the versions it used.

import {
  Admin,
  Consumer,
  MessagesStreamModes,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';

const topic = 'by-platformatic';
const partitionCount = 3;
const recordsPerPartition = 4;

let cluster: ProcessCluster;
let bootstrapBrokers: string[];

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    properties: {
      'gregor.metrics.port': '0',
      'offsets.topic.num.partitions': '1',
      'offsets.topic.replication.factor': '1',
      'group.initial.rebalance.delay.ms': '0',
    },
  });
  bootstrapBrokers = [`127.0.0.1:${cluster.node(1).kafkaPort}`];
});

afterAll(async () => {
  await cluster?.close();
});

/** Requests the node counted, as `<api> v<version>`, for Metadata and Fetch. */
async function requestCounts(): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${cluster.node(1).metricsPort}/metrics`);
  expect(response.status).toBe(200);
  const counts = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    const match =
      /^kafka_network_requestmetrics_requests_total\{request="(Metadata|Fetch)",version="(\d+)"\} (\S+)$/.exec(
        line,
      );
    if (match !== null) counts.set(`${match[1]} v${match[2]}`, Number(match[3]));
  }
  return counts;
}

describe('@platformatic/kafka', () => {
  it('produces and consumes in a group with Fetch v17 by topic id and Metadata v12', async () => {
    const admin = new Admin({ clientId: 'platformatic-admin', bootstrapBrokers });
    try {
      await admin.createTopics({ topics: [topic], partitions: partitionCount, replicas: 1 });
    } finally {
      await admin.close();
    }

    const sent = Array.from({ length: partitionCount }, (_, partition) =>
      Array.from({ length: recordsPerPartition }, (_, index) => ({
        topic,
        partition,
        key: `k${partition}`,
        value: `p${partition}-${index}`,
      })),
    ).flat();
    const producer = new Producer({
      clientId: 'platformatic-producer',
      bootstrapBrokers,
      serializers: stringSerializers,
    });
    try {
      await producer.send({ messages: sent });
    } finally {
      await producer.close();
    }

    const consumer = new Consumer({
      groupId: 'platformatic-group',
      clientId: 'platformatic-consumer',
      bootstrapBrokers,
      deserializers: stringDeserializers,
      maxWaitTime: 500,
    });
    const received: string[] = [];
    try {
      const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST });
      for await (const message of stream) {
        received.push(`${message.partition}:${message.value}`);
        if (received.length === sent.length) break;
      }
      await stream.close();
    } finally {
      await consumer.close(true);
    }
    expect(received.sort()).toEqual(sent.map((record) => `${record.partition}:${record.value}`).sort());

    const counts = await requestCounts();
    expect(counts.get('Metadata v12')).toBeGreaterThan(0);
    expect(counts.get('Fetch v17')).toBeGreaterThan(0);
    expect([...counts.keys()].filter((key) => key.startsWith('Fetch'))).toEqual(['Fetch v17']);
  });
});
