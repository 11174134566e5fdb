// Custom assigners in kafkajs's shape: a user's assigner, written as kafkajs's documentation shows
// (a function of { cluster, groupId, logger } returning name, version, protocol and assign, with
// AssignerProtocol for the bytes), runs the group when this member leads: its metadata goes in
// JoinGroup, it gets every member's metadata and the subscribed topics, finds the partitions through
// `cluster`, and what it returns is what SyncGroup carries; this member consumes what it was given.

import { waitFor } from '@gregor/ground/testing';
import { ApiKey } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../cluster.js';
import { createLogger, logLevel } from '../logger.js';
import { type ScriptedFetchBody, ScriptedGroupCluster } from '../testing/scripted-group-cluster.js';
import { PartitionAssigners } from './assigners.js';
import { Consumer } from './consumer.js';
import { decodeAssignment, decodeSubscription, encodeAssignment } from './consumer-protocol.js';
import { AssignerProtocol, type KafkaJSAssignerCreator } from './kafkajs-assigners.js';

const partitionCount = 4;

/** The coordinator tells this member it leads a group of two, under the protocol it asks for. */
class LeaderCoordinator extends ScriptedGroupCluster {
  joinBodies: Record<string, unknown>[] = [];
  syncBodies: Record<string, unknown>[] = [];
  fetched = new Set<number>();
  constructor(private readonly protocolName: string) {
    super(new Map([['orders', Array.from({ length: partitionCount }, (_, index) => index)]]));
  }
  topicMetadata(topic: string) {
    return {
      name: topic,
      partitions: Array.from({ length: partitionCount }, (_, partitionId) => ({
        partitionErrorCode: 0,
        partitionId,
        leader: 1,
        leaderEpoch: 0,
        replicas: [1],
        isr: [1],
        offlineReplicas: [],
      })),
    };
  }
  override sendVersioned(nodeId: number, apiKey: number, body: (version: number) => Record<string, unknown>) {
    if (apiKey === ApiKey.JoinGroup) this.joinBodies.push(body(6));
    return super.sendVersioned(nodeId, apiKey, body);
  }
  override send(nodeId: number, apiKey: number, body: Record<string, unknown>) {
    if (apiKey === ApiKey.SyncGroup) {
      this.syncBodies.push(body);
      // This member's own part of what the leader (this member) sent.
      const mine = (body.assignments as { memberId: string; assignment: Buffer }[]).find(
        (entry) => entry.memberId === 'member-1',
      );
      this.assignment = new Map(decodeAssignment(mine!.assignment) as Map<string, number[]>);
    }
    return super.send(nodeId, apiKey, body);
  }
  protected override joinGroup(): unknown {
    const own = (this.joinBodies.at(-1)!.protocols as { name: string; metadata: Buffer }[]).find(
      (protocol) => protocol.name === this.protocolName,
    )!;
    return {
      errorCode: 0,
      generationId: 1,
      protocolName: this.protocolName,
      leader: 'member-1',
      memberId: 'member-1',
      members: [
        { memberId: 'member-1', groupInstanceId: null, metadata: own.metadata },
        {
          memberId: 'member-2',
          groupInstanceId: null,
          metadata: AssignerProtocol.MemberMetadata.encode({
            version: 1,
            topics: ['orders'],
            userData: Buffer.from('rack-b'),
          }),
        },
      ],
    };
  }
  protected fetch(body: ScriptedFetchBody): unknown {
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: body.topics.map((topic) => ({
        topic: topic.topic,
        partitions: topic.partitions.map(({ partition, fetchOffset }) => {
          this.fetched.add(partition);
          return {
            partitionIndex: partition,
            errorCode: 0,
            highWatermark: fetchOffset,
            abortedTransactions: null,
            records: Buffer.alloc(0),
          };
        }),
      })),
    };
  }
}

const logger = createLogger(logLevel.NOTHING, () => () => undefined);
let consumer: Consumer | undefined;

afterEach(async () => {
  await consumer?.disconnect();
  consumer = undefined;
});

