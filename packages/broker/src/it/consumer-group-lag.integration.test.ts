// kafka_consumergroup_lag on real broker processes (three nodes, gregor.metrics.port=0) for
// partitions the group's coordinator holds no replica of. A topic of three RF1 partitions, one on
// each node (manual assignment), gets a different number of records per partition; a group commits
// offset k on each. The coordinator (FindCoordinator) reports the lag of every partition, each the
// partition's high watermark minus k, asking the leaders it does not share a replica with over the
// nodes' gRPC; no other node reports the group. Then the leader of a partition hosted elsewhere is
// frozen (SIGSTOP: its sockets stay open and nothing answers) and then killed: the coordinator's
// scrape still answers, with that partition's lag left out (its committed offset still there) and
// the other partitions' lag unchanged, never a stale value. Every wait polls, bounded.

import { ApiKey, KafkaConnection } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';
import { ErrorCode } from '@gregor/protocol';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';

const topic = 'spread';
const groupId = 'lag-across-nodes';
/** Partition p lives on node p + 1 alone. */
const partitionCount = 3;
const recordsOf = (partition: number) => 20 + 10 * partition;
const committedOffset = 5;
/**
 * A scrape that has not answered by then waits on the frozen node: the lag's per-leader deadline
 * is 2 s, the rest is slack for a loaded machine. A hang detector, not a speed figure.
 */
const scrapeAnswerMsMax = 8_000;
const waitOptions = { timeoutMs: 60_000, intervalMs: 200, detail: () => cluster.tail(20) };

let cluster: ProcessCluster;
let kafka: Kafka;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      'gregor.metrics.port': '0',
      'offsets.topic.num.partitions': '3',
      'offsets.topic.replication.factor': '3',
    },
  });
  kafka = new Kafka({
    clientId: 'lag-it',
    brokers: cluster.bootstrap.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 1000 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [
        {
          topic,
          replicaAssignment: Array.from({ length: partitionCount }, (_, partition) => ({
            partition,
            replicas: [partition + 1],
          })),
        },
      ],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
});

afterAll(async () => {
  await cluster?.close();
});

interface Scrape {
  /** Sample values by `name|topic|partition` of the group's series. */
  readonly samples: Map<string, number>;
}

/** The consumer-group samples of one node's /metrics; rejects when it does not answer in time. */
async function scrape(nodeId: number): Promise<Scrape> {
  const response = await fetch(`http://127.0.0.1:${cluster.node(nodeId).metricsPort}/metrics`, {
    signal: AbortSignal.timeout(scrapeAnswerMsMax),
  });
  expect(response.status).toBe(200);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    const match = /^(kafka_consumergroup_(?:lag|current_offset))\{([^}]*)\} (\S+)$/.exec(line);
    if (match === null) continue;
    const labels = new Map([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((pair) => [pair[1]!, pair[2]!]));
    if (labels.get('consumergroup') !== groupId) continue;
    samples.set(`${match[1]}|${labels.get('topic')}|${labels.get('partition')}`, Number(match[3]));
  }
  return { samples };
}

const lagOf = (scraped: Scrape, partition: number) =>
  scraped.samples.get(`kafka_consumergroup_lag|${topic}|${partition}`);
const committedOf = (scraped: Scrape, partition: number) =>
  scraped.samples.get(`kafka_consumergroup_current_offset|${topic}|${partition}`);

async function coordinatorId(): Promise<number> {
  return waitFor(
    'the group coordinator',
    async () => {
      const connection = await KafkaConnection.open({ host: '127.0.0.1', port: cluster.node(1).kafkaPort });
      try {
        const found = await connection.call(ApiKey.FindCoordinator, 2, { key: groupId, keyType: 0 });
        return found.errorCode === ErrorCode.NONE ? found.nodeId : undefined;
      } finally {
        connection.close();
      }
    },
    waitOptions,
  );
}

