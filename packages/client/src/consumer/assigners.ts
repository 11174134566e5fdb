// Partition assignors the group leader runs (eager protocol): Kafka's range and round robin. Each
// gets every member's subscription and the partition counts, and returns each member's partitions.

import type { MemberAssignment, MemberSubscription } from './consumer-protocol.js';
import type { KafkaJSAssigner } from './kafkajs-assigners.js';

export interface AssignmentInput {
  /** Member id -> what it subscribes to. */
  readonly members: ReadonlyMap<string, MemberSubscription>;
  /** Topic -> partition count, for every subscribed topic that exists. */
  readonly partitionCounts: ReadonlyMap<string, number>;
}

export interface PartitionAssigner {
  /** The protocol name the group agrees on; every member must offer it. */
  readonly name: string;
  /**
   * Cooperative (KIP-429): members keep what they are not told to give up, and a partition moving
   * between members is first only taken from its owner, then given in a second rebalance.
   */
  readonly cooperative?: boolean;
  assign(input: AssignmentInput): Map<string, MemberAssignment>;
}

/** What a consumer runs: one of ours, or a user's in kafkajs's shape (kafkajs-assigners.ts). */
export type ConsumerAssigner = PartitionAssigner | KafkaJSAssigner;

/** Only our cooperative-sticky is cooperative; kafkajs has no cooperative protocol. */
export function isCooperative(assigner: ConsumerAssigner): boolean {
  return 'cooperative' in assigner && assigner.cooperative === true;
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
 * Kafka's CooperativeStickyAssignor, in its simplest form: every member keeps the partitions it owns
 * up to its share (partitions / members, the members owning most taking the remainder), the rest go
 * to the members with fewest; then a partition that another member still owns is left out of its new
 * owner's assignment this round, so its owner gives it up first and the next rebalance hands it on.
 */
export function cooperativeStickyAssigner(name = 'cooperative-sticky'): PartitionAssigner {
  return {
    name,
    cooperative: true,
    assign({ members, partitionCounts }) {
      const memberIds = [...members.keys()].sort();
      const subscribes = (memberId: string, topic: string) => members.get(memberId)!.topics.includes(topic);
      const exists = (topic: string, partition: number) => partition < (partitionCounts.get(topic) ?? 0);
      const partitionKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;
      const all: { topic: string; partition: number }[] = [];
      for (const [topic, count] of [...partitionCounts].sort(([a], [b]) => a.localeCompare(b))) {
        if (!memberIds.some((memberId) => subscribes(memberId, topic))) continue;
        for (let partition = 0; partition < count; partition++) all.push({ topic, partition });
      }
      // Who owns what now, each partition at most once (a stale claim loses to the first).
      const owner = new Map<string, string>();
      const claimed = new Map<string, { topic: string; partition: number }[]>(
        memberIds.map((id) => [id, []]),
      );
      for (const memberId of memberIds) {
        for (const [topic, partitions] of members.get(memberId)!.ownedPartitions ?? []) {
          for (const partition of partitions) {
            const key = partitionKey(topic, partition);
            if (!exists(topic, partition) || !subscribes(memberId, topic) || owner.has(key)) continue;
            owner.set(key, memberId);
            claimed.get(memberId)!.push({ topic, partition });
          }
        }
      }
      const base = Math.floor(all.length / Math.max(1, memberIds.length));
      let extra = all.length % Math.max(1, memberIds.length);
      const byClaims = [...memberIds].sort(
        (a, b) => claimed.get(b)!.length - claimed.get(a)!.length || a.localeCompare(b),
      );
      const quota = new Map<string, number>();
      for (const memberId of byClaims) {
        quota.set(memberId, base + (extra > 0 ? 1 : 0));
        if (extra > 0) extra--;
      }
      const assigned = new Map<string, { topic: string; partition: number }[]>(
        memberIds.map((id) => [id, []]),
      );
      const taken = new Set<string>();
      for (const memberId of memberIds) {
        for (const entry of claimed.get(memberId)!.slice(0, quota.get(memberId)!)) {
          assigned.get(memberId)!.push(entry);
          taken.add(partitionKey(entry.topic, entry.partition));
        }
      }
      for (const entry of all) {
        if (taken.has(partitionKey(entry.topic, entry.partition))) continue;
        const candidates = memberIds.filter((memberId) => subscribes(memberId, entry.topic));
        if (candidates.length === 0) continue;
        const underQuota = candidates.filter(
          (memberId) => assigned.get(memberId)!.length < quota.get(memberId)!,
        );
        const pool = underQuota.length > 0 ? underQuota : candidates;
        const target = pool.reduce((best, memberId) =>
          assigned.get(memberId)!.length < assigned.get(best)!.length ? memberId : best,
        );
        assigned.get(target)!.push(entry);
      }
      const assignments = emptyAssignments(members);
      for (const [memberId, entries] of assigned) {
        for (const { topic, partition } of entries) {
          const currentOwner = owner.get(partitionKey(topic, partition));
          // Still someone else's: it moves in the next rebalance, once that member gave it up.
          if (currentOwner !== undefined && currentOwner !== memberId) continue;
          add(assignments, memberId, topic, partition);
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
  cooperativeSticky: cooperativeStickyAssigner('cooperative-sticky'),
};
