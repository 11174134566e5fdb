// Custom partition assigners against three Gregor broker processes (issue #16: they were tested
// against a scripted coordinator only, and never cooperative).
//   - kafkajs's shape, `({ cluster }) => ({ name, version, protocol({ topics }), assign(...) })`:
//     each member says in its JoinGroup user data which topic it wants, and the leader's assigner
//     gives every partition of that topic to it (no built-in assignor looks at user data). Each
//     member holds and reads exactly its topic, and the broker hands out what the leader chose.
//   - A cooperative one (`cooperative: true`, as assigners.ts declares it): the member that owns
//     partitions keeps the even ones and a newcomer gets the odd ones. When a second member joins,
//     the first joins that rebalance still owning all four partitions (no full revoke) and keeps
//     the even ones; the odd ones go to no one in that generation and reach the newcomer only in
//     the next, after the first member stopped claiming them. The first member reads every record
//     of the partitions it kept exactly once.

import { waitFor } from '@gregor/ground/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from '../admin.js';
import type { AssignmentInput, PartitionAssigner } from '../consumer/assigners.js';
import type { Consumer } from '../consumer/consumer.js';
import type { MemberAssignment } from '../consumer/consumer-protocol.js';
import type { GroupJoinPayload, InstrumentationEvent } from '../consumer/instrumentation.js';
import { AssignerProtocol, type KafkaJSAssignerCreator } from '../consumer/kafkajs-assigners.js';
import type { Kafka } from '../kafka.js';
import {
  type GroupTestCluster,
  startGroupTestCluster,
  stopGroupTestCluster,
} from '../testing/broker-processes.js';

const waitOptions = { timeoutMs: 60_000, intervalMs: 100 };

let kafka: Kafka;
let admin: Admin;
let cluster: GroupTestCluster | undefined;

beforeAll(async () => {
  cluster = await startGroupTestCluster('assigners-it');
  ({ kafka, admin } = cluster);
}, 120_000);

afterAll(async () => {
  await stopGroupTestCluster(cluster);
});

interface Member {
  readonly consumer: Consumer;
  readonly joins: GroupJoinPayload[];
  /** "topic:partition:offset" in the order eachMessage saw them. */
  readonly read: string[];
}

async function startMember(
  groupId: string,
  topics: readonly string[],
  assigner: PartitionAssigner | KafkaJSAssignerCreator,
): Promise<Member> {
  const consumer = kafka.consumer({
    groupId,
    partitionAssigners: [assigner],
    sessionTimeout: 30_000,
    heartbeatInterval: 300,
    maxWaitTimeInMs: 100,
  });
  const member: Member = { consumer, joins: [], read: [] };
  consumer.on(consumer.events.GROUP_JOIN, (event: InstrumentationEvent<GroupJoinPayload>) => {
    member.joins.push(event.payload);
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [...topics], fromBeginning: true });
  await consumer.run({
    autoCommitInterval: 100,
    eachMessage: async ({ topic, partition, message }) => {
      member.read.push(`${topic}:${partition}:${message.offset}`);
    },
  });
  return member;
}

/** What the member holds now, "topic:partition" sorted. */
const held = (member: Member) =>
  member.consumer
    .assignments()
    .flatMap(({ topic, partitions }) => partitions.map((partition) => `${topic}:${partition}`))
    .sort();

const readFrom = (member: Member, topic: string, partition: number) =>
  member.read
    .filter((entry) => entry.startsWith(`${topic}:${partition}:`))
    .map((entry) => entry.split(':')[2]);

async function produce(topic: string, partitions: readonly number[], perPartition: number): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    acks: -1,
    messages: partitions.flatMap((partition) =>
      Array.from({ length: perPartition }, (_, index) => ({ partition, value: `${partition}-${index}` })),
    ),
  });
  await producer.disconnect();
}

/**
 * kafkajs's shape: `wanted` goes in this member's JoinGroup user data; the leader's assign gives
 * every partition of a topic to the member that wants it, nothing to the others.
 */
function wantsTopicAssigner(wanted: string): KafkaJSAssignerCreator {
  return ({ cluster }) => ({
    name: 'wants-topic',
    version: 1,
    protocol: ({ topics }) => ({
      name: 'wants-topic',
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.from(wanted) }),
    }),
    async assign({ members, topics }) {
      return members.map(({ memberId, memberMetadata }) => {
        const wants = AssignerProtocol.MemberMetadata.decode(memberMetadata).userData?.toString();
        const assignment: Record<string, number[]> = {};
        for (const topic of topics) {
          if (topic === wants)
            assignment[topic] = cluster.findTopicPartitionMetadata(topic).map((p) => p.partitionId);
        }
        return {
          memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment }),
        };
      });
    },
  });
}

