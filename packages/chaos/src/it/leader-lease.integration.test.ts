// The leader lease against real processes: three Gregor nodes on 127.0.1.1-3 (the campaign's own
// LocalCluster and NodeNetwork drivers), one partition leader cut from its peers by iptables while
// clients still reach it. Within a session timeout or so it must refuse Produce with
// NOT_LEADER_OR_FOLLOWER, its Metadata must stop naming it leader or controller, and a
// producer (librdkafka) that was writing to it must find the new leader. Once healed, it
// takes part again.
//
// iptables rules and tmpfs mounts must not touch the machine: the test runs itself again inside
// `unshare --net --mount --pid --fork --kill-child` (as a campaign does, root only), where the
// scenario runs; the outer test passes when that run passes.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { KafkaConnection } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';
import { ApiKey, CompressionType, ErrorCode, encodeRecordBatch } from '@gregor/protocol';
import { expect, it } from 'vitest';
import { kafkaPort } from '../driver/local-cluster.js';
import { nodeAddress } from '../driver/network.js';
import { NamespacedCluster } from '../testing/namespaced-cluster.js';
import { insideNamespaces, itRunsInsideNamespaces } from '../testing/namespaced-test.js';

const thisFile = fileURLToPath(import.meta.url);
const insideVariable = 'GREGOR_LEASE_TEST_INSIDE';
const topic = 'lease';
const nodeCount = 3;

