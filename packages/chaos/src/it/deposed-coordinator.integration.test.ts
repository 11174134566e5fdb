// A group coordinator deposed while alive, against real processes (the chaos campaign's seed
// 20261205): three Gregor nodes on 127.0.1.1-3 (the campaign's LocalCluster and NodeNetwork), the
// active controller's packets to the coordinator dropped one way, then the coordinator's
// `__consumer_offsets` partition handed to the controller by a reassignment and a preferred
// election. The coordinator keeps its leader lease (its own requests to the controller, heartbeats
// included, are still answered on the connections it opened) but never receives the Raft messages
// that carry the change, so it still believes it leads. It must answer OffsetFetch and
// DescribeGroups NOT_COORDINATOR rather than from its memory (which, in the campaign, lacked a
// commit its successor had completed). Once healed, it applies the change and the new coordinator
// serves the group's offsets.
//
// Like the leader-lease test, it runs itself again inside `unshare --net --mount --pid` (root
// only), where iptables and tmpfs mounts touch nothing of the machine.

import { fileURLToPath } from 'node:url';
import { KafkaConnection } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { expect, it } from 'vitest';
import { kafkaPort } from '../driver/local-cluster.js';
import { nodeAddress } from '../driver/network.js';
import { NamespacedCluster } from '../testing/namespaced-cluster.js';
import { insideNamespaces, itRunsInsideNamespaces } from '../testing/namespaced-test.js';

const thisFile = fileURLToPath(import.meta.url);
const insideVariable = 'GREGOR_DEPOSED_COORDINATOR_TEST_INSIDE';
const topic = 'orders';
const offsetsTopic = '__consumer_offsets';
const nodeCount = 3;
/** Kafka's default offsets.topic.num.partitions, which the nodes run with. */
const offsetsPartitionCount = 50;
const committedOffset = 17n;

/** Kafka's coordinator partition: Utils.abs(groupId.hashCode()) % partitions, Java's String.hashCode. */
function coordinatorPartition(groupId: string): number {
  let hash = 0;
  for (let index = 0; index < groupId.length; index++)
    hash = (Math.imul(31, hash) + groupId.charCodeAt(index)) | 0;
  return (hash === -2147483648 ? 0 : Math.abs(hash)) % offsetsPartitionCount;
}