describe('a kafkajs-shaped custom assigner', () => {
  it('places every partition of a topic with the member whose user data asks for it', async () => {
    const groupId = 'wants-topic-group';
    const [ordersTopic, paymentsTopic] = ['wanted-orders', 'wanted-payments'];
    await admin.createTopics({
      topics: [ordersTopic, paymentsTopic].map((topic) => ({
        topic,
        numPartitions: 3,
        replicationFactor: 3,
      })),
    });
    const topics = [ordersTopic, paymentsTopic];
    const orders = await startMember(groupId, topics, wantsTopicAssigner(ordersTopic));
    const payments = await startMember(groupId, topics, wantsTopicAssigner(paymentsTopic));
    const ordersHeld = [0, 1, 2].map((partition) => `${ordersTopic}:${partition}`);
    const paymentsHeld = [0, 1, 2].map((partition) => `${paymentsTopic}:${partition}`);
    try {
      await waitFor(
        'each member holds every partition of its topic, in one generation',
        () =>
          held(orders).join() === ordersHeld.join() &&
          held(payments).join() === paymentsHeld.join() &&
          orders.joins.at(-1)?.generationId === payments.joins.at(-1)?.generationId,
        waitOptions,
      );
      expect(orders.joins.at(-1)!.groupProtocol).toBe('wants-topic');
      // The broker hands out what the leader's assigner chose: DescribeGroups says the same.
      const { groups } = await admin.describeGroups([groupId]);
      expect(groups[0]!.protocol).toBe('wants-topic');
      const described = Object.fromEntries(
        groups[0]!.members.map((member) => [
          member.memberId,
          AssignerProtocol.MemberAssignment.decode(member.memberAssignment)?.assignment,
        ]),
      );
      expect(described).toEqual({
        [orders.joins.at(-1)!.memberId]: { [ordersTopic]: [0, 1, 2] },
        [payments.joins.at(-1)!.memberId]: { [paymentsTopic]: [0, 1, 2] },
      });

      // Each reads exactly the records of its own topic.
      await produce(ordersTopic, [0, 1, 2], 2);
      await produce(paymentsTopic, [0, 1, 2], 2);
      await waitFor('every record read', () => orders.read.length + payments.read.length === 12, waitOptions);
      expect(orders.read.every((entry) => entry.startsWith(`${ordersTopic}:`))).toBe(true);
      expect(payments.read.every((entry) => entry.startsWith(`${paymentsTopic}:`))).toBe(true);
      expect(orders.read).toHaveLength(6);
    } finally {
      await Promise.all([orders.consumer.disconnect(), payments.consumer.disconnect()]);
    }
  });
});

interface AssignCall {
  /** Member id -> the partitions its subscription says it owns, of `topic`. */
  readonly owned: Map<string, number[]>;
  readonly result: Map<string, number[]>;
}

/**
 * Cooperative (KIP-429): the member that owns partitions (the first in member id order, if none
 * does) should hold the even partitions and the next member the odd ones, one member all of them.
 * A partition whose target is not the member that owns it goes to no one this round: its owner
 * gives it up, and the next rebalance hands it on.
 */
function evenOddCooperativeAssigner(calls: AssignCall[]): PartitionAssigner {
  return {
    name: 'even-odd-cooperative',
    cooperative: true,
    assign({ members, partitionCounts }: AssignmentInput) {
      const owns = (memberId: string) =>
        [...(members.get(memberId)!.ownedPartitions ?? new Map<string, readonly number[]>()).values()].some(
          (partitions) => partitions.length > 0,
        );
      const ordered = [...members.keys()].sort(
        (a, b) => Number(owns(b)) - Number(owns(a)) || a.localeCompare(b),
      );
      const owner = new Map<string, string>();
      for (const [memberId, subscription] of members) {
        for (const [topic, partitions] of subscription.ownedPartitions ?? [])
          for (const partition of partitions) owner.set(`${topic}:${partition}`, memberId);
      }
      const assignments = new Map<string, Map<string, number[]>>(
        [...members.keys()].map((memberId) => [memberId, new Map()]),
      );
      for (const [topic, count] of partitionCounts) {
        for (let partition = 0; partition < count; partition++) {
          const target = ordered[ordered.length === 1 ? 0 : partition % 2]!;
          const current = owner.get(`${topic}:${partition}`);
          if (current !== undefined && current !== target) continue;
          const topics = assignments.get(target)!;
          topics.set(topic, [...(topics.get(topic) ?? []), partition]);
        }
      }
      const flatten = (assignment: MemberAssignment | undefined) =>
        [...(assignment ?? new Map<string, readonly number[]>()).values()].flat().sort();
      calls.push({
        owned: new Map([...members].map(([memberId, s]) => [memberId, flatten(s.ownedPartitions)])),
        result: new Map([...assignments].map(([memberId, assignment]) => [memberId, flatten(assignment)])),
      });
      return assignments;
    },
  };
}