if (!insideNamespaces(insideVariable)) {
  itRunsInsideNamespaces(
    'an isolated leader stops leading within its lease (run inside namespaces of its own)',
    thisFile,
    insideVariable,
    'an isolated leader refuses Produce',
  );
} else {
  it('an isolated leader refuses Produce, names no leader or controller in Metadata, and clients find the new leader', async () => {
    const namespaced = new NamespacedCluster({ name: 'lease', nodeCount, topic, partitions: 3 });
    const { cluster, admin } = namespaced;
    const bootstrapAll = namespaced.brokers.join(',');
    const connections: KafkaConnection[] = [];
    try {
      await namespaced.start();
      const before = await waitFor(
        'every partition led with a full ISR',
        async () => {
          const metadata = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined);
          const partitions = metadata?.topics[0]?.partitions ?? [];
          const whole =
            partitions.length === 3 && partitions.every((p) => p.leader >= 0 && p.isr.length === 3);
          return whole ? metadata : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      const partition = 0;
      const isolated = before!.topics[0]!.partitions.find((p) => p.partitionId === partition)!.leader;

      // A librdkafka producer (Debian's python3-confluent-kafka) that has written to every partition,
      // this one through the leader about to be isolated; it writes again once told, after the cut.
      const producer = spawn(
        '/usr/bin/python3',
        ['-c', producerScript, bootstrapAll, topic, String(partition), '3'],
        {
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      let producerOutput = '';
      producer.stdout.on('data', (chunk: Buffer) => {
        producerOutput += chunk.toString('utf8');
      });
      producer.stderr.on('data', (chunk: Buffer) => {
        producerOutput += chunk.toString('utf8');
      });
      const producerExit = new Promise<number | null>((done) =>
        producer.on('close', (exitCode) => done(exitCode)),
      );
      await waitFor('the producer to write before the cut', () => producerOutput.includes('before ok'), {
        timeoutMs: 60_000,
        intervalMs: 100,
        detail: () => producerOutput,
      });

      // A connection of its own to the isolated node (opened again should it close).
      let directConnection: KafkaConnection | undefined;
      const onDirect = async <T>(use: (connection: KafkaConnection) => Promise<T>): Promise<T> => {
        directConnection ??= await KafkaConnection.open({ host: nodeAddress(isolated), port: kafkaPort });
        const connection = directConnection;
        if (!connections.includes(connection)) connections.push(connection);
        try {
          return await use(connection);
        } catch (error) {
          connection.close();
          directConnection = undefined;
          throw error;
        }
      };
      const produceDirect = async (value: string) => {
        const response = await onDirect((connection) =>
          connection.call(ApiKey.Produce, 8, {
            transactionalId: null,
            acks: 1,
            timeoutMs: 2_000,
            topics: [{ name: topic, partitions: [{ partitionIndex: partition, records: batchOf(value) }] }],
          }),
        );
        return response.responses[0]!.partitions[0]!.errorCode;
      };
      const metadataFrom = (connection: KafkaConnection) =>
        connection.call(ApiKey.Metadata, 9, {
          topics: [{ name: topic }],
          allowAutoTopicCreation: false,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        });
      expect(await produceDirect('direct before the cut')).toBe(ErrorCode.NONE);

      // Cut the leader from every peer, both ways; clients (from 127.0.0.1) still reach it.
      const peers = Array.from({ length: nodeCount }, (_, index) => index + 1).filter((n) => n !== isolated);
      const cutAtMs = performance.now();
      await cluster.cut(peers.flatMap((peer) => [[isolated, peer] as const, [peer, isolated] as const]));

      let refusedAtMs = 0;
      await waitFor(
        'the isolated leader to refuse Produce',
        async () => {
          const errorCode = await produceDirect('direct after the cut');
          if (errorCode !== ErrorCode.NOT_LEADER_OR_FOLLOWER) return false;
          refusedAtMs = performance.now();
          return true;
        },
        { timeoutMs: 30_000, intervalMs: 50 },
      );
      process.stdout.write(
        `an isolated leader refuses Produce ${Math.round(refusedAtMs - cutAtMs)} ms after the cut\n`,
      );
      const stale = await onDirect(metadataFrom);
      expect(stale.controllerId).not.toBe(isolated);
      const stalePartition = stale.topics[0]!.partitions.find((p) => p.partitionIndex === partition)!;
      expect(stalePartition.leaderId).toBe(-1);
      expect(stalePartition.errorCode).toBe(ErrorCode.LEADER_NOT_AVAILABLE);
      for (const entry of stale.topics[0]!.partitions) expect(entry.leaderId).not.toBe(isolated);

      // The producer that was writing to the isolated leader finds the new one.
      producer.stdin.end('go\n');
      expect(await producerExit, producerOutput).toBe(0);
      const written = /after ok (\d+)/.exec(producerOutput);
      expect(written, producerOutput).not.toBeNull();
      const peer = await KafkaConnection.open({ host: nodeAddress(peers[0]!), port: kafkaPort });
      connections.push(peer);
      const current = await metadataFrom(peer);
      const newLeader = current.topics[0]!.partitions.find((p) => p.partitionIndex === partition)!.leaderId;
      expect(newLeader).not.toBe(isolated);
      expect(peers).toContain(newLeader);

      // Healed: back in the quorum's view, it takes Produce again where it leads (as a follower it
      // refuses it, now because it follows).
      await cluster.healNetwork();
      await waitFor(
        'the healed node to name a leader for every partition',
        async () =>
          (await onDirect(metadataFrom)).topics[0]!.partitions.every(
            (entry) => entry.errorCode === ErrorCode.NONE && entry.leaderId >= 0,
          ),
        { timeoutMs: 30_000, intervalMs: 200 },
      );
    } finally {
      for (const connection of connections) connection.close();
      await namespaced.close();
    }
  }, 180_000);
}

/**
 * Writes 'before' to every partition (so it is connected to every leader, as a producer of the
 * topic is), then, once stdin says so, 'after' to the partition; prints each outcome.
 */
const producerScript = `
import sys
from confluent_kafka import Producer
bootstrap, topic, partition, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
producer = Producer({'bootstrap.servers': bootstrap, 'enable.idempotence': True, 'acks': 'all',
                     'message.timeout.ms': 60000, 'topic.metadata.refresh.interval.ms': 1000})
def send(value, to):
    outcome = []
    producer.produce(topic, value=value.encode(), partition=to,
                     on_delivery=lambda err, msg: outcome.append((err, msg)))
    producer.flush(90)
    err, msg = outcome[0] if outcome else ('no delivery report', None)
    if err is not None:
        print(value, 'failed', err, flush=True)
        sys.exit(1)
    return msg.offset()
for to in range(partitions):
    send('before', to)
print('before ok', flush=True)
sys.stdin.readline()
print('after ok', send('after', partition), flush=True)
`;

function batchOf(value: string): Buffer {
  return encodeRecordBatch({
    partitionLeaderEpoch: -1,
    compression: CompressionType.None,
    records: [{ key: null, value: Buffer.from(value), timestamp: Date.now() }],
  });
}
