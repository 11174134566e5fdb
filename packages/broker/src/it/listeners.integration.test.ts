// Two Kafka listeners on real broker processes, as in a compose file: PLAINTEXT for clients on the
// containers' network and PLAINTEXT_HOST for clients on the host. Here they are two loopback
// addresses, 127.0.0.1 and 127.0.0.2, so an endpoint of the wrong listener is visible in every
// answer. Brokers 1 and 2 have both; broker 3 has PLAINTEXT only. A client that came in on a
// listener must be sent every broker's endpoint of that listener (kcat then follows them to produce
// and consume), broker 3 is left out of the PLAINTEXT_HOST view, a partition it leads is
// LISTENER_NOT_FOUND there (Metadata v6+; LEADER_NOT_AVAILABLE before), and a group it coordinates
// is COORDINATOR_NOT_AVAILABLE, as Kafka answers.

import { execFileSync } from 'node:child_process';
import { KafkaConnection } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';
import { coordinatorPartitionFor } from '@gregor/group';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';

const kcatTimeoutMs = 30_000;
const internalHost = '127.0.0.1';
const hostHost = '127.0.0.2';
const offsetsPartitions = 3;
const topic = 'two-listeners';

let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT',
      'offsets.topic.num.partitions': String(offsetsPartitions),
      'offsets.topic.replication.factor': '1',
    },
    nodeProperties: (nodeId): Record<string, string> =>
      nodeId === 3
        ? { listeners: `PLAINTEXT://${internalHost}:0,CONTROLLER://${internalHost}:0` }
        : {
            listeners: `PLAINTEXT://${internalHost}:0,PLAINTEXT_HOST://${hostHost}:0,CONTROLLER://${internalHost}:0`,
            // Port 0 advertises the port the listener bound.
            'advertised.listeners': `PLAINTEXT://${internalHost}:0,PLAINTEXT_HOST://${hostHost}:0`,
          },
  });
});

afterAll(async () => {
  await cluster?.close();
});

function hostPort(nodeId: number): number {
  const port = cluster.node(nodeId).listenerPorts.PLAINTEXT_HOST;
  if (port === undefined) throw new Error(`node ${nodeId} has no PLAINTEXT_HOST listener`);
  return port;
}