describe('custom assigners in kafkajs shape', () => {
  it('a user assigner leads the group: its metadata in JoinGroup, its assignment in SyncGroup', async () => {
    const calls: { groupId: string; members: { memberId: string; userData: string }[]; topics: string[] }[] =
      [];
    // As kafkajs's documentation writes one: the last partition to member-2, the rest to the leader.
    const LastPartitionAssigner: KafkaJSAssignerCreator = ({ cluster, groupId }) => ({
      name: 'LastPartitionAssigner',
      version: 3,
      protocol({ topics }) {
        return {
          name: this.name,
          metadata: AssignerProtocol.MemberMetadata.encode({
            version: this.version,
            topics,
            userData: Buffer.from('rack-a'),
          }),
        };
      },
      async assign({ members, topics }) {
        calls.push({
          groupId,
          members: members.map(({ memberId, memberMetadata }) => ({
            memberId,
            userData: String(AssignerProtocol.MemberMetadata.decode(memberMetadata).userData),
          })),
          topics,
        });
        const partitions = cluster.findTopicPartitionMetadata('orders').map((p) => p.partitionId);
        const last = partitions.pop()!;
        return [
          {
            memberId: 'member-1',
            memberAssignment: AssignerProtocol.MemberAssignment.encode({
              version: this.version,
              assignment: { orders: partitions },
              userData: Buffer.from('note'),
            }),
          },
          {
            memberId: 'member-2',
            memberAssignment: AssignerProtocol.MemberAssignment.encode({
              version: this.version,
              assignment: { orders: [last] },
            }),
          },
        ];
      },
    });
    const coordinator = new LeaderCoordinator('LastPartitionAssigner');
    consumer = new Consumer(coordinator as unknown as Cluster, logger, {
      groupId: 'billing',
      heartbeatInterval: 10,
      maxWaitTimeInMs: 5,
      // Ours may sit beside a user's; the coordinator picked the user's.
      partitionAssigners: [LastPartitionAssigner, PartitionAssigners.roundRobin],
    });
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders' });
    await consumer.run({ eachMessage: async () => undefined });
    await waitFor('fetches of partitions 0-2', () => coordinator.fetched.size === 3, { timeoutMs: 5_000 });

    const protocols = coordinator.joinBodies[0]!.protocols as { name: string; metadata: Buffer }[];
    expect(protocols.map((protocol) => protocol.name)).toEqual([
      'LastPartitionAssigner',
      'RoundRobinAssigner',
    ]);
    expect(AssignerProtocol.MemberMetadata.decode(protocols[0]!.metadata)).toEqual({
      version: 3,
      topics: ['orders'],
      userData: Buffer.from('rack-a'),
    });
    // Ours still offers the plain subscription beside it.
    expect(decodeSubscription(protocols[1]!.metadata).topics).toEqual(['orders']);
    expect(calls).toEqual([
      {
        groupId: 'billing',
        members: [
          { memberId: 'member-1', userData: 'rack-a' },
          { memberId: 'member-2', userData: 'rack-b' },
        ],
        topics: ['orders'],
      },
    ]);
    const sent = coordinator.syncBodies[0]!.assignments as { memberId: string; assignment: Buffer }[];
    expect(
      sent.map(({ memberId, assignment }) => ({
        memberId,
        decoded: AssignerProtocol.MemberAssignment.decode(assignment),
      })),
    ).toEqual([
      {
        memberId: 'member-1',
        decoded: { version: 3, assignment: { orders: [0, 1, 2] }, userData: Buffer.from('note') },
      },
      {
        memberId: 'member-2',
        decoded: { version: 3, assignment: { orders: [3] }, userData: Buffer.alloc(0) },
      },
    ]);
    expect([...coordinator.fetched].sort()).toEqual([0, 1, 2]);
  });

  it('crashes the consumer, naming the assigner, when assign() returns something else than bytes', async () => {
    const Broken: KafkaJSAssignerCreator = () => ({
      name: 'Broken',
      version: 0,
      protocol: ({ topics }) => ({
        name: 'Broken',
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics }),
      }),
      assign: async ({ members }) =>
        members.map(({ memberId }) => ({ memberId, memberAssignment: { orders: [0] } as unknown as Buffer })),
    });
    const coordinator = new LeaderCoordinator('Broken');
    consumer = new Consumer(coordinator as unknown as Cluster, logger, {
      groupId: 'billing',
      heartbeatInterval: 10,
      maxWaitTimeInMs: 5,
      partitionAssigners: [Broken],
    });
    const crashes: Error[] = [];
    consumer.on(consumer.events.CRASH, ({ payload }) => crashes.push(payload.error));
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders' });
    await consumer.run({ eachMessage: async () => undefined });
    await waitFor('a crash', () => crashes.length > 0, { timeoutMs: 5_000 });
    expect(crashes[0]!.message).toMatch(
      /assigner Broken must return \[\{ memberId, memberAssignment: Buffer \}\]/,
    );
    expect(coordinator.syncBodies).toHaveLength(0);
  });

  it('AssignerProtocol writes what the consumer protocol reads, and reads what it writes', () => {
    const metadata = AssignerProtocol.MemberMetadata.encode({ version: 0, topics: ['a', 'b'] });
    expect(decodeSubscription(metadata)).toEqual({ topics: ['a', 'b'], userData: Buffer.alloc(0) });
    const assignment = AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: { a: [2, 0] } });
    expect(decodeAssignment(assignment)).toEqual(new Map([['a', [2, 0]]]));
    expect(AssignerProtocol.MemberAssignment.decode(encodeAssignment(new Map([['b', [1]]])))).toEqual({
      version: 0,
      assignment: { b: [1] },
      userData: null,
    });
    expect(AssignerProtocol.MemberAssignment.decode(Buffer.alloc(0))).toBeNull();
  });
});
