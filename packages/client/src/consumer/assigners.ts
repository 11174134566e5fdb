// Partition assignors the group leader runs (eager protocol): Kafka's range and round robin. Each
// gets every member's subscription and the partition counts, and returns each member's partitions.

import type { MemberAssignment, MemberSubscription } from './consumer-protocol.js';

export interface AssignmentInput {
  /** Member id -> what it subscribes to. */
  readonly members: ReadonlyMap<string, MemberSubscription>;
  /** Topic -> partition count, for every subscribed topic that exists. */
  readonly partitionCounts: ReadonlyMap<string, number>;
}

export interface PartitionAssigner {
  /** The protocol name the group agrees on; every member must offer it. */
  readonly name: string;
  assign(input: AssignmentInput): Map<string, MemberAssignment>;
}

function emptyAssignments(
  members: ReadonlyMap<string, MemberSubscription>,
): Map<string, Map<string, number[]>> {
  return new Map([...members.keys()].map((memberId) => [memberId, new Map<string, number[]>()]));
}

function add(
  assignments: Map<string, Map<string, number[]>>,
  memberId: string,
  topic: string,
  partition: number,
) {
  const topics = assignments.get(memberId)!;
  topics.set(topic, [...(topics.get(topic) ?? []), partition]);
}

/** Kafka's RangeAssignor: per topic, consecutive ranges to members in member id order. */
export function rangeAssigner(name = 'range'): PartitionAssigner {
  return {
    name,
    assign({ members, partitionCounts }) {
      const assignments = emptyAssignments(members);
      for (const [topic, count] of [...partitionCounts].sort(([a], [b]) => a.localeCompare(b))) {
        const subscribers = [...members]
          .filter(([, subscription]) => subscription.topics.includes(topic))
          .map(([memberId]) => memberId)
          .sort();
        if (subscribers.length === 0) continue;
        const perMember = Math.floor(count / subscribers.length);
        const extra = count % subscribers.length;
        let next = 0;
        subscribers.forEach((memberId, index) => {
          const take = perMember + (index < extra ? 1 : 0);
          for (let partition = next; partition < next + take; partition++)
            add(assignments, memberId, topic, partition);
          next += take;
        });
      }
      return assignments;
    },
  };
}

/**
 * Kafka's RoundRobinAssignor: every topic-partition in order, each to the next member (in member id
 * order) that subscribes to its topic.
 */
export function roundRobinAssigner(name = 'roundrobin'): PartitionAssigner {
  return {
    name,
    assign({ members, partitionCounts }) {
      const assignments = emptyAssignments(members);
      const memberIds = [...members.keys()].sort();
      let cursor = 0;
      for (const [topic, count] of [...partitionCounts].sort(([a], [b]) => a.localeCompare(b))) {
        for (let partition = 0; partition < count; partition++) {
          for (let tried = 0; tried < memberIds.length; tried++) {
            const memberId = memberIds[cursor % memberIds.length]!;
            cursor++;
            if (members.get(memberId)!.topics.includes(topic)) {
              add(assignments, memberId, topic, partition);
              break;
            }
          }
        }
      }
      return assignments;
    },
  };
}

/**
 * kafkajs's names. `roundRobin` speaks under kafkajs's protocol name, so it shares a group with
 * kafkajs members; `javaRoundRobin` and `range` under Java's and librdkafka's names.
 */
export const PartitionAssigners = {
  roundRobin: roundRobinAssigner('RoundRobinAssigner'),
  javaRoundRobin: roundRobinAssigner('roundrobin'),
  range: rangeAssigner('range'),
};