if (!insideNamespaces(insideVariable)) {
  itRunsInsideNamespaces(
    'a deposed coordinator refuses reads of committed offsets (run inside namespaces of its own)',
    thisFile,
    insideVariable,
    'the deposed coordinator refused OffsetFetch',
  );
} else {
  it('a coordinator cut off from the Raft leader but holding its lease answers NOT_COORDINATOR once deposed, not from memory', async () => {
    const namespaced = new NamespacedCluster({ name: 'deposed', nodeCount, topic, partitions: 1 });
    const { cluster } = namespaced;
    const connections = new Map<number, KafkaConnection>();
    /** A connection of its own to one node (opened again should it close). */
    const on = async <T>(node: number, use: (connection: KafkaConnection) => Promise<T>): Promise<T> => {
      let connection = connections.get(node);
      if (connection === undefined || connection.isClosed) {
        connection = await KafkaConnection.open({ host: nodeAddress(node), port: kafkaPort });
        connections.set(node, connection);
      }
      try {
        return await use(connection);
      } catch (error) {
        connection.close();
        connections.delete(node);
        throw error;
      }
    };
    const metadata = (node: number) =>
      on(node, (connection) =>
        connection.call(ApiKey.Metadata, 9, {
          topics: [{ name: offsetsTopic }],
          allowAutoTopicCreation: false,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        }),
      );
    const offsetFetch = (node: number, groupId: string) =>
      on(node, (connection) =>
        connection.call(ApiKey.OffsetFetch, 5, {
          groupId,
          topics: [{ name: topic, partitionIndexes: [0] }],
          requireStable: false,
        }),
      );
    try {
      await namespaced.start();
      // FindCoordinator creates __consumer_offsets; wait until its partitions are led with full ISRs.
      await waitFor(
        '__consumer_offsets led with full ISRs',
        async () => {
          const found = await on(1, (connection) =>
            connection.call(ApiKey.FindCoordinator, 1, { key: 'warm-up', keyType: 0 }),
          ).catch(() => undefined);
          if (found?.errorCode !== ErrorCode.NONE) return false;
          const partitions = (await metadata(1)).topics[0]?.partitions ?? [];
          return (
            partitions.length === offsetsPartitionCount &&
            partitions.every((p) => p.leaderId > 0 && p.isrNodes.length === nodeCount)
          );
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      const view = await metadata(1);
      const controller = view.controllerId;
      const leaderOf = (partition: number) =>
        view.topics[0]!.partitions.find((p) => p.partitionIndex === partition)!.leaderId;
      // A group whose coordinator is not the active controller.
      const groupId = Array.from({ length: 200 }, (_, index) => `deposed-${index}`).find(
        (candidate) => leaderOf(coordinatorPartition(candidate)) !== controller,
      )!;
      const partition = coordinatorPartition(groupId);
      const coordinator = leaderOf(partition);
      process.stdout.write(
        `group ${groupId}: offsets partition ${partition}, coordinator ${coordinator}, controller ${controller}\n`,
      );

      // A commit without a generation (as an admin tool's), replicated to every replica.
      await waitFor(
        'the commit at the coordinator',
        async () => {
          const committed = await on(coordinator, (connection) =>
            connection.call(ApiKey.OffsetCommit, 8, {
              groupId,
              generationId: -1,
              memberId: '',
              groupInstanceId: null,
              topics: [
                {
                  name: topic,
                  partitions: [
                    { partitionIndex: 0, committedOffset, committedLeaderEpoch: -1, committedMetadata: '' },
                  ],
                },
              ],
            }),
          ).catch(() => undefined);
          return committed?.topics[0]?.partitions[0]?.errorCode === ErrorCode.NONE;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      const before = await offsetFetch(coordinator, groupId);
      expect(before.errorCode).toBe(ErrorCode.NONE);
      expect(before.topics[0]!.partitions[0]!.committedOffset).toBe(committedOffset);

      // The controller's packets to the coordinator are dropped from now on (the campaign's one-way
      // fault): the coordinator's requests to it, heartbeats included, are still answered.
      await cluster.cut([[controller, coordinator]]);
      // The partition's leadership moves to the controller: replicas reordered, preferred election.
      const others = [1, 2, 3].filter((node) => node !== controller);
      const reassigned = await on(controller, (connection) =>
        connection.call(ApiKey.AlterPartitionReassignments, 0, {
          timeoutMs: 10_000,
          topics: [
            {
              name: offsetsTopic,
              partitions: [{ partitionIndex: partition, replicas: [controller, ...others] }],
            },
          ],
        }),
      );
      expect(reassigned.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
      await waitFor(
        'the controller to lead the partition',
        async () => {
          const elected = await on(controller, (connection) =>
            connection.call(ApiKey.ElectLeaders, 1, {
              electionType: 0,
              topicPartitions: [{ topic: offsetsTopic, partitionId: [partition] }],
              timeoutMs: 10_000,
            }),
          );
          const errorCode = elected.replicaElectionResults[0]!.partitionResult[0]!.errorCode;
          return errorCode === ErrorCode.NONE || errorCode === ErrorCode.ELECTION_NOT_NEEDED;
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      const moved = await metadata(controller);
      expect(moved.topics[0]!.partitions.find((p) => p.partitionIndex === partition)!.leaderId).toBe(
        controller,
      );

      // The scenario holds: the old coordinator still names itself leader (it has not applied the
      // election) and still holds its lease (else it would name no leader).
      const stale = await metadata(coordinator);
      expect(stale.topics[0]!.partitions.find((p) => p.partitionIndex === partition)!.leaderId).toBe(
        coordinator,
      );

      const refused = await offsetFetch(coordinator, groupId);
      expect(refused.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
      expect(refused.topics[0]!.partitions[0]!.committedOffset).toBe(-1n);
      const described = await on(coordinator, (connection) =>
        connection.call(ApiKey.DescribeGroups, 5, { groups: [groupId], includeAuthorizedOperations: false }),
      );
      expect(described.groups[0]!.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
      const stillStale = await metadata(coordinator);
      expect(stillStale.topics[0]!.partitions.find((p) => p.partitionIndex === partition)!.leaderId).toBe(
        coordinator,
      );
      process.stdout.write(
        'the deposed coordinator refused OffsetFetch while it still named itself leader\n',
      );

      // Healed: it applies the election, and the new coordinator serves the commit.
      await cluster.healNetwork();
      await waitFor(
        'the old coordinator to apply the election',
        async () =>
          (await metadata(coordinator)).topics[0]!.partitions.find((p) => p.partitionIndex === partition)!
            .leaderId === controller,
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      expect((await offsetFetch(coordinator, groupId)).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
      const served = await waitFor(
        'the new coordinator to serve the commit',
        async () => {
          const fetched = await offsetFetch(controller, groupId);
          return fetched.errorCode === ErrorCode.NONE ? fetched : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      expect(served!.topics[0]!.partitions[0]!.committedOffset).toBe(committedOffset);
    } finally {
      for (const connection of connections.values()) connection.close();
      await namespaced.close();
    }
  }, 180_000);
}