describe('a custom cooperative assigner', () => {
  it('moves only what moves when a second member joins: revoked from the first before given to the second', async () => {
    const groupId = 'even-odd-group';
    const topic = 'even-odd-orders';
    await admin.createTopics({ topics: [{ topic, numPartitions: 4, replicationFactor: 3 }] });
    await produce(topic, [0, 1, 2, 3], 3);
    const calls: AssignCall[] = [];
    const first = await startMember(groupId, [topic], evenOddCooperativeAssigner(calls));
    let second: Member | undefined;
    try {
      await waitFor(
        'the first member read everything',
        () => held(first).length === 4 && first.read.length === 12,
        waitOptions,
      );
      const firstId = first.joins.at(-1)!.memberId;
      const callsBefore = calls.length;

      second = await startMember(groupId, [topic], evenOddCooperativeAssigner(calls));
      const joined = second;
      await waitFor(
        'the second member holds the odd partitions',
        () => held(joined).join() === `${topic}:1,${topic}:3`,
        waitOptions,
      );
      const secondId = joined.joins.at(-1)!.memberId;
      const rounds = calls.slice(callsBefore);
      // The rebalance the second member's join started: the first still owns all four (it did not
      // give everything up to join), keeps the even ones, and the odd ones go to no one.
      expect(rounds[0]!.owned.get(firstId)).toEqual([0, 1, 2, 3]);
      expect(rounds[0]!.owned.get(secondId)).toEqual([]);
      expect(rounds[0]!.result.get(firstId)).toEqual([0, 2]);
      expect(rounds[0]!.result.get(secondId)).toEqual([]);
      // The next one: the first member gave up the odd ones, and only now they are handed on.
      expect(rounds[1]!.owned.get(firstId)).toEqual([0, 2]);
      expect(rounds[1]!.result.get(firstId)).toEqual([0, 2]);
      expect(rounds[1]!.result.get(secondId)).toEqual([1, 3]);
      expect(rounds).toHaveLength(2);

      // What each member was told, generation by generation: the first never lost an even
      // partition; in the generation where it held only the even ones, the second held nothing.
      const firstJoins = first.joins.slice(-2);
      const secondJoins = joined.joins;
      expect(firstJoins.map((join) => join.memberAssignment)).toEqual([
        { [topic]: [0, 2] },
        { [topic]: [0, 2] },
      ]);
      expect(secondJoins.map((join) => [join.generationId, join.memberAssignment])).toEqual([
        [firstJoins[0]!.generationId, {}],
        [firstJoins[1]!.generationId, { [topic]: [1, 3] }],
      ]);
      expect(firstJoins[1]!.generationId).toBeGreaterThan(firstJoins[0]!.generationId);
      expect(held(first)).toEqual([`${topic}:0`, `${topic}:2`]);

      // The first member goes on reading the partitions it kept from where it was: each record of
      // them once, in order; the second reads the moved ones from their committed offsets.
      await produce(topic, [0, 1, 2, 3], 2);
      await waitFor(
        'the new records read',
        () => readFrom(first, topic, 0).length === 5 && readFrom(first, topic, 2).length === 5,
        waitOptions,
      );
      await waitFor(
        'the moved partitions read by the second member',
        () => readFrom(joined, topic, 1).length === 2 && readFrom(joined, topic, 3).length === 2,
        waitOptions,
      );
      for (const partition of [0, 2])
        expect(readFrom(first, topic, partition)).toEqual(['0', '1', '2', '3', '4']);
      for (const partition of [1, 3]) {
        expect(readFrom(first, topic, partition)).toEqual(['0', '1', '2']);
        expect(readFrom(joined, topic, partition)).toEqual(['3', '4']);
      }
      expect(joined.read.every((entry) => /:(1|3):/.test(entry))).toBe(true);
    } finally {
      await Promise.all([first.consumer.disconnect(), second?.consumer.disconnect()]);
    }
  });
});