function kcat(bootstrap: string, args: readonly string[], input?: string): string {
  return execFileSync('kcat', ['-b', bootstrap, ...args], {
    input,
    timeout: kcatTimeoutMs,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

interface KcatMetadata {
  brokers: { id: number; name: string }[];
}

function brokersSeenThrough(bootstrap: string): string[] {
  const metadata = JSON.parse(kcat(bootstrap, ['-L', '-J'])) as KcatMetadata;
  return metadata.brokers
    .sort((a, b) => a.id - b.id)
    .map((broker) => `${broker.id}=${broker.name.replace(/\/\d+$/, '')}`);
}

async function withConnection<T>(
  host: string,
  port: number,
  run: (connection: KafkaConnection) => Promise<T>,
): Promise<T> {
  const connection = await KafkaConnection.open({ host, port });
  try {
    return await run(connection);
  } finally {
    connection.close();
  }
}

/** The waits below: ground's default bound, a probe every 200 ms, the cluster's log tail on a timeout. */
const waits = { intervalMs: 200, detail: () => cluster.tail() };

describe('Metadata and FindCoordinator answer with the listener the request came in on', () => {
  let leaders: number[] = [];

  beforeAll(async () => {
    await withConnection(internalHost, cluster.node(1).kafkaPort, async (connection) => {
      const created = await connection.call(ApiKey.CreateTopics, 4, {
        topics: [{ name: topic, numPartitions: 3, replicationFactor: 1, assignments: [], configs: [] }],
        timeoutMs: 10_000,
        validateOnly: false,
      });
      expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
    });
    leaders = await waitFor(
      'a leader for every partition',
      () =>
        withConnection(internalHost, cluster.node(1).kafkaPort, async (connection) => {
          const metadata = await connection.call(ApiKey.Metadata, 1, { topics: [{ name: topic }] });
          const partitions = metadata.topics[0]!.partitions.sort(
            (a, b) => a.partitionIndex - b.partitionIndex,
          );
          return partitions.length === 3 && partitions.every((partition) => partition.leaderId >= 0)
            ? partitions.map((partition) => partition.leaderId)
            : undefined;
        }),
      waits,
    );
    // Round-robin placement over three live brokers: each leads one partition.
    expect([...leaders].sort()).toEqual([1, 2, 3]);
  });

  it('kcat sees every broker at its PLAINTEXT endpoint through PLAINTEXT', () => {
    for (const nodeId of [1, 3]) {
      expect(brokersSeenThrough(`${internalHost}:${cluster.node(nodeId).kafkaPort}`)).toEqual(
        [1, 2, 3].map((id) => `${id}=${internalHost}:${cluster.node(id).kafkaPort}`),
      );
    }
  });

  it('kcat sees brokers 1 and 2 at their PLAINTEXT_HOST endpoints through PLAINTEXT_HOST', () => {
    for (const nodeId of [1, 2]) {
      expect(brokersSeenThrough(`${hostHost}:${hostPort(nodeId)}`)).toEqual(
        [1, 2].map((id) => `${id}=${hostHost}:${hostPort(id)}`),
      );
    }
  });

  it('kcat produces and consumes through PLAINTEXT_HOST, following the advertised endpoints', () => {
    // Bootstrapped from broker 1, to the partition broker 2 leads: kcat must connect to broker 2's
    // PLAINTEXT_HOST endpoint, which only that listener's metadata names.
    const partition = leaders.indexOf(2);
    const bootstrap = `${hostHost}:${hostPort(1)}`;
    const records = ['one', 'two', 'three'];
    kcat(
      bootstrap,
      ['-P', '-t', topic, '-p', String(partition), '-X', 'acks=all'],
      `${records.join('\n')}\n`,
    );
    const consumed = kcat(bootstrap, [
      '-C',
      '-t',
      topic,
      '-p',
      String(partition),
      '-o',
      'beginning',
      '-e',
      '-q',
    ]);
    expect(consumed.trim().split('\n')).toEqual(records);
  });

  it('answers a partition led by a broker without the listener LISTENER_NOT_FOUND (v6+), LEADER_NOT_AVAILABLE (v5)', async () => {
    const led = leaders.indexOf(3);
    for (const [version, missing] of [
      [9, ErrorCode.LISTENER_NOT_FOUND],
      [6, ErrorCode.LISTENER_NOT_FOUND],
      [5, ErrorCode.LEADER_NOT_AVAILABLE],
    ] as const) {
      const metadata = await withConnection(hostHost, hostPort(2), (connection) =>
        connection.call(ApiKey.Metadata, version, {
          topics: [{ name: topic }],
          allowAutoTopicCreation: false,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        }),
      );
      expect(metadata.brokers.map((broker) => broker.nodeId).sort()).toEqual([1, 2]);
      const partitions = metadata.topics[0]!.partitions.sort((a, b) => a.partitionIndex - b.partitionIndex);
      expect(partitions.map((partition) => partition.errorCode)).toEqual(
        leaders.map((_, index) => (index === led ? missing : ErrorCode.NONE)),
      );
      expect(partitions[led]).toMatchObject({ leaderId: -1, offlineReplicas: [3] });
    }
  });

  it('FindCoordinator names the coordinator at its endpoint of the listener, or COORDINATOR_NOT_AVAILABLE', async () => {
    const findOn = (host: string, port: number, groupId: string) =>
      withConnection(host, port, (connection) =>
        connection.call(ApiKey.FindCoordinator, 3, { key: groupId, keyType: 0 }),
      );
    // The first FindCoordinator creates __consumer_offsets; wait until each partition has a leader.
    const offsetsLeaders = await waitFor(
      '__consumer_offsets leaders',
      async () => {
        await findOn(internalHost, cluster.node(1).kafkaPort, 'warm-up');
        return withConnection(internalHost, cluster.node(1).kafkaPort, async (connection) => {
          const metadata = await connection.call(ApiKey.Metadata, 1, {
            topics: [{ name: '__consumer_offsets' }],
          });
          const partitions = (metadata.topics[0]?.partitions ?? []).sort(
            (a, b) => a.partitionIndex - b.partitionIndex,
          );
          return partitions.length === offsetsPartitions &&
            partitions.every((partition) => partition.leaderId >= 0)
            ? partitions.map((partition) => partition.leaderId)
            : undefined;
        });
      },
      waits,
    );
    const groupCoordinatedBy = (nodeId: number): string => {
      for (let index = 0; ; index++) {
        const groupId = `group-${index}`;
        if (offsetsLeaders[coordinatorPartitionFor(groupId, offsetsPartitions)] === nodeId) return groupId;
      }
    };

    for (const coordinatorId of [1, 2]) {
      const groupId = groupCoordinatedBy(coordinatorId);
      const viaHost = await waitFor(
        `coordinator of ${groupId}`,
        async () => {
          const answer = await findOn(hostHost, hostPort(1), groupId);
          return answer.errorCode === ErrorCode.NONE ? answer : undefined;
        },
        waits,
      );
      expect(viaHost).toMatchObject({ nodeId: coordinatorId, host: hostHost, port: hostPort(coordinatorId) });
      const viaInternal = await findOn(internalHost, cluster.node(1).kafkaPort, groupId);
      expect(viaInternal).toMatchObject({
        errorCode: ErrorCode.NONE,
        nodeId: coordinatorId,
        host: internalHost,
        port: cluster.node(coordinatorId).kafkaPort,
      });
    }

    const onBroker3 = groupCoordinatedBy(3);
    expect(await findOn(internalHost, cluster.node(2).kafkaPort, onBroker3)).toMatchObject({
      errorCode: ErrorCode.NONE,
      nodeId: 3,
      host: internalHost,
      port: cluster.node(3).kafkaPort,
    });
    expect(await findOn(hostHost, hostPort(2), onBroker3)).toMatchObject({
      errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE,
      nodeId: -1,
    });
  });
});