describe('consumer-group lag across nodes', () => {
  it('reports the lag of partitions led elsewhere, and leaves out one whose leader is frozen or dead', async () => {
    // Idempotent: a send retried after its append (a retriable error from a leader whose lease
    // lapsed on a loaded machine) must not leave a second copy: the ends below are exact.
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      for (let partition = 0; partition < partitionCount; partition++) {
        await producer.send({
          topic,
          acks: -1,
          messages: Array.from({ length: recordsOf(partition) }, (_, index) => ({
            partition,
            value: `record-${partition}-${index}`,
          })),
        });
      }
    } finally {
      await producer.disconnect();
    }
    const admin = kafka.admin();
    await admin.connect();
    try {
      const ends = await admin.fetchTopicOffsets(topic);
      for (const end of ends) expect(Number(end.high)).toBe(recordsOf(end.partition));
      await admin.setOffsets({
        groupId,
        topic,
        partitions: Array.from({ length: partitionCount }, (_, partition) => ({
          partition,
          offset: String(committedOffset),
        })),
      });
    } finally {
      await admin.disconnect();
    }

    const coordinator = await coordinatorId();
    const hostedElsewhere = Array.from({ length: partitionCount }, (_, partition) => partition).filter(
      (partition) => partition + 1 !== coordinator,
    );
    expect(hostedElsewhere).toHaveLength(2);
    const expectedLag = (partition: number) => recordsOf(partition) - committedOffset;

    // Every partition's lag, those led by the two other nodes included.
    const full = await waitFor(
      `the coordinator (node ${coordinator}) to report the lag of every partition`,
      async () => {
        const scraped = await scrape(coordinator);
        for (let partition = 0; partition < partitionCount; partition++)
          if (lagOf(scraped, partition) !== expectedLag(partition)) return undefined;
        return scraped;
      },
      waitOptions,
    );
    for (let partition = 0; partition < partitionCount; partition++)
      expect(committedOf(full, partition)).toBe(committedOffset);
    // Only the coordinator reports the group.
    for (const node of cluster.nodes.filter((candidate) => candidate.id !== coordinator))
      expect((await scrape(node.id)).samples.size).toBe(0);

    // The leader of a partition hosted elsewhere stops answering, with its connections still open.
    const victimPartition = hostedElsewhere[0]!;
    const victim = victimPartition + 1;
    const survivingPartitions = [...Array(partitionCount).keys()].filter((p) => p !== victimPartition);
    const expectOmitted = (scraped: Scrape, when: string) => {
      expect(
        lagOf(scraped, victimPartition),
        `the lag of partition ${victimPartition} ${when}`,
      ).toBeUndefined();
      expect(committedOf(scraped, victimPartition)).toBe(committedOffset);
      for (const partition of survivingPartitions)
        expect(lagOf(scraped, partition), `the lag of partition ${partition} ${when}`).toBe(
          expectedLag(partition),
        );
    };
    // While a node is frozen or dead the others may go a moment without an answered heartbeat (it
    // may have been the active controller), and a broker without one stops acting as leader, the
    // coordinator included: judge a scrape taken once the coordinator reports the group again.
    const scrapeWhileCoordinating = (when: string) =>
      waitFor(
        `the coordinator (node ${coordinator}) to report the group ${when}`,
        async () => {
          const scraped = await scrape(coordinator);
          return committedOf(scraped, victimPartition) !== undefined &&
            survivingPartitions.every((partition) => lagOf(scraped, partition) !== undefined)
            ? scraped
            : undefined;
        },
        waitOptions,
      );
    expect(cluster.node(victim).process?.kill('SIGSTOP')).toBe(true);
    try {
      expectOmitted(await scrape(coordinator), `with its leader (node ${victim}) frozen`);
    } finally {
      // SIGKILL ends a stopped process too.
      await cluster.kill(victim);
    }
    const dead = `with its leader (node ${victim}) dead`;
    expectOmitted(await scrapeWhileCoordinating(dead), dead);
    // Still left out once the controller has noticed: fenced, the partition has no leader.
    await waitFor(
      `partition ${victimPartition} to have no leader`,
      async () => {
        const connection = await KafkaConnection.open({
          host: '127.0.0.1',
          port: cluster.node(coordinator).kafkaPort,
        });
        try {
          const metadata = await connection.call(ApiKey.Metadata, 1, { topics: [{ name: topic }] });
          const state = metadata.topics[0]?.partitions.find((p) => p.partitionIndex === victimPartition);
          return state !== undefined && state.leaderId < 0;
        } finally {
          connection.close();
        }
      },
      waitOptions,
    );
    expectOmitted(await scrapeWhileCoordinating('with no leader'), 'with no leader');
  });
});
